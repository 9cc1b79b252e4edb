using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

public sealed class BackpressureGateTests
{
    private static void Take(BackpressureGate gate, int records)
    {
        for (var i = 0; i < records; i++)
        {
            gate.Taken();
        }
    }

    [Fact]
    public void A_taken_record_is_processing_until_released_and_awaits_its_commit_until_completed()
    {
        var gate = new BackpressureGate(maxProcessing: 10);
        Take(gate, 3);
        Assert.Equal((3L, 3L), (gate.Processing, gate.AwaitingCommit));

        gate.OnRecordReleased();
        Assert.Equal((2L, 3L), (gate.Processing, gate.AwaitingCommit));

        gate.OnRecordCompleted();
        Assert.Equal((2L, 2L), (gate.Processing, gate.AwaitingCommit));
        Assert.Equal((3L, 3L), (gate.PeakProcessing, gate.PeakAwaitingCommit));
    }

    [Fact]
    public void Peaks_keep_the_most_ever_counted_at_once()
    {
        var gate = new BackpressureGate(maxProcessing: 10);
        Take(gate, 4);
        for (var i = 0; i < 4; i++)
        {
            gate.RecordReleased();
        }

        gate.RecordCompleted();
        Take(gate, 2);

        Assert.Equal((2L, 5L), (gate.Processing, gate.AwaitingCommit));
        Assert.Equal((4L, 5L), (gate.PeakProcessing, gate.PeakAwaitingCommit));
    }

    [Fact]
    public void Busy_at_the_bound_of_records_being_processed()
    {
        var gate = new BackpressureGate(maxProcessing: 4);
        Take(gate, 3);
        Assert.False(gate.Busy);
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep());

        gate.Taken();
        Assert.True(gate.Busy);
        Assert.Equal(BackpressureGate.Step.Pause, gate.NextStep());
    }

    [Fact]
    public void Busy_at_four_times_the_bound_awaiting_commit_even_when_nothing_is_being_processed()
    {
        var gate = new BackpressureGate(maxProcessing: 4);
        for (var i = 0; i < 15; i++)
        {
            gate.Taken();
            gate.RecordReleased(); // processed; its state not yet acknowledged
        }

        Assert.Equal((0L, 15L), (gate.Processing, gate.AwaitingCommit));
        Assert.False(gate.Busy);

        gate.Taken();
        gate.RecordReleased();
        Assert.True(gate.Busy);
    }

    [Fact]
    public void A_pause_is_counted_once_and_resumes_only_at_half_the_bound_processing_and_twice_the_bound_awaiting_commit()
    {
        var gate = new BackpressureGate(maxProcessing: 4);
        Take(gate, 4);
        Assert.Equal(BackpressureGate.Step.Pause, gate.NextStep());
        Assert.True(gate.Paused());
        Assert.False(gate.Paused()); // paused again (a seek back): not a new pause
        Assert.Equal((true, 1L), (gate.IsPaused, gate.Pauses));

        gate.RecordReleased();
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep()); // 3 processing: not relieved yet
        gate.RecordReleased();
        Assert.True(gate.Relieved); // 2 processing, 4 awaiting commit
        Assert.Equal(BackpressureGate.Step.Resume, gate.NextStep());

        gate.Resumed();
        Assert.Equal((false, 1L), (gate.IsPaused, gate.Resumes));
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep());
    }

    [Fact]
    public void Not_relieved_while_more_than_twice_the_bound_awaits_commit()
    {
        var gate = new BackpressureGate(maxProcessing: 2);
        Take(gate, 8);
        for (var i = 0; i < 8; i++)
        {
            gate.RecordReleased();
        }

        Assert.True(gate.Busy); // 8 awaiting commit: four times the bound
        gate.Paused();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(BackpressureGate.Step.None, gate.NextStep());
            gate.RecordCompleted();
        }

        Assert.Equal(4L, gate.AwaitingCommit);
        Assert.Equal(BackpressureGate.Step.Resume, gate.NextStep());
    }

    [Fact]
    public void Partitions_assigned_while_paused_are_paused_too_and_that_is_no_new_pause()
    {
        var gate = new BackpressureGate(maxProcessing: 2);
        gate.AssignmentChanged();
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep()); // not paused: new partitions are to run

        Take(gate, 2);
        Assert.True(gate.Paused());
        gate.AssignmentChanged();
        Assert.Equal(BackpressureGate.Step.PauseAssigned, gate.NextStep());
        Assert.False(gate.Paused());
        Assert.Equal(1L, gate.Pauses);
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep());
    }

    [Fact]
    public void The_bound_must_be_at_least_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackpressureGate(0));
    }
}

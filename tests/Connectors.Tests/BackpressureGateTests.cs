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
    public void Records_awaiting_commit_have_a_bound_of_their_own_and_the_consumer_resumes_at_half_of_it()
    {
        // Processed records wait for their key's checkpoint by design: about the rate times the state interval of them.
        var gate = new BackpressureGate(maxProcessing: 10, maxAwaitingCommit: 100);
        TakeProcessed(gate, 99);
        Assert.False(gate.Busy); // 4 × 10 would have paused at 40
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep());

        TakeProcessed(gate, 1);
        Assert.Equal(BackpressureGate.Step.Pause, gate.NextStep());
        gate.Paused();
        Assert.True(gate.StateWriteDue(T0)); // paused, and over half the bound awaiting

        Complete(gate, 49);
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep()); // 51 awaiting: not yet half
        Assert.True(gate.StateWriteDue(T0 + TimeSpan.FromSeconds(1))); // still over half: asked again

        Complete(gate, 1);
        Assert.Equal(BackpressureGate.Step.Resume, gate.NextStep());
        Assert.False(gate.StateWriteDue(T0 + TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void The_bound_of_records_awaiting_commit_is_at_least_the_bound_of_records_being_processed()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackpressureGate(maxProcessing: 10, maxAwaitingCommit: 9));
    }

    [Fact]
    public void The_bound_must_be_at_least_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackpressureGate(0));
    }
    /// <summary>Processed records waiting for their state: taken and released, not completed.</summary>
    private static void TakeProcessed(BackpressureGate gate, int records)
    {
        for (var i = 0; i < records; i++)
        {
            gate.Taken();
            gate.RecordReleased();
        }
    }

    private static void Complete(BackpressureGate gate, int records)
    {
        for (var i = 0; i < records; i++)
        {
            gate.RecordCompleted();
        }
    }

    private static readonly DateTime T0 = new(2026, 12, 3, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>Pauses the gate at four times the bound of records waiting for their state.</summary>
    private static BackpressureGate PausedByRecordsAwaitingCommit()
    {
        var gate = new BackpressureGate(maxProcessing: 10);
        TakeProcessed(gate, 40);
        Assert.Equal(BackpressureGate.Step.Pause, gate.NextStep());
        gate.Paused();
        return gate;
    }

    [Fact]
    public void While_the_consumer_runs_state_is_not_asked_for_however_many_records_await_commit()
    {
        // An ask brings forward the checkpoints of every key with changed state at once: a running engine spreads them.
        var gate = new BackpressureGate(maxProcessing: 10);
        TakeProcessed(gate, 39);
        Assert.False(gate.Busy);
        Assert.False(gate.StateWriteDue(T0));
        Assert.Equal(0, gate.StateWritesAsked);
    }

    [Fact]
    public void A_consumer_paused_by_records_awaiting_commit_asks_for_state_at_once()
    {
        var gate = PausedByRecordsAwaitingCommit();
        Assert.True(gate.StateWriteDue(T0));
        Assert.False(gate.StateWriteDue(T0 + TimeSpan.FromMilliseconds(1)));
        Assert.Equal(1, gate.StateWritesAsked);
    }

    [Fact]
    public void While_records_awaiting_commit_keep_the_consumer_paused_state_is_asked_for_again()
    {
        // State that changed after an ask is not covered by it: without asking again, records that wait for it could keep
        // the count above the resume line until their checkpoint interval is up.
        var gate = PausedByRecordsAwaitingCommit();
        Assert.True(gate.StateWriteDue(T0));
        Complete(gate, 15); // 25 left: still above the resume line
        Assert.Equal(BackpressureGate.Step.None, gate.NextStep());
        Assert.True(gate.StateWriteDue(T0 + BackpressureGate.StateWriteRepeat));
        Assert.Equal(2, gate.StateWritesAsked);
    }

    [Fact]
    public void Once_records_awaiting_commit_are_down_to_the_resume_line_state_is_not_asked_for()
    {
        var gate = PausedByRecordsAwaitingCommit();
        Assert.True(gate.StateWriteDue(T0));
        Complete(gate, 20);
        Assert.False(gate.StateWriteDue(T0 + BackpressureGate.StateWriteRepeat));
        Assert.Equal(BackpressureGate.Step.Resume, gate.NextStep());
    }
}

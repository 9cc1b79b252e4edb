using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Kommune.Engine.Actors;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// The clock that tells keys when their state is due to be written, on virtual time (Akka's TestScheduler runs what is
/// due inside <see cref="TestScheduler.Advance(TimeSpan)"/>, so what the test actor has afterwards is all it was told).
/// The clock counts its ticks, not the wall clock's time, so time passes here as a real scheduler's does: tick by tick.
/// </summary>
public sealed class CheckpointClockTests(ITestOutputHelper output)
    : TestKit("""akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit" """, output)
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    private TestScheduler Time => (TestScheduler)Sys.Scheduler;

    /// <summary>Lets <paramref name="time"/> pass, a whole number of 20 ms ticks.</summary>
    private void Pass(TimeSpan time)
    {
        for (var passed = TimeSpan.Zero; passed < time; passed += Tick)
        {
            Time.Advance(Tick);
        }
    }

    [Fact]
    public void A_key_is_told_at_its_phases_tick_at_most_one_interval_after_it_changed()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(20), clock.Tick);

        Pass(TimeSpan.FromMilliseconds(40));
        clock.Due(TestActor, TimeSpan.FromSeconds(1), phase: 0.5); // its partition's keys are written at 500 ms of each second
        Pass(TimeSpan.FromMilliseconds(440)); // a tick early
        Assert.False(HasMessages);

        Pass(Tick); // at 500 ms, 460 ms after the change
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
        Pass(TimeSpan.FromSeconds(5));
        Assert.False(HasMessages);
        Assert.Equal(0, clock.Waiting);
    }

    [Fact]
    public void A_key_whose_phase_has_just_passed_waits_the_whole_interval_and_no_longer()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        Pass(TimeSpan.FromMilliseconds(520));
        clock.Due(TestActor, TimeSpan.FromSeconds(1), phase: 0.5);
        Pass(TimeSpan.FromMilliseconds(960));
        Assert.False(HasMessages);

        Pass(Tick); // at 1,500 ms, 980 ms after the change
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void The_keys_of_one_partition_are_told_together_and_other_partitions_at_their_own_ticks()
    {
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        var other = CreateTestProbe();
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        Pass(TimeSpan.FromMilliseconds(600));
        clock.Due(first.Ref, TimeSpan.FromSeconds(1), phase: 0.5); // its partition's keys are written at 500 ms of each second
        Pass(TimeSpan.FromMilliseconds(600));
        clock.Due(second.Ref, TimeSpan.FromSeconds(1), phase: 0.5); // at 1,200 ms: the same partition, 600 ms later
        clock.Due(other.Ref, TimeSpan.FromSeconds(1), phase: 0.8); // another partition's, at 800 ms

        Pass(TimeSpan.FromMilliseconds(280)); // 1,480 ms
        Assert.False(first.HasMessages || second.HasMessages || other.HasMessages);
        Pass(Tick); // 1,500 ms: both keys of the one partition
        first.ExpectMsg<Checkpoint>(TimeSpan.Zero);
        second.ExpectMsg<Checkpoint>(TimeSpan.Zero);
        Assert.False(other.HasMessages);

        Pass(TimeSpan.FromMilliseconds(280)); // 1,780 ms
        Assert.False(other.HasMessages);
        Pass(Tick); // 1,800 ms
        other.ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void A_delay_shorter_than_the_interval_keeps_to_its_delay()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        clock.Due(TestActor, TimeSpan.FromMilliseconds(100), phase: 0.5);
        Pass(TimeSpan.FromMilliseconds(80));
        Assert.False(HasMessages);
        Pass(Tick);
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void A_delay_shorter_than_a_tick_is_told_at_the_next_tick()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        clock.Due(TestActor, TimeSpan.FromMilliseconds(1), phase: 0.5);
        Pass(Tick);
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void Keys_are_told_in_the_order_they_fall_due_not_the_order_they_asked()
    {
        var early = CreateTestProbe();
        var late = CreateTestProbe();
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        clock.Due(late.Ref, TimeSpan.FromSeconds(1), phase: 0);
        clock.Due(early.Ref, TimeSpan.FromMilliseconds(100), phase: 0);

        Pass(TimeSpan.FromMilliseconds(100));
        early.ExpectMsg<Checkpoint>(TimeSpan.Zero);
        Assert.False(late.HasMessages);
        Assert.Equal(1, clock.Waiting);

        Pass(TimeSpan.FromMilliseconds(900));
        late.ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void A_long_interval_waits_as_long()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromMinutes(10));
        clock.Due(TestActor, TimeSpan.FromMinutes(10), phase: 0);
        Pass(TimeSpan.FromMinutes(9));
        Assert.False(HasMessages);
        Pass(TimeSpan.FromMinutes(1));
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void A_stopped_clock_tells_nobody()
    {
        var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromMilliseconds(200));
        clock.Due(TestActor, TimeSpan.FromMilliseconds(200), phase: 0);
        clock.Dispose();
        Pass(TimeSpan.FromSeconds(1));
        Assert.False(HasMessages);
    }
}

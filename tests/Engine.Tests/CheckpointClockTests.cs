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
    public void A_key_is_told_at_most_one_interval_after_it_changed_and_not_long_before()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(20), clock.Tick);

        Pass(TimeSpan.FromMilliseconds(40));
        clock.Due(TestActor, TimeSpan.FromSeconds(1));
        Pass(TimeSpan.FromMilliseconds(980)); // a tick early
        Assert.False(HasMessages);

        Pass(Tick); // one interval after the change
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
        Pass(TimeSpan.FromSeconds(5));
        Assert.False(HasMessages);
        Assert.Equal(0, clock.Waiting);
    }

    [Fact]
    public void A_delay_shorter_than_a_tick_is_told_at_the_next_tick()
    {
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        clock.Due(TestActor, TimeSpan.FromMilliseconds(1));
        Pass(Tick);
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void Keys_are_told_in_the_order_they_fall_due_not_the_order_they_asked()
    {
        var early = CreateTestProbe();
        var late = CreateTestProbe();
        using var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromSeconds(1));
        clock.Due(late.Ref, TimeSpan.FromSeconds(1));
        clock.Due(early.Ref, TimeSpan.FromMilliseconds(100));

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
        clock.Due(TestActor, TimeSpan.FromMinutes(10));
        Pass(TimeSpan.FromMinutes(9));
        Assert.False(HasMessages);
        Pass(TimeSpan.FromMinutes(1));
        ExpectMsg<Checkpoint>(TimeSpan.Zero);
    }

    [Fact]
    public void A_stopped_clock_tells_nobody()
    {
        var clock = new CheckpointClock(Sys.Scheduler, TimeSpan.FromMilliseconds(200));
        clock.Due(TestActor, TimeSpan.FromMilliseconds(200));
        clock.Dispose();
        Pass(TimeSpan.FromSeconds(1));
        Assert.False(HasMessages);
    }
}

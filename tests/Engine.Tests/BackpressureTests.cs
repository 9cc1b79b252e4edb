using Kommune.Rules.Runtime;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

[Collection(KafkaLanes.First)]
public sealed class BackpressureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_slow_engine_pauses_the_consumer_keeps_in_flight_events_bounded_and_catches_up_with_nothing_lost()
    {
        using var bed = new KafkaTestBed(output);
        var falls = Enumerable.Range(0, 400).Select(i => Events.Fall($"s-{i % 20}", $"a-{i % 4}", i)).ToList();
        foreach (var f in falls)
        {
            bed.ProduceEvent(f);
        }

        bed.Flush();
        const int maxInFlight = 40;
        var rules = new RuleSet([new RuleBinding("slow", new SlowRule()), TestRules.EveryFall]);
        // Both bounds as they were before events awaiting their state got a bound of their own (at 160,000 by default,
        // these 400 events would never reach it): the gate's mechanism at these numbers is what is checked.
        await using var engine = await bed.StartEngineAsync(
            o =>
            {
                o.MaxInFlightEvents = maxInFlight;
                o.MaxEventsAwaitingCommit = 4 * maxInFlight;
            },
            rules);

        var seen = bed.ReadAlertIds([.. falls.Select(Events.AlertId)]);
        await engine.StopAsync();

        var stats = engine.Statistics;
        output.WriteLine(stats.ToString());
        Assert.Equal(400, seen.Count);
        Assert.InRange(stats.PeakProcessing, 1, maxInFlight);
        Assert.InRange(stats.PeakAwaitingCommit, stats.PeakProcessing, 4 * maxInFlight); // processed, waiting for their state
        Assert.True(stats.Pauses >= 1, "the consumer should have paused");
        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
        // Every record in the topic exactly once. (One full-suite run counted 500 consumed and processed for the
        // 400 produced, with 400 distinct alerts: either the topic held a batch twice, or the client handed out
        // records twice after pause/seek/resume, which the source now skips. Not reproduced since; either way the
        // count to match is the topic's.)
        output.WriteLine($"records in the topic: {end}");
        Assert.Equal(end, stats.Consumed);
        Assert.Equal(end, stats.Processed);
        Assert.True(end >= 400, $"the topic should hold the 400 events produced, holds {end}");
    }

    [Fact]
    public async Task Events_that_wait_for_a_long_state_interval_get_their_state_written_early_instead_of_stalling_the_consumer()
    {
        using var bed = new KafkaTestBed(output);
        // Every event changes its sensor's state, so once processed it waits for that state to be written.
        var falls = Enumerable.Range(0, 400).Select(i => Events.Fall($"s-{i % 100}", $"a-{i % 4}", i)).ToList();
        foreach (var f in falls)
        {
            bed.ProduceEvent(f);
        }

        bed.Flush();
        const int maxInFlight = 20;
        var rules = new RuleSet([new RuleBinding("count", new CountRule()), TestRules.EveryFall]);
        // A checkpoint interval no test outlives: without the early write the consumer pauses at 4 × 20 events awaiting
        // their commit and takes nothing more until then.
        await using var engine = await bed.StartEngineAsync(
            o =>
            {
                o.MaxInFlightEvents = maxInFlight;
                o.MaxEventsAwaitingCommit = 4 * maxInFlight;
                o.StateInterval = TimeSpan.FromHours(1);
            },
            rules);

        var seen = bed.ReadAlertIds([.. falls.Select(Events.AlertId)]);
        await engine.StopAsync();

        var stats = engine.Statistics;
        output.WriteLine(stats.ToString());
        Assert.Equal(400, seen.Count);
        Assert.True(stats.StateWritesAsked >= 1, "the engine should have been asked to write its state early");
        Assert.InRange(stats.PeakAwaitingCommit, 2 * maxInFlight, 4 * maxInFlight);
        Assert.True(stats.StateWritten >= 100, $"each sensor's state should have been written at least once, {stats.StateWritten} records");
        // The stop wrote what still waited: every offset is committed.
        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
    }

    /// <summary>Counts its key's events in state: every event changes it.</summary>
    private sealed class CountRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<int>("n");
            count.Update(count.Value + 1);
        }
    }

    /// <summary>Costs about 2 ms of CPU per event: processing slower than the consumer reads.</summary>
    private sealed class SlowRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 500;
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                Thread.SpinWait(100);
            }
        }
    }
}

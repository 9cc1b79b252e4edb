using Kommune.Rules.Runtime;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.BuiltIn;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

[Collection(KafkaLanes.First)]
public sealed class RestartTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)] // graceful: events in flight drain and are committed before the stop
    [InlineData(false)] // abrupt: nothing drains; events not done are consumed again by the next engine
    public async Task An_engine_stopped_mid_stream_and_replaced_leaves_no_event_without_its_effect(bool graceful)
    {
        using var bed = new KafkaTestBed(output);
        using var gate = new Gate();
        // Every 10th event comes from a slow sensor; with at most 5 events in flight the first engine stalls
        // once 5 of them are held, so the rest of that sensor's partition is still unread when it stops.
        var falls = Enumerable.Range(0, 600)
            .Select(i => Events.Fall(i % 10 == 0 ? "gate-0" : $"s-{i % 50}", $"a-{i % 5}", i))
            .ToList();
        foreach (var f in falls)
        {
            bed.ProduceEvent(f);
        }

        bed.Flush();
        var rules = new RuleSet([gate.Binding, TestRules.EveryFall]);
        var first = await bed.StartEngineAsync(
            o =>
            {
                o.MaxInFlightEvents = 5;
                // The first engine may run for a while on a loaded machine; no partition may count as idle and let
                // the watermark pass the others' events (they would be late, not alerted).
                o.IdlePartitionTimeout = TimeSpan.FromMinutes(10);
                o.ShutdownTimeout = graceful ? TimeSpan.FromSeconds(30) : TimeSpan.Zero;
            },
            rules);
        gate.WaitUntilEntered();

        var stopping = first.StopAsync();
        if (!graceful)
        {
            await first.ConsumerCompletion;
        }

        gate.Open();
        await stopping;
        var before = first.Statistics;
        output.WriteLine($"first engine: {before}");
        Assert.InRange(before.Consumed, 1, 599);
        Assert.True(before.Pauses >= 1);

        await using var second = await bed.StartEngineAsync(rules: rules);
        var expected = falls.Select(Events.AlertId).ToList();
        var seen = bed.ReadAlertIds(expected);

        Assert.Empty(expected.Except(seen));
        Assert.Equal(expected.Count, seen.Count);
        await second.StopAsync();
        output.WriteLine($"second engine: {second.Statistics}");
        Assert.True(second.Statistics.Processed >= 600 - before.Processed);
        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
    }
}

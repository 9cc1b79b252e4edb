using Kommune.Rules.Runtime;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.BuiltIn;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// The embedded broker keeps about 5 MiB per partition and drops the oldest records beyond that, like a short
/// retention. Records dropped before the engine read them must be counted, never skipped silently.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed class RetentionLossTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Records_deleted_while_the_engine_was_away_are_counted_as_lost_at_restart()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var early = Enumerable.Range(0, 5).Select(i => Events.Fall("s-1", "a", i)).ToList();
        early.ForEach(bed.ProduceEvent);
        bed.Flush();
        await using (var first = await bed.StartEngineAsync(rules: TestRules.EveryFallOnly))
        {
            bed.ReadAlertIds([.. early.Select(Events.AlertId)]);
        }

        ProduceBeyondRetention(bed);
        var last = Events.Fall("s-1", "a", 1_000);
        bed.ProduceEvent(last);
        bed.Flush();
        var low = bed.Watermarks(bed.Options.Topics.SensorEvents, 0).Low.Value;
        Assert.True(low > 5, $"the broker should have dropped records after offset 5, low watermark {low}");

        await using var second = await bed.StartEngineAsync(rules: TestRules.EveryFallOnly);
        bed.ReadAlertIds([Events.AlertId(last)]);
        await second.StopAsync();

        Assert.Equal(low - 5, second.Statistics.LostRecords);
    }

    [Fact]
    public async Task Records_deleted_while_the_consumer_was_paused_are_counted_as_lost()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        using var gate = new Gate();
        var rules = new RuleSet([gate.Binding, TestRules.EveryFall]);
        await using var engine = await bed.StartEngineAsync(o => o.MaxInFlightEvents = 1, rules);
        bed.ProduceEvent(Events.Fall("gate-1", "a", 0));
        bed.Flush();
        // The engine holds offset 0 with one event allowed in flight: it pauses at offset 1.
        gate.WaitUntilEntered();

        ProduceBeyondRetention(bed);
        var last = Events.Fall("s-1", "a", 1_000);
        bed.ProduceEvent(last);
        bed.Flush();
        var low = bed.Watermarks(bed.Options.Topics.SensorEvents, 0).Low.Value;
        Assert.True(low > 1, $"the broker should have dropped records after offset 1, low watermark {low}");
        gate.Open();

        bed.ReadAlertIds([Events.AlertId(last)]);
        await engine.StopAsync();

        Assert.Equal(low - 1, engine.Statistics.LostRecords);
    }

    /// <summary>About 7 MiB of valid events with large values into partition 0: more than the broker keeps.</summary>
    private static void ProduceBeyondRetention(KafkaTestBed bed)
    {
        var padding = new string('x', 60_000);
        for (var i = 0; i < 120; i++)
        {
            var e = Events.Traffic("s-1", "a", 100 + i);
            bed.ProduceEvent(e with { Values = new Dictionary<string, Rules.Model.SensorValue>(e.Values) { ["note"] = padding } });
            bed.Flush();
        }
    }
}

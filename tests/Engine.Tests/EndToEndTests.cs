using System.Text;
using System.Text.Json;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

[Collection(SequentialKafkaTests.Name)]
public sealed class EndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_fall_event_becomes_an_alert_that_a_separate_consumer_reads()
    {
        using var bed = new KafkaTestBed(output);
        await using var engine = await bed.StartEngineAsync();

        var fall = Events.Fall("wearable-17", "area-grunerlokka", 0);
        bed.ProduceEvent(Events.Traffic("road-1", "area-ring3", 0));
        bed.ProduceEvent(fall);
        bed.Flush();

        var alerts = bed.ReadAtLeast(bed.Options.Topics.Alerts, 1);

        var alert = Assert.Single(alerts);
        Assert.Equal(Events.AlertId(fall), Encoding.UTF8.GetString(alert.Message.Key!));
        using var json = JsonDocument.Parse(alert.Message.Value!);
        var root = json.RootElement;
        Assert.Equal("fall-detection", root.GetProperty("rule").GetString());
        Assert.Equal("health", root.GetProperty("category").GetString());
        Assert.Equal("critical", root.GetProperty("severity").GetString());
        Assert.Equal("raised", root.GetProperty("status").GetString());
        Assert.Equal("wearable-17", root.GetProperty("sensorId").GetString());
        Assert.Equal("area-grunerlokka", root.GetProperty("areaId").GetString());
        Assert.Equal(0.97, root.GetProperty("evidence").GetProperty("confidence").GetDouble());
    }

    [Fact]
    public async Task Every_event_is_processed_and_committed_once_its_outputs_are_acknowledged()
    {
        using var bed = new KafkaTestBed(output);
        var falls = Enumerable.Range(0, 200).Select(i => Events.Fall($"s-{i % 40}", $"a-{i % 7}", i)).ToList();
        foreach (var f in falls)
        {
            bed.ProduceEvent(f);
            bed.ProduceEvent(Events.Traffic($"t-{f.SensorId}", f.AreaId, 0));
        }

        bed.Flush();
        await using (var engine = await bed.StartEngineAsync())
        {
            var seen = bed.ReadAlertIds([.. falls.Select(Events.AlertId)]);
            Assert.Superset(falls.Select(Events.AlertId).ToHashSet(), seen);
            Assert.Equal(200, seen.Count);
            await engine.StopAsync();
            var stats = engine.Statistics;
            Assert.Equal(400, stats.Consumed);
            Assert.Equal(400, stats.Processed);
            Assert.Equal(0, stats.InFlight);
            Assert.Equal(7, stats.ActiveAreas);
        }

        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
    }
}

[CollectionDefinition(Name)]
public sealed class SequentialKafkaTests
{
    /// <summary>Kafka tests run one at a time: each starts brokers and consumer groups on a 2-core machine.</summary>
    public const string Name = "kafka";
}

using System.Text.Json;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>The area rules for parking and energy through Kafka: their aggregates and the parking-full alert.</summary>
[Collection(KafkaLanes.First)]
public sealed class MunicipalRulesThroughKafkaTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Parking_and_energy_aggregates_and_the_parking_full_alert_reach_Kafka()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet(
        [
            new RuleBinding("parking", new ParkingRule(RuleParameters.FromJson("""{ "for": "3m", "minCapacity": 4 }"""))),
            new RuleBinding("energy-area", new EnergyAreaRule(RuleParameters.Empty)),
        ]);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        for (var minute = 0; minute <= 20; minute++)
        {
            for (var bay = 0; bay < 4; bay++)
            {
                bed.ProduceEvent(Reading($"bay-{bay}", "parking", minute, "occupied", true));
            }

            bed.ProduceEvent(Reading("meter-1", "energy", minute, "kw", 12.0));
        }

        bed.Flush();

        // The incident is named by its first full minute end: the end of the minute of the first readings.
        var firstFullMinuteEnd = (Events.T0.AddSeconds(5).ToUnixTimeMilliseconds() / 60_000 * 60_000) + 60_000;
        var alertId = $"parking:sentrum:parking-full:{firstFullMinuteEnd}";
        var alerts = bed.ReadAlertIds([alertId]);
        Assert.Contains(alertId, alerts);
        var aggregates = bed.ReadUntil(bed.Options.Topics.Aggregates, r => Metrics(r).Contains("energy.kwh") && Metrics(r).Contains("parking.free"));
        var kwh = aggregates.Select(r => JsonDocument.Parse(r.Message.Value).RootElement).First(a => a.GetProperty("metric").GetString() == "energy.kwh");
        Assert.Equal(3.0, kwh.GetProperty("value").GetDouble(), 9); // 12 kW for a quarter of an hour
        var free = aggregates.Select(r => JsonDocument.Parse(r.Message.Value).RootElement).First(a => a.GetProperty("metric").GetString() == "parking.free");
        Assert.Equal(0, free.GetProperty("value").GetDouble());
        await engine.StopAsync();
        Assert.Equal(0, engine.Statistics.RuleFailures);
    }

    private static HashSet<string> Metrics(List<Confluent.Kafka.ConsumeResult<byte[]?, byte[]?>> records) =>
        [.. records.Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("metric").GetString()!)];

    private static SensorEvent Reading(string sensor, string type, int minute, string name, SensorValue value) =>
        new(sensor, "sentrum", type, Events.T0.AddMinutes(minute).AddSeconds(sensor.Length), new Dictionary<string, SensorValue> { [name] = value });
}

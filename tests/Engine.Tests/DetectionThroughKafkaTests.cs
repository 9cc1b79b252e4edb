using System.Text.Json;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Every labelled NAB series through the real path (producer, embedded broker, consumer, actors, rules, producer)
/// with the anomaly detector; the raised alerts are scored against the labelled windows, and must equal what the
/// same rule raises in the test kit.
/// </summary>
[Collection(SequentialKafkaTests.Name)]
public sealed class DetectionThroughKafkaTests(ITestOutputHelper output)
{
    /// <summary>One global parameter set for every file (tuned once on all of them, never per file).</summary>
    private const string Parameters = """{ "nightHours": "none" }""";

    /// <summary>The congestion rule's one parameter set for the road files (readings every 5 minutes).</summary>
    private const string CongestionParameters = """{ "window": "5m", "raiseAfter": 2 }""";

    [Fact]
    public async Task The_anomaly_detector_finds_the_labelled_windows_through_Kafka_as_in_the_test_kit()
    {
        var labels = LabelledWindows.Load(SharedData.NabFile("labels_windows.json"));
        var scores = new List<DetectionScore>();
        var congestionScores = new List<DetectionScore>();
        foreach (var (file, windows) in labels)
        {
            var series = RecordedSeries.Load(SharedData.NabFile(file));
            var road = file.Contains("/speed_", StringComparison.Ordinal) ? "speed" : file.Contains("/occupancy_", StringComparison.Ordinal) ? "occupancy" : null;
            var value = road ?? "value";
            var anomalyParameters = Parameters.Replace("}", $", \"value\": \"{value}\" }}", StringComparison.Ordinal);
            var events = series.ToEvents("nab-1", "nab", road is null ? "sensor" : "traffic", value, new DateTimeOffset(series.Readings[^1].Time, TimeSpan.Zero)).ToList();
            using var bed = new KafkaTestBed(output, partitions: 1);
            List<RuleBinding> bindings = [new RuleBinding("anomaly", new EnergyAnomalyRule(RuleParameters.FromJson(anomalyParameters)))];
            if (road is not null)
            {
                bindings.Add(new RuleBinding("congestion", new CongestionRule(RuleParameters.FromJson(CongestionParameters))));
            }

            var rules = new RuleSet(bindings);
            await using var engine = await bed.StartEngineAsync(rules: rules);
            events.ForEach(bed.ProduceEvent);
            bed.Flush();
            await KafkaTestBed.WaitUntilAsync(() => engine.Statistics.Processed >= events.Count);

            await engine.StopAsync();
            var raised = RaisedTimes(bed);
            var kit = new RuleTestKit(start: events[0].Timestamp).Bind(new EnergyAnomalyRule(RuleParameters.FromJson(anomalyParameters)), "anomaly");
            if (road is not null)
            {
                kit.Bind(new CongestionRule(RuleParameters.FromJson(CongestionParameters)), "congestion");
            }

            events.ForEach(e => kit.Send(e));
            var expected = kit.Alerts.Where(a => a.Status == Rules.Model.AlertStatus.Raised).Select(a => (a.Rule, a.EventTime.ToUnixTimeMilliseconds())).Order().ToList();

            Assert.Equal(expected, raised.Select(r => (r.Rule, r.Time.ToUnixTimeMilliseconds())).Order());
            Assert.Equal(0, engine.Statistics.DeadLettered);
            scores.Add(DetectionScore.Of(file, series.Readings.Count, windows, [.. raised.Where(r => r.Rule == "anomaly").Select(r => r.Time)]));
            if (road is not null)
            {
                congestionScores.Add(DetectionScore.Of(file, series.Readings.Count, windows, [.. raised.Where(r => r.Rule == "congestion").Select(r => r.Time)]));
            }
        }

        output.WriteLine("anomaly detector, every file:");
        output.WriteLine(DetectionScore.Table(scores));
        output.WriteLine("congestion rule, road speed and occupancy files:");
        output.WriteLine(DetectionScore.Table(congestionScores));
        Assert.True(congestionScores.Sum(s => s.WindowsFound) >= 7, DetectionScore.Table(congestionScores));
        Assert.True(congestionScores.Sum(s => s.AlertsOutside) <= 1, DetectionScore.Table(congestionScores));
        // The figures measured on this data (docs/detection.md): 11 of 16 windows, 13 alerts outside in 8 files. The
        // issue's bar: at least 60 % of the windows (10 of 16) and at most 2 alerts outside per file (16 in 8 files).
        Assert.True(scores.Sum(s => s.WindowsFound) >= 11, DetectionScore.Table(scores));
        Assert.True(scores.Sum(s => s.AlertsOutside) <= 13, DetectionScore.Table(scores));
    }

    private static List<(string Rule, DateTimeOffset Time)> RaisedTimes(KafkaTestBed bed)
    {
        var written = (int)bed.Watermarks(bed.Options.Topics.Alerts, 0).High.Value;
        var records = bed.ReadAtLeast(bed.Options.Topics.Alerts, written);
        var times = new List<(string Rule, DateTimeOffset Time)>();
        foreach (var record in records)
        {
            using var alert = JsonDocument.Parse(record.Message.Value);
            if (alert.RootElement.GetProperty("status").GetString() == "raised")
            {
                times.Add((alert.RootElement.GetProperty("rule").GetString()!, alert.RootElement.GetProperty("eventTime").GetDateTimeOffset()));
            }
        }

        return times;
    }
}

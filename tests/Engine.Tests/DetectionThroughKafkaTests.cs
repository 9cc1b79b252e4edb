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
/// Labelled NAB series through the real path (producer, embedded broker, consumer, actors, rules, producer) with the
/// anomaly detector: every series of ../shared/data/nab and one of each other kind in nab-more (the full 31 run in
/// the test kit is NabOfflineCheckTests and bench/Kommune.Detection); the raised alerts must equal what the same rule
/// raises in the test kit, and are scored with NAB's scorer.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed class DetectionThroughKafkaTests(ITestOutputHelper output)
{
    /// <summary>The generic-series parameters, one global set for every file (NabOfflineCheckTests.Parameters).</summary>
    private const string Parameters = """{ "nightHours": "none", "threshold": 2, "smoothing": 0.4, "quietAfter": "12h", "calibratedRate": 0.005, "rangeTolerance": 0.05, "minConsecutive": 1, "scoreClip": 4, "maxCalibration": 4 }""";

    /// <summary>One series of each kind in nab-more: a representative subset (the full 23 take longer through Kafka).</summary>
    private static readonly string[] MoreFiles =
    [
        "artificialNoAnomaly/art_daily_no_noise.csv",
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "realAdExchange/exchange-2_cpc_results.csv",
        "realKnownCause/ec2_request_latency_system_failure.csv",
    ];

    /// <summary>The congestion rule's one parameter set for the road files (readings every 5 minutes).</summary>
    private const string CongestionParameters = """{ "window": "5m", "raiseAfter": 2 }""";

    [Fact]
    public async Task The_anomaly_detector_finds_the_labelled_windows_through_Kafka_as_in_the_test_kit()
    {
        var more = LabelledWindows.Load(SharedData.NabMoreFile("labels_windows.json"));
        var labels = LabelledWindows.Load(SharedData.NabFile("labels_windows.json"))
            .Select(l => (l.Key, l.Value, Path: SharedData.NabFile(l.Key)))
            .Concat(MoreFiles.Select(f => (f, more[f], SharedData.NabMoreFile(f))));
        var scores = new List<NabFileScore>();
        var congestionScores = new List<DetectionScore>();
        foreach (var (file, windows, path) in labels)
        {
            var series = RecordedSeries.Load(path);
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
            var times = series.Readings.Select(r => new DateTimeOffset(r.Time, TimeSpan.Zero)).ToList();
            scores.AddRange(NabProfile.All.Select(p => NabScorer.ScoreFile(file, times, windows, [.. raised.Where(r => r.Rule == "anomaly").Select(r => r.Time)], p)));
            if (road is not null)
            {
                congestionScores.Add(DetectionScore.Of(file, series.Readings.Count, windows, [.. raised.Where(r => r.Rule == "congestion").Select(r => r.Time)]));
            }
        }

        output.WriteLine("anomaly detector, NAB's scores:");
        output.WriteLine(NabScorer.Table(scores, NabProfile.All));
        output.WriteLine("congestion rule, road speed and occupancy files:");
        output.WriteLine(DetectionScore.Table(congestionScores));
        Assert.True(congestionScores.Sum(s => s.WindowsFound) >= 7, DetectionScore.Table(congestionScores));
        Assert.True(congestionScores.Sum(s => s.AlertsOutside) <= 1, DetectionScore.Table(congestionScores));
        // Every file's alerts equal the kit's (above); the kit's scores of all 31 series are NabOfflineCheckTests'.
        Assert.Equal(12, scores.Count(s => s.Profile == NabProfile.Standard));
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

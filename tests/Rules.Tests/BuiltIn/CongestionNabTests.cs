using Kommune.Connectors.Simulation;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;
using Xunit.Abstractions;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>The congestion rule on the real road speed and occupancy series, scored against their labelled windows.</summary>
public sealed class CongestionNabTests(ITestOutputHelper output)
{
    /// <summary>
    /// One parameter set for every road file (chosen once among six global sets, see docs/detection.md): the NAB
    /// road series have a reading about every 5 minutes, so 5-minute windows, and two in a row raise.
    /// </summary>
    public const string Parameters = """{ "window": "5m", "raiseAfter": 2 }""";

    /// <summary>The road files with speed or occupancy (travel time is neither) and the value each holds.</summary>
    public static IEnumerable<(string File, string Value)> RoadFiles(IEnumerable<string> files) =>
        files.Where(f => f.Contains("/speed_", StringComparison.Ordinal) || f.Contains("/occupancy_", StringComparison.Ordinal))
            .Select(f => (f, f.Contains("/speed_", StringComparison.Ordinal) ? "speed" : "occupancy"));

    [Fact]
    public void NabCongestion_scores_on_the_road_series()
    {
        var data = NabScoring.FindDataDirectory();
        Assert.NotNull(data);
        var labels = LabelledWindows.Load(Path.Combine(data, "labels_windows.json"));
        var scores = new List<DetectionScore>();
        foreach (var (file, value) in RoadFiles(labels.Keys))
        {
            var series = RecordedSeries.Load(Path.Combine(data, file));
            var kit = new RuleTestKit(start: new DateTimeOffset(series.Readings[0].Time, TimeSpan.Zero))
                .Bind(new CongestionRule(RuleParameters.FromJson(Parameters)));
            foreach (var e in series.ToEvents("segment-1", "road", "traffic", value, new DateTimeOffset(series.Readings[^1].Time, TimeSpan.Zero)))
            {
                kit.Send(e);
            }

            Assert.Empty(kit.Failures);
            var raised = kit.Alerts.Where(a => a.Status == AlertStatus.Raised).Select(a => a.EventTime).ToList();
            scores.Add(DetectionScore.Of(file, series.Readings.Count, labels[file], raised));
        }

        output.WriteLine(DetectionScore.Table(scores));
        // Measured (docs/detection.md): 7 of 10 windows, 1 alert outside in 5 files.
        Assert.True(scores.Sum(s => s.WindowsFound) >= 7, DetectionScore.Table(scores));
        Assert.True(scores.Sum(s => s.AlertsOutside) <= 1, DetectionScore.Table(scores));
    }
}

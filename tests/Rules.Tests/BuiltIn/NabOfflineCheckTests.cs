using Kommune.Connectors.Simulation;
using Xunit.Abstractions;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>
/// The offline check on real data: energy-anomaly over every labelled NAB series (../shared/data/nab and nab-more,
/// 31 series in five kinds), scored with NAB's scorer. One global parameter set for every file, never per file.
/// </summary>
public sealed class NabOfflineCheckTests(ITestOutputHelper output)
{
    /// <summary>
    /// The generic-series parameters (bench/Kommune.Detection's ParameterGrid.Generic, chosen on a small global grid;
    /// leave-one-kind-out validation of that grid in docs/detection.md), with the night watch off because these series
    /// are not building consumption.
    /// </summary>
    public const string Parameters = """{ "nightHours": "none", "threshold": 2, "smoothing": 0.4, "quietAfter": "12h", "calibratedRate": 0.005, "rangeTolerance": 0.05, "minConsecutive": 1, "scoreClip": 4, "maxCalibration": 4 }""";

    [Fact]
    public void Scores_the_NAB_series_of_every_kind_without_regressing()
    {
        var dir = NabScoring.FindDataDirectory();
        Assert.True(dir is not null, "../shared/data/nab (labels_windows.json and the series) was not found above the test binaries");

        var scores = new List<NabFileScore>();
        foreach (var root in new[] { dir, Path.Combine(dir, "..", "nab-more") })
        {
            foreach (var (file, windows) in LabelledWindows.Load(Path.Combine(root, "labels_windows.json")))
            {
                var series = RecordedSeries.Load(Path.Combine(root, file));
                var raised = NabScoring.Alerts(series, Parameters).Where(a => a.Status == Model.AlertStatus.Raised).Select(a => a.EventTime).ToList();
                var times = series.Readings.Select(r => new DateTimeOffset(r.Time, TimeSpan.Zero)).ToList();
                scores.AddRange(NabProfile.All.Select(p => NabScorer.ScoreFile(file, times, windows, raised, p)));
            }
        }

        output.WriteLine(NabScorer.Table(scores, NabProfile.All));
        var standard = scores.Where(s => s.Profile == NabProfile.Standard).ToList();
        Assert.Equal(31, standard.Count);
        Assert.Equal(53, standard.Sum(s => s.Windows));

        // Measured with these parameters (docs/detection.md): standard 77.9, 51 of 53 windows, 112 false positives.
        Assert.True(NabScorer.Normalized(standard) >= 77.9, NabScorer.Table(scores, NabProfile.All));
        Assert.True(standard.Sum(s => s.WindowsDetected) >= 51, "windows detected regressed below 51 of 53");
    }
}

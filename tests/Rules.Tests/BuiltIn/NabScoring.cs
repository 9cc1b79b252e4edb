using System.Globalization;
using System.Text.Json;
using Kommune.Connectors.Simulation;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>
/// Runs <see cref="EnergyAnomalyRule"/> through <see cref="RuleTestKit"/> over every labelled series of the Numenta
/// Anomaly Benchmark in ../shared/data/nab (loaded with <see cref="RecordedSeries"/>, as the engine replays them)
/// and scores the raised alerts against the labelled anomaly windows (labels_windows.json).
/// </summary>
public static class NabScoring
{
    /// <summary>The data folder, found by walking up from the test binaries; null when it is not there.</summary>
    public static string? FindDataDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "data", "nab"), Path.Combine(dir.FullName, "..", "shared", "data", "nab") })
            {
                if (File.Exists(Path.Combine(candidate, "labels_windows.json")))
                {
                    return Path.GetFullPath(candidate);
                }
            }
        }

        return null;
    }

    /// <summary>Scores every labelled file with one set of rule parameters.</summary>
    public static IReadOnlyList<DetectionScore> Run(string dataDirectory, string parametersJson)
    {
        var scores = new List<DetectionScore>();
        foreach (var (file, windows) in LabelledWindows.Load(Path.Combine(dataDirectory, "labels_windows.json")))
        {
            var series = RecordedSeries.Load(Path.Combine(dataDirectory, file));
            var raised = Alerts(series, parametersJson).Where(a => a.Status == AlertStatus.Raised).Select(a => a.EventTime).ToList();
            scores.Add(DetectionScore.Of(file, series.Readings.Count, windows, raised));
        }

        return scores;
    }

    /// <summary>The alerts the rule emits over a series replayed at its recorded times (taken as UTC).</summary>
    public static IReadOnlyList<Alert> Alerts(RecordedSeries series, string parametersJson)
    {
        ArgumentNullException.ThrowIfNull(series);
        var kit = new RuleTestKit(start: new DateTimeOffset(series.Readings[0].Time, TimeSpan.Zero))
            .Bind(new EnergyAnomalyRule(RuleParameters.FromJson(parametersJson)));
        var end = new DateTimeOffset(series.Readings[^1].Time, TimeSpan.Zero);
        foreach (var e in series.ToEvents("meter-1", "area-1", "energy", "kw", end))
        {
            kit.Send(e);
        }

        if (kit.Failures.Count > 0)
        {
            throw new InvalidOperationException("The rule failed: " + kit.Failures[0].Exception);
        }

        return kit.Alerts;
    }

    /// <summary>The per-file table and totals as text.</summary>
    public static string Table(IReadOnlyList<DetectionScore> scores) => DetectionScore.Table(scores);
}

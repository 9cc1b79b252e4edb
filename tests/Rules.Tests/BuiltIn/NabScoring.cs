using System.Globalization;
using System.Text.Json;
using Kommune.Connectors.Simulation;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>The score of one labelled file: windows found (an alert raised inside) and alerts raised outside every window.</summary>
public sealed record NabFileScore(string File, int Readings, int Windows, int WindowsFound, int Alerts, int AlertsOutside);

/// <summary>
/// Runs <see cref="EnergyAnomalyRule"/> through <see cref="RuleTestKit"/> over every labelled series of the Numenta
/// Anomaly Benchmark in ../shared/data/nab (loaded with <see cref="RecordedSeries"/>, as the engine replays them)
/// and scores the raised alerts against the labelled anomaly windows (labels_windows.json).
/// </summary>
public static class NabScoring
{
    private static readonly string[] TimeFormats = ["yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss"];

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
    public static IReadOnlyList<NabFileScore> Run(string dataDirectory, string parametersJson)
    {
        using var labels = JsonDocument.Parse(File.ReadAllText(Path.Combine(dataDirectory, "labels_windows.json")));
        var scores = new List<NabFileScore>();
        foreach (var file in labels.RootElement.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var windows = file.Value.EnumerateArray()
                .Select(w => (Start: ParseTime(w[0].GetString()!), End: ParseTime(w[1].GetString()!)))
                .ToList();
            var series = RecordedSeries.Load(Path.Combine(dataDirectory, file.Name));
            var raised = Alerts(series, parametersJson).Where(a => a.Status == AlertStatus.Raised).ToList();
            var found = windows.Count(w => raised.Any(a => a.EventTime >= w.Start && a.EventTime <= w.End));
            var outside = raised.Count(a => !windows.Any(w => a.EventTime >= w.Start && a.EventTime <= w.End));
            scores.Add(new NabFileScore(file.Name, series.Readings.Count, windows.Count, found, raised.Count, outside));
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
    public static string Table(IReadOnlyList<NabFileScore> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var lines = new List<string> { "| file | readings | windows | found | alerts | outside |", "|---|---:|---:|---:|---:|---:|" };
        lines.AddRange(scores.Select(s => string.Create(CultureInfo.InvariantCulture,
            $"| {s.File} | {s.Readings} | {s.Windows} | {s.WindowsFound} | {s.Alerts} | {s.AlertsOutside} |")));
        var windows = scores.Sum(s => s.Windows);
        var found = scores.Sum(s => s.WindowsFound);
        var outside = scores.Sum(s => s.AlertsOutside);
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"| total | {scores.Sum(s => s.Readings)} | {windows} | {found} ({100.0 * found / windows:0.0} %) | {scores.Sum(s => s.Alerts)} | {outside} ({(double)outside / scores.Count:0.00}/file) |"));
        return string.Join(Environment.NewLine, lines);
    }

    private static DateTimeOffset ParseTime(string text) =>
        new(DateTime.ParseExact(text, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), TimeSpan.Zero);
}

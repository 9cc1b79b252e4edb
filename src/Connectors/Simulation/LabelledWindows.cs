using System.Globalization;
using System.Text.Json;

namespace Kommune.Connectors.Simulation;

/// <summary>One labelled anomaly window of a recorded series: from <paramref name="Start"/> to <paramref name="End"/>, inclusive.</summary>
/// <param name="Start">Start of the window.</param>
/// <param name="End">End of the window.</param>
public readonly record struct LabelledWindow(DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>Whether <paramref name="time"/> lies in the window.</summary>
    public bool Contains(DateTimeOffset time) => time >= Start && time <= End;
}

/// <summary>How well alerts match the labelled windows of one series.</summary>
/// <param name="File">The series (path relative to the data folder).</param>
/// <param name="Readings">Readings in the series.</param>
/// <param name="Windows">Labelled windows.</param>
/// <param name="WindowsFound">Windows with at least one raised alert inside.</param>
/// <param name="Alerts">Alerts raised.</param>
/// <param name="AlertsOutside">Alerts raised outside every window.</param>
public sealed record DetectionScore(string File, int Readings, int Windows, int WindowsFound, int Alerts, int AlertsOutside)
{
    /// <summary>Scores the times at which alerts were raised against the labelled windows.</summary>
    public static DetectionScore Of(string file, int readings, IReadOnlyList<LabelledWindow> windows, IReadOnlyCollection<DateTimeOffset> raised)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(raised);
        var found = windows.Count(w => raised.Any(w.Contains));
        var outside = raised.Count(t => !windows.Any(w => w.Contains(t)));
        return new DetectionScore(file, readings, windows.Count, found, raised.Count, outside);
    }

    /// <summary>A markdown table of scores with a total line.</summary>
    public static string Table(IReadOnlyList<DetectionScore> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var lines = new List<string> { "| file | readings | windows | found | alerts | outside |", "|---|---:|---:|---:|---:|---:|" };
        lines.AddRange(scores.Select(s => string.Create(CultureInfo.InvariantCulture,
            $"| {s.File} | {s.Readings} | {s.Windows} | {s.WindowsFound} | {s.Alerts} | {s.AlertsOutside} |")));
        var windows = scores.Sum(s => s.Windows);
        var found = scores.Sum(s => s.WindowsFound);
        var outside = scores.Sum(s => s.AlertsOutside);
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"| total | {scores.Sum(s => s.Readings)} | {windows} | {found} ({100.0 * found / Math.Max(1, windows):0.0} %) | {scores.Sum(s => s.Alerts)} | {outside} ({(double)outside / Math.Max(1, scores.Count):0.00}/file) |"));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>The labelled anomaly windows of the Numenta Anomaly Benchmark (labels_windows.json beside the series).</summary>
public static class LabelledWindows
{
    private static readonly string[] TimeFormats = ["yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss"];

    /// <summary>Reads labels_windows.json: per series file (relative path), its windows, in UTC.</summary>
    /// <exception cref="JsonException">The file is not in the NAB labels format.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<LabelledWindow>> Load(string labelsFile)
    {
        using var labels = JsonDocument.Parse(File.ReadAllText(labelsFile));
        var result = new SortedDictionary<string, IReadOnlyList<LabelledWindow>>(StringComparer.Ordinal);
        foreach (var file in labels.RootElement.EnumerateObject())
        {
            result[file.Name] = [.. file.Value.EnumerateArray().Select(w => new LabelledWindow(Parse(w[0].GetString()!), Parse(w[1].GetString()!)))];
        }

        return result;
    }

    private static DateTimeOffset Parse(string text) =>
        new(DateTime.ParseExact(text, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), TimeSpan.Zero);
}

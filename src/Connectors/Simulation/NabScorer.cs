using System.Globalization;

namespace Kommune.Connectors.Simulation;

/// <summary>
/// An application profile of the Numenta Anomaly Benchmark: what a window found early earns, what a false alarm and a
/// missed window cost.
/// </summary>
/// <param name="Name">The profile's name in NAB.</param>
/// <param name="TruePositive">A_TP: what a window detected at its very start earns.</param>
/// <param name="FalsePositive">A_FP: what a detection far from every window costs.</param>
/// <param name="FalseNegative">A_FN: what a window without a detection costs.</param>
public sealed record NabProfile(string Name, double TruePositive, double FalsePositive, double FalseNegative)
{
    /// <summary>NAB's standard profile (1, 0.11, 1).</summary>
    public static NabProfile Standard { get; } = new("standard", 1.0, 0.11, 1.0);

    /// <summary>NAB's reward_low_FP_rate profile (1, 0.22, 1): false alarms cost twice as much.</summary>
    public static NabProfile RewardLowFalsePositives { get; } = new("reward_low_FP_rate", 1.0, 0.22, 1.0);

    /// <summary>NAB's reward_low_FN_rate profile (1, 0.11, 2): missed windows cost twice as much.</summary>
    public static NabProfile RewardLowFalseNegatives { get; } = new("reward_low_FN_rate", 1.0, 0.11, 2.0);

    /// <summary>The three profiles, standard first.</summary>
    public static IReadOnlyList<NabProfile> All { get; } = [Standard, RewardLowFalsePositives, RewardLowFalseNegatives];
}

/// <summary>How one series scores under one profile.</summary>
/// <param name="File">The series (path relative to the data folder).</param>
/// <param name="Profile">The profile.</param>
/// <param name="Rows">Readings in the series.</param>
/// <param name="ProbationRows">The first readings, whose detections are not scored.</param>
/// <param name="Windows">Labelled windows.</param>
/// <param name="WindowsDetected">Windows with a scored detection inside.</param>
/// <param name="Detections">Scored detections (distinct readings after the probation period).</param>
/// <param name="FalsePositives">Scored detections outside every window.</param>
/// <param name="Raw">The file's raw score: the windows' true-positive scores, minus the missed windows' A_FN, minus the false positives' costs.</param>
/// <param name="Null">What a detector that never fires scores on this file.</param>
/// <param name="Perfect">What a detector that fires at the start of every window, and nowhere else, scores.</param>
public sealed record NabFileScore(
    string File,
    NabProfile Profile,
    int Rows,
    int ProbationRows,
    int Windows,
    int WindowsDetected,
    int Detections,
    int FalsePositives,
    double Raw,
    double Null,
    double Perfect)
{
    /// <summary>
    /// The file's score between its null (0) and perfect (100) detector, or null for a file without windows, where
    /// the two are the same (0): only <see cref="Raw"/> tells there.
    /// </summary>
    public double? Normalized => Perfect > Null ? 100 * (Raw - Null) / (Perfect - Null) : null;
}

/// <summary>
/// The scoring of the Numenta Anomaly Benchmark (NAB 1.x, nab/sweeper.py), for detections given as times:
/// <list type="bullet">
/// <item>the first 15 % of each file's readings (at most 750) is a probation period: detections there are not scored;</item>
/// <item>each window is scored once, by its earliest detection, with a sigmoid of the detection's position relative
/// to the window's end, scaled so that a detection at the window's first reading earns exactly A_TP; a window with no
/// detection costs A_FN;</item>
/// <item>a detection outside every window costs A_FP times the same sigmoid of its distance after the window before
/// it, in that window's widths (a detection right after a window costs almost nothing, one three widths or more
/// after a window, or before the first, costs A_FP);</item>
/// <item>the total over all files is normalised so that a detector that never fires scores 0 and one that fires at
/// the start of every window scores 100.</item>
/// </list>
/// A detection is a reading: one at a time that is not a reading's counts at the reading before it; several at the
/// same reading count once.
/// </summary>
public static class NabScorer
{
    /// <summary>NAB's probation period: this share of each file's readings.</summary>
    public const double ProbationShare = 0.15;

    /// <summary>The scaled sigmoid NAB scores positions with: 2 / (1 + e^(5x)) − 1, which is −1 from 3 on.</summary>
    /// <param name="position">
    /// Relative position: −1 at a window's first reading, 0 at its end; after a window, the distance from its end in its widths.
    /// </param>
    public static double ScaledSigmoid(double position) => position >= 3 ? -1 : (2 / (1 + Math.Exp(5 * position))) - 1;

    /// <summary>The readings of a file of <paramref name="rows"/> readings whose detections are not scored: 15 %, at most 750.</summary>
    public static int ProbationRows(int rows) => (int)Math.Min(Math.Floor(ProbationShare * rows), ProbationShare * 5000);

    /// <summary>Scores one file's detections under one profile.</summary>
    /// <param name="file">The file's name, for the table.</param>
    /// <param name="timestamps">The times of the file's readings, ascending.</param>
    /// <param name="windows">The labelled windows, ascending and not overlapping.</param>
    /// <param name="detections">The detections' times, in any order.</param>
    /// <param name="profile">The profile.</param>
    public static NabFileScore ScoreFile(
        string file,
        IReadOnlyList<DateTimeOffset> timestamps,
        IReadOnlyList<LabelledWindow> windows,
        IEnumerable<DateTimeOffset> detections,
        NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(timestamps);
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(profile);
        var probation = ProbationRows(timestamps.Count);
        var spans = windows.Select(w => RowSpan(timestamps, w)).ToList();
        var rows = new SortedSet<int>(detections.Select(t => RowAt(timestamps, t)).Where(i => i >= probation));
        var maxTruePositive = ScaledSigmoid(-1);

        var best = new double?[spans.Count];
        var falsePositives = 0;
        var raw = 0.0;
        foreach (var row in rows)
        {
            var inside = spans.FindIndex(s => s.Width > 0 && row >= s.First && row <= s.Last);
            if (inside >= 0)
            {
                var span = spans[inside];
                var score = ScaledSigmoid(-(span.Last - row + 1.0) / span.Width) * profile.TruePositive / maxTruePositive;
                best[inside] = Math.Max(best[inside] ?? double.MinValue, score);
                continue;
            }

            falsePositives++;
            var before = spans.LastOrDefault(s => s.Width > 0 && s.Last < row);
            var position = before.Width > 0 ? (row - before.Last) / (double)Math.Max(1, before.Width - 1) : 3.0;
            raw += ScaledSigmoid(position) * profile.FalsePositive;
        }

        // Windows wholly inside the probation period are not scored (NAB's null detector is not charged for them either).
        var scored = spans.Select((s, i) => (Span: s, Index: i)).Where(x => x.Span.Width > 0 && x.Span.Last >= probation).ToList();
        raw += scored.Sum(x => best[x.Index] ?? -profile.FalseNegative);
        return new NabFileScore(
            file,
            profile,
            timestamps.Count,
            probation,
            windows.Count,
            best.Count(b => b is not null),
            rows.Count,
            falsePositives,
            raw,
            -profile.FalseNegative * scored.Count,
            profile.TruePositive * windows.Count);
    }

    /// <summary>
    /// The total score of files scored under one profile: 100 × (raw − null) / (perfect − null) over their sums, where
    /// null is what a detector that never fires scores and perfect is A_TP per labelled window (as NAB normalises).
    /// </summary>
    public static double Normalized(IEnumerable<NabFileScore> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var list = files.ToList();
        var perfect = list.Sum(f => f.Perfect);
        var none = list.Sum(f => f.Null);
        return perfect > none ? 100 * (list.Sum(f => f.Raw) - none) / (perfect - none) : 0;
    }

    /// <summary>
    /// A markdown table: per file its windows, what was detected and its raw score under each profile, then the
    /// totals and the normalised score of each profile. <paramref name="scores"/> holds each file once per profile,
    /// in the order of <paramref name="profiles"/>.
    /// </summary>
    public static string Table(IReadOnlyList<NabFileScore> scores, IReadOnlyList<NabProfile> profiles)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(profiles);
        var byFile = scores.GroupBy(s => s.File, StringComparer.Ordinal).ToList();
        var header = "| file | readings | windows | detected | detections | false pos. | " + string.Join(" | ", profiles.Select(p => p.Name)) + " |";
        var lines = new List<string> { header, "|---|---:|---:|---:|---:|---:|" + string.Concat(profiles.Select(_ => "---:|")) };
        foreach (var file in byFile)
        {
            var first = file.First();
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {first.File} | {first.Rows} | {first.Windows} | {first.WindowsDetected} | {first.Detections} | {first.FalsePositives} | ")
                + string.Join(" | ", profiles.Select(p => Cell(file.Single(s => s.Profile == p)))) + " |");
        }

        var standard = scores.Where(s => s.Profile == profiles[0]).ToList();
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"| total ({standard.Count} files) | {standard.Sum(s => s.Rows)} | {standard.Sum(s => s.Windows)} | {standard.Sum(s => s.WindowsDetected)} | {standard.Sum(s => s.Detections)} | {standard.Sum(s => s.FalsePositives)} | ")
            + string.Join(" | ", profiles.Select(p => Format(Normalized(scores.Where(s => s.Profile == p))))) + " |");
        return string.Join(Environment.NewLine, lines);
    }

    private static string Cell(NabFileScore score) =>
        string.Create(CultureInfo.InvariantCulture, $"{score.Raw:0.000}") + (score.Normalized is { } n ? " (" + Format(n) + ")" : string.Empty);

    private static string Format(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>The index of the reading at <paramref name="time"/>, or of the last reading before it (0 before the first).</summary>
    private static int RowAt(IReadOnlyList<DateTimeOffset> timestamps, DateTimeOffset time)
    {
        int low = 0, high = timestamps.Count - 1, found = 0;
        while (low <= high)
        {
            var mid = (low + high) / 2;
            if (timestamps[mid] <= time)
            {
                found = mid;
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        return found;
    }

    /// <summary>The first and last reading in a window and how many it holds (0 when none is).</summary>
    private static (int First, int Last, int Width) RowSpan(IReadOnlyList<DateTimeOffset> timestamps, LabelledWindow window)
    {
        var first = -1;
        var last = -1;
        for (var i = 0; i < timestamps.Count; i++)
        {
            if (window.Contains(timestamps[i]))
            {
                first = first < 0 ? i : first;
                last = i;
            }
        }

        return first < 0 ? (0, -1, 0) : (first, last, last - first + 1);
    }
}

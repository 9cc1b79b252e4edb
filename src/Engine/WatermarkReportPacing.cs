namespace Kommune.Engine;

/// <summary>
/// How often a node writes its watermark report to the repartition topic. A report goes to every repartition partition
/// and holds an entry for each sensor partition the node holds, so its records grow with the partition count and its
/// bytes with the square of it: at 256 partitions, 20 reports a second were 5,120 records of kilobytes each, more than
/// the events themselves. Up to <see cref="RecordsPerSecond"/> report records a second (12 partitions at 20 reports a
/// second, the engine's default topics) every report is written as its barrier passes; with more partitions the reports
/// are spaced so that their records stay at that rate, and never further apart than the longest spacing (a second).
/// A report held back is not lost: the newest one waits, replacing an older one, and is written when its time comes
/// (<see cref="Due"/>). Area time then moves in coarser steps; what it decides does not change, since every report is
/// written after the records it covers. Not thread-safe: the engine calls it under its time lock.
/// </summary>
/// <typeparam name="TReport">What is written: the report and its floors.</typeparam>
internal sealed class WatermarkReportPacing<TReport>
    where TReport : class
{
    /// <summary>Report records a second (over all repartition partitions) that need no spacing.</summary>
    public const int RecordsPerSecond = 240;

    private readonly TimeSpan _spacing;
    private DateTimeOffset _writtenAt = DateTimeOffset.MinValue;
    private TReport? _held;

    /// <param name="taskPartitions">The repartition partitions a report goes to.</param>
    /// <param name="shortest">The shortest time between two reports anyway (the engine's announcement interval): no spacing is needed below it.</param>
    /// <param name="longest">The longest spacing, whatever the partition count.</param>
    public WatermarkReportPacing(int taskPartitions, TimeSpan shortest, TimeSpan longest)
    {
        var spacing = TimeSpan.FromSeconds((double)Math.Max(1, taskPartitions) / RecordsPerSecond);
        _spacing = spacing <= shortest ? TimeSpan.Zero : spacing < longest ? spacing : longest;
    }

    /// <summary>The least time between two reports written (zero: each is written as it passes).</summary>
    public TimeSpan Spacing => _spacing;

    /// <summary>A report whose barrier passed at <paramref name="now"/>.</summary>
    /// <returns>The report to write now, or null when it is held until <see cref="Due"/>.</returns>
    public TReport? Passed(TReport report, DateTimeOffset now)
    {
        if (now - _writtenAt >= _spacing)
        {
            _held = null;
            _writtenAt = now;
            return report;
        }

        _held = report;
        return null;
    }

    /// <returns>The report held back, when its time has come (asked a few times a second); otherwise null.</returns>
    public TReport? Due(DateTimeOffset now) => now - _writtenAt < _spacing ? null : Flush(now);

    /// <returns>The report held back, whether its time has come or not (before a hand-over's last report); or null.</returns>
    public TReport? Flush(DateTimeOffset now)
    {
        if (_held is not { } held)
        {
            return null;
        }

        _held = null;
        _writtenAt = now;
        return held;
    }
}

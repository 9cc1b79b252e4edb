namespace Kommune.Engine;

/// <summary>
/// One sensor partition on this node: where its consumption started, the newest offset judged, and how its own
/// watermark rose with its offsets since then, so that a commit of any offset can be written with the partition's time
/// as of that offset (<see cref="PartitionTimeRecord"/>): what the events before it made, no more. A node restarted
/// after that commit starts the partition from it, so events after the commit are judged as one node that never
/// stopped judges them. Not thread-safe: under the engine's time lock.
/// </summary>
internal sealed class PartitionProgress
{
    private readonly Queue<(long Next, DateTimeOffset Watermark)> _rises = new();
    private (long Next, DateTimeOffset Watermark) _base;
    private DateTimeOffset _newest;
    private DateTimeOffset _written = DateTimeOffset.MinValue;

    /// <param name="start">The offset its consumption starts from here.</param>
    /// <param name="watermark">Its own watermark at <paramref name="start"/> (handed over or restored), or null.</param>
    public PartitionProgress(long start, DateTimeOffset? watermark)
    {
        Start = start;
        _newest = watermark ?? DateTimeOffset.MinValue;
        _base = (start, _newest);
    }

    /// <summary>The offset its consumption started from here.</summary>
    public long Start { get; }

    /// <summary>The newest offset judged (routed or late), or −1.</summary>
    public long LastJudged { get; private set; } = -1;

    /// <summary>The offset after the newest one judged, or <see cref="Start"/> when none was.</summary>
    public long NextToJudge => LastJudged >= 0 ? LastJudged + 1 : Start;

    /// <summary>The event at <paramref name="offset"/> was judged.</summary>
    public void Judged(long offset) => LastJudged = offset;

    /// <summary>After the event at <paramref name="offset"/>, the partition's own watermark is <paramref name="watermark"/>.</summary>
    public void WatermarkAfter(long offset, DateTimeOffset watermark)
    {
        if (watermark > _newest)
        {
            _newest = watermark;
            _rises.Enqueue((offset + 1, watermark));
        }
    }

    /// <summary>
    /// Whether <paramref name="watermark"/> is a time to write: later than the last one written here (an earlier record
    /// with the same time serves every later offset as well). Records it as written.
    /// </summary>
    public bool TimeWritten(DateTimeOffset watermark)
    {
        if (watermark <= _written)
        {
            return false;
        }

        _written = watermark;
        return true;
    }

    /// <summary>
    /// The partition's own watermark as of <paramref name="next"/>: what the events before it made (or what it started
    /// with). Forgets how it rose before <paramref name="next"/>: commits only move forward.
    /// </summary>
    public DateTimeOffset WatermarkAt(long next)
    {
        while (_rises.TryPeek(out var rise) && rise.Next <= next)
        {
            _base = _rises.Dequeue();
        }

        return _base.Watermark;
    }
}

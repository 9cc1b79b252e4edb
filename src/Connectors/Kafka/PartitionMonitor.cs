using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// What the consumer knows of each assigned partition: how far it has read, how far the broker's log goes, and how
/// far the committed offset has come, and from that whether the partition is <b>caught up</b> (every record the broker
/// holds has been taken: only then may it count as idle for the watermark) and whether it is <b>stalled</b> (its
/// committed offset has not moved for the stall timeout while records wait beyond it). Owned by the consume loop's
/// thread; <see cref="Snapshot"/> makes the immutable view that <see cref="Publish"/> hands to other threads
/// (<see cref="Progress"/>, <see cref="Lag"/>).
/// </summary>
internal sealed class PartitionMonitor(TimeSpan stallTimeout)
{
    /// <summary>How long what the broker said of a partition's end counts as current for "caught up".</summary>
    public static readonly TimeSpan EndKnowledgeLifetime = TimeSpan.FromSeconds(5);

    /// <summary>A silent partition at its end has its end confirmed by asking the broker this often.</summary>
    public static readonly TimeSpan ConfirmEvery = TimeSpan.FromSeconds(2);

    private readonly Dictionary<TopicPartition, State> _partitions = [];
    private IReadOnlyList<PartitionProgress> _progress = [];
    private IReadOnlyList<PartitionLag> _lag = [];
    private long _progressVersion;
    private Dictionary<(string Topic, int Partition), int> _published = [];

    /// <summary>While the consumer is paused no fetch says what is new, so no partition counts as caught up.</summary>
    public bool Paused { get; set; }

    /// <summary>The partitions as last published (any thread).</summary>
    public IReadOnlyList<PartitionProgress> Progress => Volatile.Read(ref _progress);

    /// <summary>Per partition whose lag is known, the lag as last published (any thread).</summary>
    public IReadOnlyList<PartitionLag> Lag => Volatile.Read(ref _lag);

    /// <summary>Changes whenever <see cref="Progress"/> is published anew (any thread).</summary>
    public long ProgressVersion => Interlocked.Read(ref _progressVersion);

    /// <summary>A partition was assigned; consumption starts at <paramref name="start"/> (−1: not known yet) and the broker's log ends at <paramref name="end"/> (−1: not known).</summary>
    public void Assigned(TopicPartition partition, long start, long end, DateTime now) =>
        _partitions[partition] = new State { Next = start, End = end, Committed = start, CommittedMoved = now, EndConfirmed = end >= 0 ? now : DateTime.MinValue };

    public void Revoked(TopicPartition partition) => _partitions.Remove(partition);

    /// <summary>A record was taken (in offset order).</summary>
    /// <returns>Whether the partition was at its end before: new records arrived after a silence.</returns>
    public bool Taken(TopicPartition partition, long offset, DateTime now)
    {
        var wasAtEnd = false;
        if (_partitions.TryGetValue(partition, out var state))
        {
            wasAtEnd = state.LastTaken < 0 || state.EndReached >= 0;
            state.Next = offset + 1;
            state.LastTaken = offset;
            state.LastTakenAt = now;
            state.EndReached = -1;
            if (state.Committed < 0)
            {
                state.Committed = offset; // started where the client chose (no committed offset): nothing before it is ours
            }
        }

        return wasAtEnd;
    }

    /// <summary>A record was given back to be read again (a seek back under backpressure).</summary>
    public void SoughtBack(TopicPartition partition, long offset)
    {
        if (_partitions.TryGetValue(partition, out var state))
        {
            state.Next = offset;
            state.EndReached = -1;
        }
    }

    /// <summary>The fetcher reached the end of the partition's log at <paramref name="end"/> (the client's partition-EOF event).</summary>
    public void ReachedEnd(TopicPartition partition, long end, DateTime now)
    {
        if (_partitions.TryGetValue(partition, out var state))
        {
            state.EndReached = end;
            state.End = Math.Max(state.End, end);
            state.EndConfirmed = now;
            if (state.Next < 0)
            {
                state.Next = end;
            }

            if (state.Committed < 0)
            {
                state.Committed = end;
            }
        }
    }

    /// <summary>
    /// The broker's log of the partition ends at <paramref name="end"/>, as the client last fetched it (possibly stale);
    /// never moves back.
    /// </summary>
    public void SeenEnd(TopicPartition partition, long end)
    {
        if (end >= 0 && _partitions.TryGetValue(partition, out var state) && end > state.End)
        {
            state.End = end;
        }
    }

    /// <summary>
    /// The broker itself said that the partition's log ended at <paramref name="end"/> when it was asked at
    /// <paramref name="now"/>. An answer to a question asked before the partition's end was forgotten
    /// (<see cref="ForgetEnds"/>) confirms nothing: records may have come after it.
    /// </summary>
    public void ConfirmedEnd(TopicPartition partition, long end, DateTime now)
    {
        if (end >= 0 && _partitions.TryGetValue(partition, out var state))
        {
            state.End = Math.Max(state.End, end);
            if (now > state.EndConfirmed && now >= state.EndForgotten)
            {
                state.EndConfirmed = now;
            }
        }
    }

    /// <summary>
    /// What the broker said of where <paramref name="partitions"/> end is out of date as of <paramref name="now"/> (records
    /// may have arrived while they were paused): none of them counts as caught up until a fetch reaches its end or the
    /// broker answers a question asked from now on.
    /// </summary>
    public void ForgetEnds(IEnumerable<TopicPartition> partitions, DateTime now)
    {
        foreach (var tp in partitions)
        {
            if (_partitions.TryGetValue(tp, out var state))
            {
                state.EndConfirmed = DateTime.MinValue;
                state.EndForgotten = now;
            }
        }
    }

    /// <summary>
    /// Partitions at their end whose end should be confirmed with the broker now: silent for a second (a partition with
    /// records flowing is not idle anyway) and not confirmed for <see cref="ConfirmEvery"/>. Without a fresh confirmation
    /// a partition whose fetches fail would look caught up while its records wait.
    /// </summary>
    public IEnumerable<TopicPartition> ToConfirm(DateTime now)
    {
        foreach (var (tp, state) in _partitions)
        {
            var atEnd = state.End >= 0 && ((state.Next >= 0 && state.Next >= state.End) || state.EndReached >= state.End);
            if (atEnd && now - state.EndConfirmed >= ConfirmEvery && now - state.LastTakenAt >= TimeSpan.FromSeconds(1))
            {
                yield return tp;
            }
        }
    }

    /// <summary>The offset a restart would read from moved to <paramref name="next"/> (stored for the next commit, or committed in an epoch).</summary>
    public void Committed(TopicPartition partition, long next, DateTime now)
    {
        if (_partitions.TryGetValue(partition, out var state) && next > state.Committed)
        {
            state.Committed = next;
            state.CommittedMoved = now;
        }
    }

    /// <summary>
    /// Partitions that may count as idle for the watermark: at their end, and never read or silent for
    /// <paramref name="idleAfter"/>. When another partition wakes up, what the client knows of their ends may be a
    /// fetch reply behind; they are the ones worth asking the broker about.
    /// </summary>
    public IEnumerable<TopicPartition> IdleCandidates(DateTime now, TimeSpan idleAfter)
    {
        foreach (var (tp, state) in _partitions)
        {
            var atEnd = state.End >= 0 && ((state.Next >= 0 && state.Next >= state.End) || state.EndReached >= state.End);
            if (atEnd && (state.LastTaken < 0 || now - state.LastTakenAt >= idleAfter))
            {
                yield return tp;
            }
        }
    }

    /// <summary>The partitions as of <paramref name="now"/>, with those that became stalled or recovered since the last call.</summary>
    public IReadOnlyList<PartitionProgress> Snapshot(DateTime now, List<PartitionProgress> changed)
    {
        var progress = new List<PartitionProgress>(_partitions.Count);
        foreach (var (tp, state) in _partitions)
        {
            progress.Add(ItemOf(tp, state, now, changed));
        }

        return progress;
    }

    /// <summary>Publishes <paramref name="progress"/> (a <see cref="Snapshot"/>) and its lags for other threads.</summary>
    public void Publish(IReadOnlyList<PartitionProgress> progress)
    {
        var positions = new Dictionary<(string Topic, int Partition), int>(progress.Count);
        for (var i = 0; i < progress.Count; i++)
        {
            positions[(progress[i].Topic, progress[i].Partition)] = i;
        }

        _published = positions;
        Volatile.Write(ref _progress, progress);
        Interlocked.Increment(ref _progressVersion);
        Volatile.Write(ref _lag, [.. progress.Where(p => p.Lag >= 0).Select(p => new PartitionLag(p.Topic, p.Partition, p.Lag))]);
    }

    /// <summary>
    /// Publishes <paramref name="partitions"/> as of <paramref name="now"/> and every other partition as last published:
    /// what a record taken after a silence changes, at the cost of those partitions rather than of all assigned ones
    /// (a full <see cref="Snapshot"/> five times a second keeps the rest, and the lags, current).
    /// </summary>
    /// <param name="partitions">The partitions whose state changed.</param>
    /// <param name="now">The time their state is judged at.</param>
    /// <param name="changed">Receives those of them that became stalled or recovered.</param>
    /// <returns>false when a partition was not in the last publication (assigned since): then nothing is published.</returns>
    public bool PublishAgain(IEnumerable<TopicPartition> partitions, DateTime now, List<PartitionProgress> changed)
    {
        var progress = Progress.ToArray();
        foreach (var tp in partitions)
        {
            if (!_partitions.TryGetValue(tp, out var state) || !_published.TryGetValue((tp.Topic, tp.Partition.Value), out var position))
            {
                return false;
            }

            progress[position] = ItemOf(tp, state, now, changed);
        }

        Volatile.Write(ref _progress, progress);
        Interlocked.Increment(ref _progressVersion);
        return true;
    }

    private PartitionProgress ItemOf(TopicPartition tp, State state, DateTime now, List<PartitionProgress> changed)
    {
        // Everything is taken when the next offset to take is the log's end, or when the fetcher said it reached the
        // end (that end is past any transaction markers, which are never taken as records).
        var everythingTaken = state.End >= 0 && ((state.Next >= 0 && state.Next >= state.End) || state.EndReached >= state.End);
        var caughtUp = !Paused && everythingTaken && now - state.EndConfirmed <= EndKnowledgeLifetime;
        var lag = everythingTaken ? 0 : state.End >= 0 && state.Next >= 0 ? Math.Max(0, state.End - state.Next) : -1;
        var backlog = everythingTaken && state.Committed > state.LastTaken ? 0
            : state.End >= 0 && state.Committed >= 0 ? Math.Max(0, state.End - state.Committed) : 0;
        if (backlog > 0 && !state.HadBacklog)
        {
            state.CommittedMoved = now; // work just appeared: the wait for its commit starts now
        }

        state.HadBacklog = backlog > 0;
        var waiting = backlog > 0 ? now - state.CommittedMoved : TimeSpan.Zero;
        var stalled = backlog > 0 && waiting >= stallTimeout;
        var item = new PartitionProgress(tp.Topic, tp.Partition.Value, lag, caughtUp, state.LastTaken, state.Committed, backlog, waiting, stalled);
        if (stalled != state.Stalled)
        {
            state.Stalled = stalled;
            changed.Add(item);
        }

        return item;
    }

    private sealed class State
    {
        public long Next { get; set; } = -1;

        public long End { get; set; } = -1;

        public long EndReached { get; set; } = -1;

        public long LastTaken { get; set; } = -1;

        public long Committed { get; set; } = -1;

        public DateTime CommittedMoved { get; set; }

        public DateTime EndConfirmed { get; set; } = DateTime.MinValue;

        // When what was known of the end was last forgotten: answers to questions asked before it confirm nothing.
        public DateTime EndForgotten { get; set; } = DateTime.MinValue;

        public DateTime LastTakenAt { get; set; } = DateTime.MinValue;

        public bool Stalled { get; set; }

        public bool HadBacklog { get; set; }
    }
}

/// <summary>One assigned partition of the sensor-events topic, as the consumer sees it.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition.</param>
/// <param name="Lag">Records the broker holds after the consumer's position (−1 while unknown).</param>
/// <param name="CaughtUp">Every record the broker holds has been taken: the consumer reached the log's end and knows of nothing newer, and is not paused.</param>
/// <param name="LastTaken">The offset of the newest record taken since the partition was assigned (−1: none).</param>
/// <param name="Committed">The offset a restart would read from: committed, or stored for the next commit (−1 while unknown).</param>
/// <param name="Backlog">Records beyond <paramref name="Committed"/>: taken and not yet done, or not yet taken.</param>
/// <param name="SinceCommitMoved">How long records have waited beyond <paramref name="Committed"/> without it moving (zero when none wait).</param>
/// <param name="Stalled">Records wait beyond the committed offset, and it has not moved for the stall timeout.</param>
public sealed record PartitionProgress(string Topic, int Partition, long Lag, bool CaughtUp, long LastTaken, long Committed, long Backlog, TimeSpan SinceCommitMoved, bool Stalled);

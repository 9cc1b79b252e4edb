namespace Kommune.Connectors.Kafka;

/// <summary>
/// Tracks which offsets of one partition are in flight and which are done, and says up to where the partition
/// may be committed: the offset after the longest run of done offsets from the start. Records finish out of order
/// (different sensors, different outputs); the commit point only moves over offsets that are all done. Thread-safe.
/// It also says where its records come from and whom to tell when one is done, so that each record taken (one object
/// per event on the hot path) holds one reference for all of that.
/// </summary>
internal sealed class PartitionOffsetTracker
{
    private static readonly Action Nothing = static () => { };

    private readonly Lock _gate = new();
    private readonly Queue<long> _pending = new();
    private readonly HashSet<long> _done = [];
    private long _committable;
    private long _lastTaken = -1;

    /// <summary>A tracker whose commit point starts at <paramref name="startOffset"/>, of no named partition (tests).</summary>
    public PartitionOffsetTracker(long startOffset)
        : this(string.Empty, 0, startOffset)
    {
    }

    /// <summary>
    /// A tracker of <paramref name="topic"/>'s <paramref name="partition"/> whose commit point starts at
    /// <paramref name="startOffset"/>; <paramref name="onRecordCompleted"/> and <paramref name="onRecordReleased"/> run
    /// when one of its records completes or is released (the source's <see cref="BackpressureGate"/> counts).
    /// </summary>
    public PartitionOffsetTracker(string topic, int partition, long startOffset, Action? onRecordCompleted = null, Action? onRecordReleased = null)
    {
        Topic = topic;
        Partition = partition;
        _committable = startOffset;
        OnRecordCompleted = onRecordCompleted ?? Nothing;
        OnRecordReleased = onRecordReleased ?? Nothing;
    }

    /// <summary>The topic of the partition.</summary>
    public string Topic { get; }

    /// <summary>The partition.</summary>
    public int Partition { get; }

    /// <summary>Runs when a record of this partition completes (<see cref="ConsumedRecord.Complete"/> or <see cref="ConsumedRecord.Abandon"/>).</summary>
    public Action OnRecordCompleted { get; }

    /// <summary>Runs when a record of this partition is released (<see cref="ConsumedRecord.Release"/>).</summary>
    public Action OnRecordReleased { get; }

    /// <summary>False once the partition was revoked: completions then change nothing.</summary>
    public bool IsActive { get; private set; } = true;

    /// <summary>How many offsets were started and are not done: records whose offsets are not yet committable.</summary>
    public int AwaitingCommit
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count - _done.Count;
            }
        }
    }

    /// <summary>The next offset to commit: every offset below it is done.</summary>
    public long Committable
    {
        get
        {
            lock (_gate)
            {
                return _committable;
            }
        }
    }

    /// <summary>Records that <paramref name="offset"/> was handed on for processing. Offsets must rise.</summary>
    public void Start(long offset)
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                // Offsets may skip (transaction markers, retention): the commit point jumps to the first in flight.
                _committable = Math.Max(_committable, offset);
            }

            _pending.Enqueue(offset);
        }
    }

    /// <summary>Records that <paramref name="offset"/> is done: processed, and its outputs acknowledged.</summary>
    public void Complete(long offset)
    {
        lock (_gate)
        {
            if (!IsActive)
            {
                return;
            }

            _done.Add(offset);
            while (_pending.TryPeek(out var head) && _done.Remove(head))
            {
                _pending.Dequeue();
                _committable = head + 1;
            }
        }
    }

    /// <summary>Whether the commit point moved since it was last taken.</summary>
    public bool HasCommittable
    {
        get
        {
            lock (_gate)
            {
                return IsActive && _committable != _lastTaken;
            }
        }
    }

    /// <summary>Returns the commit point if it moved since the last call.</summary>
    public bool TryTakeCommittable(out long offset)
    {
        lock (_gate)
        {
            offset = _committable;
            if (!IsActive || offset == _lastTaken)
            {
                return false;
            }

            _lastTaken = offset;
            return true;
        }
    }

    /// <summary>Stops tracking: the partition went to another consumer.</summary>
    public void Deactivate()
    {
        lock (_gate)
        {
            IsActive = false;
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    private readonly Dictionary<long, StateWaits> _stateWaits = []; // offsets whose records wait for state records
    private long _committable;
    private long _lastTaken = -1;
    private long _lastStarted = -1;

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
            _lastStarted = offset;
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

    /// <summary>How a record's completion went, given the state records it waits for.</summary>
    internal enum Completion
    {
        /// <summary>No state record waits: the record completes now.</summary>
        Now,

        /// <summary>State records wait: the last of them completes the record.</summary>
        Deferred,

        /// <summary>A state record it waited for was given up (its key's partition was lost): the record is abandoned.</summary>
        Abandoned,
    }

    /// <summary>One more state record that includes the record at <paramref name="offset"/> must be acknowledged first.</summary>
    internal void AddStateWait(long offset)
    {
        lock (_gate)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_stateWaits, offset, out _).Count++;
        }
    }

    /// <summary>
    /// A state record the record at <paramref name="offset"/> waited for was acknowledged, or given up when
    /// <paramref name="abandoned"/>. The last one completes (or abandons) the record if it is otherwise done.
    /// </summary>
    internal void StateWaitDone(long offset, bool abandoned)
    {
        StateWaits finished;
        lock (_gate)
        {
            ref var waits = ref CollectionsMarshal.GetValueRefOrNullRef(_stateWaits, offset);
            if (Unsafe.IsNullRef(ref waits))
            {
                return;
            }

            waits.Abandoned |= abandoned;
            if (--waits.Count > 0 || (!waits.RecordDone && waits.Abandoned))
            {
                return; // more to wait for; or abandoned, which the record's own completion must still see
            }

            finished = waits;
            _stateWaits.Remove(offset);
            if (!finished.RecordDone)
            {
                return; // every state record written before the record itself is done: it completes as usual
            }
        }

        if (!finished.Abandoned)
        {
            finished.Processed?.Invoke(finished.Label!);
            Complete(offset);
        }

        OnRecordCompleted();
    }

    /// <summary>
    /// The record at <paramref name="offset"/> is done but for the state records it waits for: says whether it
    /// completes now, later (when its last state record is acknowledged, which then reports <paramref name="label"/> to
    /// <paramref name="processed"/>, marks the offset done and tells <see cref="OnRecordCompleted"/>), or is abandoned.
    /// </summary>
    internal Completion CompleteAfterState(long offset, string label, Action<string>? processed)
    {
        lock (_gate)
        {
            ref var waits = ref CollectionsMarshal.GetValueRefOrNullRef(_stateWaits, offset);
            if (Unsafe.IsNullRef(ref waits))
            {
                return Completion.Now;
            }

            if (waits.Count == 0)
            {
                _stateWaits.Remove(offset); // only an abandoned wait keeps an entry without a count
                return Completion.Abandoned;
            }

            waits.RecordDone = true;
            waits.Label = label;
            waits.Processed = processed;
            return Completion.Deferred;
        }
    }

    /// <summary>The record at <paramref name="offset"/> was abandoned: its state waits change nothing any more.</summary>
    internal void ForgetStateWaits(long offset)
    {
        lock (_gate)
        {
            _stateWaits.Remove(offset);
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

    /// <summary>
    /// Where the commit point will be once every record handed on so far is done (the offset after the last one, or the
    /// commit point when none is pending), if that is not where it was last taken: what an exactly-once epoch, which
    /// hands on no record while it settles, will commit.
    /// </summary>
    public bool TryPeekCommittableOnceDone(out long offset)
    {
        lock (_gate)
        {
            offset = _pending.Count > 0 ? _lastStarted + 1 : _committable;
            return IsActive && offset != _lastTaken;
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

    // What a record waiting for its state records needs when the last of them is acknowledged: kept here, in one table
    // per partition, so that the record's own objects (about 260 bytes per event on both sides of the repartition hop)
    // die young instead of surviving a young collection for the state interval.
    private struct StateWaits
    {
        public int Count;
        public bool RecordDone;
        public bool Abandoned;
        public string? Label;
        public Action<string>? Processed;
    }
}

using System.Runtime.CompilerServices;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The event source's in-flight bound. It counts two things of the records taken from Kafka:
/// <list type="bullet">
/// <item><see cref="Processing"/>: taken and not yet released (<see cref="ConsumedRecord.Release"/>): being processed.
/// Bounded by the limit it was made with.</item>
/// <item><see cref="AwaitingCommit"/>: taken and not yet completed (<see cref="ConsumedRecord.Complete"/> or
/// <see cref="ConsumedRecord.Abandon"/>): their offsets are not yet committable, because they are being processed or
/// the state they changed is not yet acknowledged. Bounded by a second, larger limit: at a steady rate about the rate
/// times the state interval wait for their state by design.</item>
/// </list>
/// From those it says when the consumer must pause (<see cref="Busy"/>) and when it may resume (<see cref="Relieved"/>),
/// and <see cref="NextStep"/> says what the consume loop does about it. The counts change on any thread (records
/// complete on the engine's); the pause state belongs to the consume loop's thread.
/// </summary>
internal sealed class BackpressureGate
{
    private readonly int _maxProcessing;
    private readonly long _maxAwaitingCommit;
    private long _processing;
    private long _peakProcessing;
    private long _awaitingCommit;
    private long _peakAwaitingCommit;
    private long _pauses;
    private long _resumes;
    private long _stateWritesAsked;
    private DateTime? _stateWriteAskedAt;
    private bool _assignmentChanged;

    /// <summary>A gate that pauses at <paramref name="maxProcessing"/> records being processed or four times that taken and not yet completed.</summary>
    public BackpressureGate(int maxProcessing)
        : this(maxProcessing, (int)Math.Min(int.MaxValue, 4L * Math.Max(maxProcessing, 1)))
    {
    }

    /// <summary>
    /// A gate that pauses at <paramref name="maxProcessing"/> records being processed or
    /// <paramref name="maxAwaitingCommit"/> taken and not yet completed.
    /// </summary>
    public BackpressureGate(int maxProcessing, int maxAwaitingCommit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxProcessing, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAwaitingCommit, maxProcessing);
        _maxProcessing = maxProcessing;
        _maxAwaitingCommit = maxAwaitingCommit;
        OnRecordCompleted = RecordCompleted;
        OnRecordReleased = RecordReleased;
    }

    /// <summary>What the consume loop does about backpressure at the start of a turn.</summary>
    public enum Step
    {
        /// <summary>Nothing changes.</summary>
        None,

        /// <summary>Pause every assigned partition: too much is in flight.</summary>
        Pause,

        /// <summary>Still paused, but partitions were assigned since (they arrive unpaused): pause them too.</summary>
        PauseAssigned,

        /// <summary>Resume every assigned partition: enough is done.</summary>
        Resume,
    }

    /// <summary>
    /// <see cref="RecordCompleted"/>, made once: the partition trackers call it when one of their records completes, so
    /// no delegate is made per tracker or per record.
    /// </summary>
    public Action OnRecordCompleted { get; }

    /// <summary><see cref="RecordReleased"/>, made once, for the partition trackers.</summary>
    public Action OnRecordReleased { get; }

    /// <summary>Records taken and not yet released: being processed.</summary>
    public long Processing => Interlocked.Read(ref _processing);

    /// <summary>The most records ever being processed at once.</summary>
    public long PeakProcessing => Interlocked.Read(ref _peakProcessing);

    /// <summary>Records taken and not yet completed: their offsets are not yet committable.</summary>
    public long AwaitingCommit => Interlocked.Read(ref _awaitingCommit);

    /// <summary>The most records ever taken and not yet completed at once.</summary>
    public long PeakAwaitingCommit => Interlocked.Read(ref _peakAwaitingCommit);

    /// <summary>How often the consumer paused.</summary>
    public long Pauses => Interlocked.Read(ref _pauses);

    /// <summary>How often the consumer resumed.</summary>
    public long Resumes => Interlocked.Read(ref _resumes);

    /// <summary>
    /// How long <see cref="StateWriteDue"/> waits before it asks again while the consumer is paused and the records
    /// awaiting commit keep it from resuming: as often as an exactly-once epoch nudges the state it waits for.
    /// </summary>
    public static readonly TimeSpan StateWriteRepeat = TimeSpan.FromMilliseconds(100);

    /// <summary>How often <see cref="StateWriteDue"/> asked for changed state to be written early.</summary>
    public long StateWritesAsked => Interlocked.Read(ref _stateWritesAsked);

    /// <summary>Whether the consumer's partitions are paused.</summary>
    public bool IsPaused { get; private set; }

    /// <summary>
    /// Too much in flight: records being processed at their bound, or (when state writes lag, for example while the
    /// broker is slow) records waiting to complete at theirs.
    /// </summary>
    public bool Busy => Processing >= _maxProcessing || AwaitingCommit >= _maxAwaitingCommit;

    /// <summary>Enough done to take records again: half of each bound.</summary>
    public bool Relieved => Processing <= _maxProcessing / 2 && AwaitingCommit <= _maxAwaitingCommit / 2;

    /// <summary>
    /// Whether the engine should write its changed state now rather than at its next checkpoint: while the consumer is
    /// paused and the records awaiting commit keep it from resuming (over half their bound), at once and then every
    /// <see cref="StateWriteRepeat"/> (state changed after an ask is not covered by it). Processed records that wait for
    /// their state are what fills that count when the rate times the state interval is large; without the ask the pause
    /// would last until their checkpoints come, a whole state interval at worst. Not asked while the consumer runs: an
    /// ask brings forward the checkpoints of every key with changed state at once, a burst of work that a running engine
    /// spreads over the interval. Called from the consume loop's thread.
    /// </summary>
    /// <param name="now">The time now (UTC).</param>
    public bool StateWriteDue(DateTime now)
    {
        if (!IsPaused || AwaitingCommit <= _maxAwaitingCommit / 2)
        {
            _stateWriteAskedAt = null;
            return false;
        }

        if (_stateWriteAskedAt is { } asked && now - asked < StateWriteRepeat)
        {
            return false;
        }

        _stateWriteAskedAt = now;
        Interlocked.Increment(ref _stateWritesAsked);
        return true;
    }

    /// <summary>A record was taken: it is being processed and awaits its commit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Taken()
    {
        var processing = Interlocked.Increment(ref _processing);
        if (processing > Interlocked.Read(ref _peakProcessing))
        {
            Interlocked.Exchange(ref _peakProcessing, processing);
        }

        var awaitingCommit = Interlocked.Increment(ref _awaitingCommit);
        if (awaitingCommit > Interlocked.Read(ref _peakAwaitingCommit))
        {
            Interlocked.Exchange(ref _peakAwaitingCommit, awaitingCommit);
        }
    }

    /// <summary>A record's processing is done (its state may still wait to be written).</summary>
    public void RecordReleased() => Interlocked.Decrement(ref _processing);

    /// <summary>A record is done, or given up: it no longer awaits its commit.</summary>
    public void RecordCompleted() => Interlocked.Decrement(ref _awaitingCommit);

    /// <summary>Partitions were assigned: they arrive unpaused, so while paused they must be paused too.</summary>
    public void AssignmentChanged() => _assignmentChanged = true;

    /// <summary>What to do now: pause when busy, pause newly assigned partitions while paused, resume when relieved.</summary>
    public Step NextStep()
    {
        if (!IsPaused && Busy)
        {
            return Step.Pause;
        }

        if (IsPaused && _assignmentChanged)
        {
            return Step.PauseAssigned;
        }

        return IsPaused && Relieved ? Step.Resume : Step.None;
    }

    /// <summary>Every assigned partition was paused (again, possibly).</summary>
    /// <returns>Whether the consumer was not paused before: a new pause, counted.</returns>
    public bool Paused()
    {
        _assignmentChanged = false;
        if (IsPaused)
        {
            return false;
        }

        IsPaused = true;
        Interlocked.Increment(ref _pauses);
        return true;
    }

    /// <summary>Every assigned partition was resumed.</summary>
    public void Resumed()
    {
        IsPaused = false;
        Interlocked.Increment(ref _resumes);
    }
}

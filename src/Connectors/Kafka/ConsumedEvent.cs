using System.Diagnostics;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// A decoded sensor event with where it was read from. The engine calls <see cref="Complete"/> exactly once, after
/// the event was processed and every output it caused (its state included) was acknowledged by the broker; only then
/// can its offset be committed. It may call <see cref="Release"/> before that, once the event's processing is done
/// and only the state it changed waits to be written: the event then no longer counts against the in-flight bound.
/// </summary>
public sealed class ConsumedEvent
{
    private readonly PartitionOffsetTracker _tracker;
    private readonly Action _onCompleted;
    private readonly Action _onReleased;
    private int _completed;
    private int _released;

    internal ConsumedEvent(SensorEvent sensorEvent, RecordSource source, PartitionOffsetTracker tracker, Action onCompleted, Action onReleased)
    {
        Event = sensorEvent;
        Source = source;
        ConsumedAt = Stopwatch.GetTimestamp();
        _tracker = tracker;
        _onCompleted = onCompleted;
        _onReleased = onReleased;
    }

    /// <summary>Marks the event's processing done (its state may still wait to be written). Later calls do nothing.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _onReleased();
        }
    }

    /// <summary>When the record was taken from the consumer (<see cref="Stopwatch"/> ticks): where processing latency starts.</summary>
    public long ConsumedAt { get; }

    /// <summary>The event.</summary>
    public SensorEvent Event { get; }

    /// <summary>Where it came from, with its original bytes (for dead letters).</summary>
    public RecordSource Source { get; }

    /// <summary>Marks the event done. Later calls do nothing.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            Release();
            _tracker.Complete(Source.Offset);
            _onCompleted();
        }
    }
}

/// <summary>The coordinates and original bytes of a consumed record.</summary>
/// <param name="Topic">Source topic.</param>
/// <param name="Partition">Source partition.</param>
/// <param name="Offset">Source offset.</param>
/// <param name="Key">Original key bytes, or null.</param>
/// <param name="Value">Original value bytes, or null.</param>
public sealed record RecordSource(string Topic, int Partition, long Offset, byte[]? Key, byte[]? Value);

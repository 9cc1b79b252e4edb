using System.Diagnostics;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// A record taken from Kafka with where it was read from. The engine calls <see cref="Complete"/> exactly once, after
/// the record was processed and every output it caused (its state included) was acknowledged by the broker; only then
/// can its offset be committed. It may call <see cref="Release"/> before that, once the record's processing is done
/// and only the state it changed waits to be written: it then no longer counts against the in-flight bound.
/// </summary>
public abstract class ConsumedRecord
{
    private const int Completed = 1;
    private const int Released = 2;

    // One object per event on the hot path: where it came from is its partition tracker's topic and partition and its
    // own offset, key and value, not a copy of all of them.
    private readonly PartitionOffsetTracker _tracker;
    private readonly long _offset;
    private byte[]? _key; // both dropped at Release: what waits for its state must not keep its bytes alive
    private byte[]? _value;
    private int _done; // Completed | Released, each set once

    private protected ConsumedRecord(PartitionOffsetTracker tracker, long offset, byte[]? key, byte[]? value)
    {
        ConsumedAt = Stopwatch.GetTimestamp();
        _tracker = tracker;
        _offset = offset;
        _key = key;
        _value = value;
    }

    /// <summary>When the record was taken from the consumer (<see cref="Stopwatch"/> ticks): where processing latency starts.</summary>
    public long ConsumedAt { get; }

    /// <summary>Where it came from, with its original bytes (for dead letters; null once released).</summary>
    public RecordSource Source => new(_tracker.Topic, _tracker.Partition, _offset, _key, _value);

    /// <summary>What the engine counts it as when done (a sensor type, or what an internal record carried).</summary>
    public abstract string Label { get; }

    /// <summary>
    /// Marks the record's processing done (its state may still wait to be written), and lets go of what only processing
    /// needs: its bytes and what was decoded from them. An event processed at a steady rate waits up to a state interval
    /// for its key's checkpoint; holding its payload that long made every young-generation collection copy tens of
    /// megabytes. Later calls do nothing.
    /// </summary>
    public void Release()
    {
        if ((Interlocked.Or(ref _done, Released) & Released) == 0)
        {
            _key = null;
            _value = null;
            DropPayload();
            _tracker.OnRecordReleased();
        }
    }

    /// <summary>Lets go of what was decoded from the record: its processing is done.</summary>
    private protected abstract void DropPayload();

    /// <summary>
    /// Gives the record up without doing it (its partition went to another node, which reads it again): it stops
    /// counting as in flight, and its offset is not marked done, so no commit moves past it. Later calls, and a later
    /// <see cref="Complete"/>, do nothing.
    /// </summary>
    public void Abandon()
    {
        if ((Interlocked.Or(ref _done, Completed) & Completed) == 0)
        {
            Release();
            _tracker.ForgetStateWaits(_offset);
            _tracker.OnRecordCompleted();
        }
    }

    /// <summary>
    /// One more state record that includes this record must be acknowledged before it completes: the returned wait says
    /// when. Call it while the record is not yet complete (while a part of its processing is still held).
    /// </summary>
    public StateWait AwaitState()
    {
        _tracker.AddStateWait(_offset);
        return new StateWait(_tracker, _offset);
    }

    /// <summary>
    /// Marks the record done: its processing and outputs are, and, once each <see cref="AwaitState"/> wait is done, its
    /// state. <paramref name="processed"/> (if given) is told the record's <see cref="Label"/> just before its offset is
    /// marked done, now or when its last state wait is (not if one of them was given up). Later calls do nothing.
    /// </summary>
    public void Complete(Action<string>? processed = null)
    {
        if ((Interlocked.Or(ref _done, Completed) & Completed) == 0)
        {
            Release();
            switch (_tracker.CompleteAfterState(_offset, Label, processed))
            {
                case PartitionOffsetTracker.Completion.Now:
                    processed?.Invoke(Label);
                    _tracker.Complete(_offset);
                    _tracker.OnRecordCompleted();
                    break;
                case PartitionOffsetTracker.Completion.Abandoned:
                    _tracker.OnRecordCompleted(); // as Abandon: counted done, offset not marked
                    break;
                case PartitionOffsetTracker.Completion.Deferred:
                    break; // the last state wait completes it; this object need not live until then
            }
        }
    }
}

/// <summary>
/// A state record that a consumed record waits for (<see cref="ConsumedRecord.AwaitState"/>): a value of 16 bytes that
/// names the record's partition and offset, so that what waits for a key's checkpoint keeps no object of the record
/// alive.
/// </summary>
public readonly struct StateWait
{
    private readonly PartitionOffsetTracker _tracker;
    private readonly long _offset;

    internal StateWait(PartitionOffsetTracker tracker, long offset)
    {
        _tracker = tracker;
        _offset = offset;
    }

    /// <summary>The state record was acknowledged (or turned out not to be needed). Call once.</summary>
    public void Done() => _tracker.StateWaitDone(_offset, abandoned: false);

    /// <summary>
    /// The state record will not be written here (the key's partition went to another node, which does the record
    /// again): the record is abandoned, as by <see cref="ConsumedRecord.Abandon"/>, once its own processing is done.
    /// Call once, instead of <see cref="Done"/>.
    /// </summary>
    public void Abandon() => _tracker.StateWaitDone(_offset, abandoned: true);
}

/// <summary>A decoded sensor event from the sensor-events topic.</summary>
public sealed class ConsumedEvent : ConsumedRecord
{
    // The event while it is processed, then only its type (what a completion after the release still reports): one
    // field, not the event and its label, in an object made for every event.
    private object _payload;

    internal ConsumedEvent(SensorEvent sensorEvent, PartitionOffsetTracker tracker, long offset, byte[]? key, byte[]? value)
        : base(tracker, offset, key, value)
    {
        _payload = sensorEvent;
    }

    /// <summary>The event, while it is processed.</summary>
    /// <exception cref="InvalidOperationException">The record was released: its processing is done.</exception>
    public SensorEvent Event => _payload as SensorEvent ?? throw new InvalidOperationException("The event was released: its processing is done.");

    /// <inheritdoc />
    public override string Label => _payload is SensorEvent sensorEvent ? sensorEvent.Type : (string)_payload;

    private protected override void DropPayload()
    {
        if (_payload is SensorEvent sensorEvent)
        {
            _payload = sensorEvent.Type;
        }
    }
}

/// <summary>A decoded record of the engine's repartition topic: area work, watermarks or a forwarded command.</summary>
public sealed class ConsumedRepartitionRecord : ConsumedRecord
{
    private const string InternalLabel = "internal";

    // The record while it is processed, then only its label (as ConsumedEvent's).
    private object _payload;

    internal ConsumedRepartitionRecord(RepartitionRecord record, PartitionOffsetTracker tracker, long offset, byte[]? key, byte[]? value)
        : base(tracker, offset, key, value)
    {
        _payload = record;
    }

    /// <summary>The record, while it is processed.</summary>
    /// <exception cref="InvalidOperationException">The record was released: its processing is done.</exception>
    public RepartitionRecord Record => _payload as RepartitionRecord ?? throw new InvalidOperationException("The record was released: its processing is done.");

    /// <inheritdoc />
    public override string Label => _payload is RepartitionRecord record ? LabelOf(record) : (string)_payload;

    private static string LabelOf(RepartitionRecord record) => record.Event?.Type ?? InternalLabel;

    private protected override void DropPayload()
    {
        if (_payload is RepartitionRecord record)
        {
            _payload = LabelOf(record);
        }
    }
}

/// <summary>
/// The coordinates and original bytes of a consumed record. A value (a struct): it is made for every record consumed and
/// lives inside the record's <see cref="ConsumedRecord"/>, so it costs no object of its own.
/// </summary>
/// <param name="Topic">Source topic.</param>
/// <param name="Partition">Source partition.</param>
/// <param name="Offset">Source offset.</param>
/// <param name="Key">Original key bytes, or null.</param>
/// <param name="Value">Original value bytes, or null.</param>
public readonly record struct RecordSource(string Topic, int Partition, long Offset, byte[]? Key, byte[]? Value);

using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Completes a consumed record once every part of its handling is done: the routing itself, each actor that runs
/// rules on it, each fact or area record it caused (until the broker acknowledged it), and the broker's acknowledgement
/// of every output. Parts are added before they start, so the count cannot reach zero early. The last part releases the
/// record (it no longer counts against the in-flight bound) and completes it; a state record that includes it is
/// waited for by its offset (<see cref="AwaitState"/>), not by this object, so the record's objects die young while
/// its offset waits for the key's checkpoint.
/// The messages that carry a record to its actors (<see cref="RoutedEvent"/>, <see cref="AreaRecord"/>) are their own
/// completion: one object per record on the hot path, not a message and a completion. Several of them can share a record
/// (a repartition record of several areas' events, one <see cref="AreaRecord"/> per area): each then completes a part of
/// the record's own completion (<see cref="AreaRecord"/>'s parent), which completes the record after the last of them.
/// </summary>
internal class EventCompletion(ConsumedRecord consumed, EngineCounters counters) : ICountdown
{
    private readonly ConsumedRecord _consumed = consumed;
    private int _parts = 1;

    /// <summary>This, as the record's completion: the messages that carry a record read as before.</summary>
    public EventCompletion Completion => this;

    /// <summary>The record this completes.</summary>
    protected ConsumedRecord Record => _consumed;

    /// <summary>One more part of the work must finish.</summary>
    public void Add() => Interlocked.Increment(ref _parts);

    /// <summary>A part of the work finished; the last one releases the record and completes it (its state aside).</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _parts) == 0)
        {
            Finished();
        }
    }

    /// <summary>
    /// The last part finished: releases the record and completes it. A completion that is a part of another's completes
    /// that part instead. (Not a field of every completion: one per event on the hot path would cost each 8 bytes.)
    /// </summary>
    protected virtual void Finished()
    {
        if (_consumed is ConsumedEvent)
        {
            // The processing time of sensor events; a repartition record's is part of its event's.
            counters.EventReleased(_consumed.ConsumedAt);
            _consumed.Release();
            _consumed.Complete(counters.ProcessedHandler);
        }
        else
        {
            _consumed.Complete();
        }
    }

    /// <summary>
    /// Gives the record up without completing it (its partition was lost): it stops counting as in flight and its offset
    /// is not marked done. Parts that finish later change nothing.
    /// </summary>
    public void Abandon() => _consumed.Abandon();

    /// <summary>
    /// A state record that includes the record must be acknowledged before it completes: what to tell when it is (or
    /// when it is given up). Called by an actor that still holds a part of the work.
    /// </summary>
    public StateWait AwaitState() => _consumed.AwaitState();
}

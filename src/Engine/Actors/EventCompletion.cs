using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Completes a consumed record once every part of its handling is done: the routing itself, each actor that runs
/// rules on it, each fact or area record it caused (until the broker acknowledged it), the broker's acknowledgement of
/// every output, and the acknowledgement of each state record that includes it. Parts are added before they start, so
/// the count cannot reach zero early. When only state parts are left the record is released: it no longer counts
/// against the in-flight bound, though its offset waits for the state.
/// The messages that carry a record to its actors (<see cref="RoutedEvent"/>, <see cref="AreaRecord"/>) are their own
/// completion: one object per record on the hot path, not a message and a completion.
/// </summary>
internal class EventCompletion(ConsumedRecord consumed, EngineCounters counters) : ICountdown
{
    private readonly ConsumedRecord _consumed = consumed;
    private int _parts = 1;
    private int _work = 1;

    /// <summary>This, as the record's completion: the messages that carry a record read as before.</summary>
    public EventCompletion Completion => this;

    /// <summary>The record this completes.</summary>
    protected ConsumedRecord Record => _consumed;

    /// <summary>One more part of the work must finish.</summary>
    public void Add()
    {
        Interlocked.Increment(ref _parts);
        Interlocked.Increment(ref _work);
    }

    /// <summary>A part of the work finished; the last one releases the record, and completes it if no state waits.</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _work) == 0)
        {
            if (_consumed is ConsumedEvent)
            {
                // The processing time of sensor events; a repartition record's is part of its event's.
                counters.EventReleased(_consumed.ConsumedAt);
            }

            _consumed.Release();
        }

        Finished();
    }

    /// <summary>
    /// Gives the record up without completing it (its partition was lost): it stops counting as in flight and its offset
    /// is not marked done. Parts that finish later change nothing.
    /// </summary>
    public void Abandon() => _consumed.Abandon();

    /// <summary>A state record that includes the record must be acknowledged before it completes.</summary>
    public void AddState() => Interlocked.Increment(ref _parts);

    /// <summary>That state record was acknowledged (or turned out not to be needed).</summary>
    public void StateDone() => Finished();

    private void Finished()
    {
        if (Interlocked.Decrement(ref _parts) == 0)
        {
            if (_consumed is ConsumedEvent sensorEvent)
            {
                counters.EventProcessed(sensorEvent.Label);
            }

            _consumed.Complete();
        }
    }
}

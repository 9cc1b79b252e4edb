using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Completes a consumed record once every part of its handling is done: the routing itself, each actor that runs
/// rules on it, each fact or area record it caused (until the broker acknowledged it), the broker's acknowledgement of
/// every output, and the acknowledgement of each state record that includes it. Parts are added before they start, so
/// the count cannot reach zero early. When only state parts are left the record is released: it no longer counts
/// against the in-flight bound, though its offset waits for the state.
/// </summary>
internal sealed class EventCompletion(ConsumedRecord consumed, EngineCounters counters)
{
    private int _parts = 1;
    private int _work = 1;

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
            if (consumed is ConsumedEvent)
            {
                // The processing time of sensor events; a repartition record's is part of its event's.
                counters.EventReleased(consumed.ConsumedAt);
            }

            consumed.Release();
        }

        Finished();
    }

    /// <summary>
    /// Gives the record up without completing it (its partition was lost): it stops counting as in flight and its offset
    /// is not marked done. Parts that finish later change nothing.
    /// </summary>
    public void Abandon() => consumed.Abandon();

    /// <summary>A state record that includes the record must be acknowledged before it completes.</summary>
    public void AddState() => Interlocked.Increment(ref _parts);

    /// <summary>That state record was acknowledged (or turned out not to be needed).</summary>
    public void StateDone() => Finished();

    private void Finished()
    {
        if (Interlocked.Decrement(ref _parts) == 0)
        {
            if (consumed is ConsumedEvent sensorEvent)
            {
                counters.EventProcessed(sensorEvent.Event.Type);
            }

            consumed.Complete();
        }
    }
}

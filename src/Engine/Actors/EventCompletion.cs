using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Completes a consumed event once every part of its handling is done: the routing itself, each actor that runs
/// rules on it (area and sensor), each fact it caused, and the broker's acknowledgement of every output. Parts are
/// added before they start, so the count cannot reach zero early.
/// </summary>
internal sealed class EventCompletion(ConsumedEvent consumed, EngineCounters counters)
{
    private int _parts = 1;

    /// <summary>One more part must finish.</summary>
    public void Add() => Interlocked.Increment(ref _parts);

    /// <summary>A part finished; the last one completes the event.</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _parts) == 0)
        {
            counters.EventProcessed();
            consumed.Complete();
        }
    }
}

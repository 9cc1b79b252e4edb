using System.Runtime.ExceptionServices;

namespace Kommune.Engine.Actors;

/// <summary>How an actor handles a message that carries a batch: item by item, as if each had come alone.</summary>
internal static class BatchHandling
{
    /// <summary>
    /// Handles every item, in order, even when one throws (an engine bug: rules' exceptions are caught where they run),
    /// so that one failure stalls one item, as it would have as a message of its own, not the rest of the batch. The
    /// first failure is thrown again once all are handled, for the supervisor to count and log; later ones are counted.
    /// </summary>
    public static void Each<T>(T[] items, Action<T> handle, EngineCounters counters)
    {
        ExceptionDispatchInfo? first = null;
        foreach (var item in items)
        {
            try
            {
                handle(item);
            }
            catch (Exception e)
            {
                if (first is null)
                {
                    first = ExceptionDispatchInfo.Capture(e);
                }
                else
                {
                    counters.ActorFailed();
                }
            }
        }

        first?.Throw();
    }
}

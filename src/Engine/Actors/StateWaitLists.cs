using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Lists of what the events that changed a key's state wait for (<see cref="StateWait"/>), reused from one checkpoint
/// to the next: every key of a loaded engine fills one list a second, and a new list each time lived until its state
/// record was acknowledged, through the next young collection. A list that grew very large is let go instead of kept.
/// Thread-safe: actors rent them, the sink's thread gives them back.
/// </summary>
internal sealed class StateWaitLists
{
    private const int MaxKept = 16_384;
    private const int MaxCapacityKept = 4_096;

    private readonly Lock _gate = new();
    private readonly Stack<List<StateWait>> _lists = new();

    /// <summary>An empty list.</summary>
    public List<StateWait> Rent()
    {
        lock (_gate)
        {
            if (_lists.TryPop(out var list))
            {
                return list;
            }
        }

        return new List<StateWait>(4);
    }

    /// <summary>Takes <paramref name="list"/> back; its waits must all have been told, and no one may use it after this.</summary>
    public void Return(List<StateWait> list)
    {
        if (list.Capacity > MaxCapacityKept)
        {
            return;
        }

        list.Clear();
        lock (_gate)
        {
            if (_lists.Count < MaxKept)
            {
                _lists.Push(list);
            }
        }
    }
}

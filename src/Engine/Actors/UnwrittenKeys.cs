using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// The actors whose key's state changed and is not yet written, so that <see cref="EngineContext.WriteStateNow"/> can
/// have them checkpoint at once. Each actor holds a slot of an array that is reused, not an entry of a concurrent
/// dictionary: a key is added and removed once per checkpoint (about once a second for every key of a loaded engine),
/// and a dictionary node made each time lived through the next young collection. Thread-safe.
/// </summary>
internal sealed class UnwrittenKeys
{
    private readonly Lock _gate = new();
    private readonly Stack<int> _free = new();
    private IActorRef?[] _slots = new IActorRef?[64];
    private int _used; // slots handed out at least once; every slot at or above it is free and empty

    /// <summary>Whether no actor is held.</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _free.Count == _used;
            }
        }
    }

    /// <summary>Adds <paramref name="actor"/>; the slot it holds, for <see cref="Remove"/>.</summary>
    public int Add(IActorRef actor)
    {
        lock (_gate)
        {
            if (!_free.TryPop(out var slot))
            {
                slot = _used++;
                if (slot == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                }
            }

            _slots[slot] = actor;
            return slot;
        }
    }

    /// <summary>Frees <paramref name="slot"/>: its actor's state is being written.</summary>
    public void Remove(int slot)
    {
        lock (_gate)
        {
            _slots[slot] = null;
            _free.Push(slot);
        }
    }

    /// <summary>The actors added and not removed, as of now.</summary>
    public List<IActorRef> Snapshot()
    {
        var actors = new List<IActorRef>();
        lock (_gate)
        {
            for (var slot = 0; slot < _used; slot++)
            {
                if (_slots[slot] is { } actor)
                {
                    actors.Add(actor);
                }
            }
        }

        return actors;
    }
}

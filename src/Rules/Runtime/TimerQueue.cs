using Kommune.Rules.Api;

namespace Kommune.Rules.Runtime;

/// <summary>The pending timers of one key, per rule binding and name, in due order (ties in the order they were set).</summary>
internal sealed class TimerQueue
{
    // Made on first use: most keys of a large network hold no timer, and each of these costs a few hundred bytes.
    private SortedSet<Entry>? _eventTime;
    private SortedSet<Entry>? _processingTime;
    private Dictionary<(string Binding, string Name), Entry>? _byName;
    private long _sequence;

    public int Count => _byName?.Count ?? 0;

    /// <summary>How many event-time timers are pending.</summary>
    public int EventTimeCount => _eventTime?.Count ?? 0;

    public IEnumerable<Entry> All => (_eventTime ?? Enumerable.Empty<Entry>()).Concat(_processingTime ?? Enumerable.Empty<Entry>());

    /// <summary>Whether <paramref name="binding"/> has a pending timer (no enumerator when the key has none).</summary>
    public bool HasAny(string binding)
    {
        if (_byName is null)
        {
            return false;
        }

        foreach (var key in _byName.Keys)
        {
            if (key.Binding == binding)
            {
                return true;
            }
        }

        return false;
    }

    public DateTimeOffset? Next(TimeDomain domain) => Queue(domain) is { Count: > 0 } queue ? queue.Min!.Time : null;

    public void Set(string binding, string name, DateTimeOffset time, TimeDomain domain)
    {
        Cancel(binding, name);
        var entry = new Entry(binding, name, time, domain, _sequence++);
        (_byName ??= [])[(binding, name)] = entry;
        var queue = domain == TimeDomain.EventTime
            ? _eventTime ??= new SortedSet<Entry>(DueOrder.Instance)
            : _processingTime ??= new SortedSet<Entry>(DueOrder.Instance);
        queue.Add(entry);
    }

    public bool Cancel(string binding, string name)
    {
        if (_byName is null || !_byName.Remove((binding, name), out var entry))
        {
            return false;
        }

        Queue(entry.Domain)!.Remove(entry);
        return true;
    }

    /// <summary>Removes and returns the earliest timer of the domain due at or before <paramref name="upTo"/>.</summary>
    public Entry? PopDue(TimeDomain domain, DateTimeOffset upTo)
    {
        var queue = Queue(domain);
        if (queue is null || queue.Count == 0 || queue.Min!.Time > upTo)
        {
            return null;
        }

        var entry = queue.Min;
        queue.Remove(entry);
        _byName!.Remove((entry.Binding, entry.Name));
        return entry;
    }

    /// <summary>Removes and returns the earliest timer of the domain, due or not.</summary>
    public Entry? PopEarliest(TimeDomain domain) => Queue(domain) is { Count: > 0 } queue ? PopDue(domain, queue.Min!.Time) : null;

    public void RemoveBinding(string binding)
    {
        if (_byName is null)
        {
            return;
        }

        foreach (var entry in _byName.Values.Where(e => e.Binding == binding).ToList())
        {
            Cancel(entry.Binding, entry.Name);
        }
    }

    private SortedSet<Entry>? Queue(TimeDomain domain) => domain == TimeDomain.EventTime ? _eventTime : _processingTime;

    internal sealed record Entry(string Binding, string Name, DateTimeOffset Time, TimeDomain Domain, long Sequence);

    private sealed class DueOrder : IComparer<Entry>
    {
        public static DueOrder Instance { get; } = new();

        public int Compare(Entry? x, Entry? y)
        {
            var byTime = x!.Time.CompareTo(y!.Time);
            return byTime != 0 ? byTime : x.Sequence.CompareTo(y.Sequence);
        }
    }
}

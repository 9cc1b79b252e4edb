namespace Kommune.Engine.Actors;

/// <summary>
/// The items of one batch grouped by key (an area), each group in the batch's order: how a router turns one message
/// per dispatch batch into one message per child. Its lists are reused from batch to batch; one actor's, not shared.
/// </summary>
/// <typeparam name="T">What is grouped.</typeparam>
internal sealed class BatchByKey<T>
{
    private readonly Dictionary<string, List<T>> _byKey = new(StringComparer.Ordinal);
    private readonly List<KeyValuePair<string, List<T>>> _groups = [];
    private readonly Stack<List<T>> _free = new();

    /// <summary>The groups, in the order their keys first came.</summary>
    public IReadOnlyList<KeyValuePair<string, List<T>>> Groups => _groups;

    /// <summary>Adds <paramref name="item"/> to the group of <paramref name="key"/>.</summary>
    public void Add(string key, T item)
    {
        if (!_byKey.TryGetValue(key, out var group))
        {
            group = _free.TryPop(out var reused) ? reused : [];
            _byKey.Add(key, group);
            _groups.Add(new(key, group));
        }

        group.Add(item);
    }

    /// <summary>Empties every group for the next batch (keys are not kept: a batch's keys are few of all there are).</summary>
    public void Clear()
    {
        foreach (var (_, group) in _groups)
        {
            group.Clear();
            _free.Push(group);
        }

        _groups.Clear();
        _byKey.Clear();
    }
}

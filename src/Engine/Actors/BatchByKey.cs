namespace Kommune.Engine.Actors;

/// <summary>
/// The items of one batch grouped by key (an area, a partition), each group in the batch's order: how a router turns
/// one message per dispatch batch into one message per child, or one record per partition. Its lists are reused from
/// batch to batch; one actor's, not shared.
/// </summary>
/// <typeparam name="TKey">What the items are grouped by (compared with its default equality).</typeparam>
/// <typeparam name="T">What is grouped.</typeparam>
internal sealed class BatchByKey<TKey, T>
    where TKey : notnull
{
    private readonly Dictionary<TKey, List<T>> _byKey = [];
    private readonly List<KeyValuePair<TKey, List<T>>> _groups = [];
    private readonly Stack<List<T>> _free = new();

    /// <summary>The groups, in the order their keys first came.</summary>
    public IReadOnlyList<KeyValuePair<TKey, List<T>>> Groups => _groups;

    /// <summary>Adds <paramref name="item"/> to the group of <paramref name="key"/>.</summary>
    public void Add(TKey key, T item)
    {
        if (!_byKey.TryGetValue(key, out var group))
        {
            group = _free.TryPop(out var reused) ? reused : [];
            _byKey.Add(key, group);
            _groups.Add(new(key, group));
        }

        group.Add(item);
    }

    /// <summary>
    /// Groups <paramref name="items"/> by <paramref name="keyOf"/> and hands each group to <paramref name="deliver"/>
    /// as one message: a single item as itself, all of them as <paramref name="whole"/> (the batch they came in), any
    /// other group as <paramref name="wrap"/> makes it. Empties the groups afterwards, even when a delivery throws.
    /// </summary>
    public void Split(T[] items, Func<T, TKey> keyOf, object whole, Func<T[], object> wrap, Action<TKey, object> deliver)
    {
        try
        {
            foreach (var item in items)
            {
                Add(keyOf(item), item);
            }

            foreach (var (key, group) in _groups)
            {
                deliver(key, group.Count == 1 ? group[0]! : group.Count == items.Length ? whole : wrap([.. group]));
            }
        }
        finally
        {
            Clear();
        }
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

using System.Text;

namespace Kommune.Engine.Hosting;

/// <summary>
/// Which engine node owns which partitions (tasks), as the nodes say it: a node that is running owns what it said it
/// took and has not said it handed over or lost; a node that exited owns nothing. Not thread-safe.
/// </summary>
internal sealed class PartitionOwners(int partitions)
{
    private readonly SortedDictionary<string, SortedSet<int>> _owned = new(StringComparer.Ordinal);

    /// <summary>A node started: it owns nothing yet.</summary>
    public void Join(string node) => _owned.TryAdd(node, []);

    /// <summary>A node took <paramref name="taken"/>.</summary>
    public void Take(string node, IEnumerable<int> taken)
    {
        Join(node);
        _owned[node].UnionWith(taken);
    }

    /// <summary>A node handed over or lost <paramref name="given"/>.</summary>
    public void Give(string node, IEnumerable<int> given)
    {
        if (_owned.TryGetValue(node, out var owned))
        {
            owned.ExceptWith(given);
        }
    }

    /// <summary>A node exited: what it owned waits for the others. Returns what it owned.</summary>
    public IReadOnlyCollection<int> Leave(string node) =>
        _owned.Remove(node, out var owned) ? owned : [];

    /// <summary>
    /// One line: each running node with its partitions, then whether every partition has exactly one owner, for
    /// example <c>node-1 0, 2, 4 | node-2 1, 3, 5 (all 6 owned)</c> or <c>node-1 0, 2, 4 | node-2 none (not owned: 1, 3, 5)</c>.
    /// </summary>
    public string Describe()
    {
        var text = new StringBuilder();
        foreach (var (node, owned) in _owned)
        {
            text.Append(text.Length == 0 ? "" : " | ").Append(node).Append(' ').Append(owned.Count == 0 ? "none" : string.Join(", ", owned));
        }

        var counts = Enumerable.Range(0, partitions).ToDictionary(p => p, p => _owned.Values.Count(o => o.Contains(p)));
        var missing = counts.Where(c => c.Value == 0).Select(c => c.Key).ToList();
        var twice = counts.Where(c => c.Value > 1).Select(c => c.Key).ToList();
        var problems = new List<string>();
        if (missing.Count > 0)
        {
            problems.Add($"not owned: {string.Join(", ", missing)}");
        }

        if (twice.Count > 0)
        {
            problems.Add($"owned twice: {string.Join(", ", twice)}");
        }

        text.Append(text.Length == 0 ? "no node" : "").Append(problems.Count == 0 ? $" (all {partitions} owned)" : $" ({string.Join("; ", problems)})");
        return text.ToString();
    }
}

using System.Collections.Concurrent;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// How many chunk records (<see cref="StateRecordFormat"/>) each state key's last written state has, so that the
/// chunks a smaller state no longer uses are deleted with tombstones instead of lingering on a compacted topic. Only
/// keys whose state was ever chunked are kept (rare: a state over half a megabyte compressed). One per engine node,
/// shared by its sinks and told what a restore found.
/// </summary>
public sealed class StateChunkLedger
{
    private readonly ConcurrentDictionary<string, int> _chunks = new(StringComparer.Ordinal);

    /// <summary>How many keys have chunked state.</summary>
    public int Count => _chunks.Count;

    /// <summary>A restore found <paramref name="key"/>'s state in <paramref name="chunks"/> chunks (0: one record).</summary>
    public void Restored(string key, int chunks) => Set(key, chunks);

    internal int Get(string key) => _chunks.IsEmpty ? 0 : _chunks.GetValueOrDefault(key);

    internal void Set(string key, int chunks)
    {
        if (chunks > 0)
        {
            _chunks[key] = chunks;
        }
        else if (!_chunks.IsEmpty)
        {
            _chunks.TryRemove(key, out _);
        }
    }
}

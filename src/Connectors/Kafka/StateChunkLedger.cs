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
    private int _count; // _chunks' count, read without the dictionary's locks (its IsEmpty takes every lock when empty)

    /// <summary>How many keys have chunked state.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>A restore found <paramref name="key"/>'s state in <paramref name="chunks"/> chunks (0: one record).</summary>
    public void Restored(string key, int chunks) => Set(key, chunks);

    // Once per state written: the check of the usual case (no key chunked) takes no lock. A key's own entry is set by
    // the one actor that writes its state, before its next write, so a key being added elsewhere never hides it.
    internal int Get(string key) => Count == 0 ? 0 : _chunks.GetValueOrDefault(key);

    internal void Set(string key, int chunks)
    {
        if (chunks > 0)
        {
            if (_chunks.TryAdd(key, chunks))
            {
                Interlocked.Increment(ref _count);
            }
            else
            {
                _chunks[key] = chunks;
            }
        }
        else if (Count > 0 && _chunks.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }
}

using System.Runtime;

namespace Kommune.MemoryTest;

/// <summary>The process's memory after full, blocking, compacting collections.</summary>
/// <param name="Live">Bytes of live managed objects (<see cref="GC.GetTotalMemory(bool)"/> after the collections).</param>
/// <param name="HeapSize">The managed heap's size after the last collection (live objects plus fragmentation).</param>
/// <param name="Fragmented">Free space inside the heap after the last collection.</param>
/// <param name="Committed">Memory the GC has committed.</param>
/// <param name="Rss">The process's resident set.</param>
internal readonly record struct HeapReading(long Live, long HeapSize, long Fragmented, long Committed, long Rss)
{
    /// <summary>
    /// Collects everything twice (gen 2, forced, blocking, compacting, the large object heap too), running finalizers
    /// after each, then reads the heap. Only meaningful while nothing else allocates (every message processed).
    /// </summary>
    public static HeapReading Take()
    {
        for (var i = 0; i < 2; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        return new HeapReading(GC.GetTotalMemory(forceFullCollection: false), info.HeapSizeBytes, info.FragmentedBytes, info.TotalCommittedBytes, Environment.WorkingSet);
    }

    /// <summary>Bytes as MiB or GiB, for tables.</summary>
    public static string Format(long bytes) => bytes >= 1L << 30
        ? FormattableString.Invariant($"{bytes / (double)(1L << 30):N2} GiB")
        : FormattableString.Invariant($"{bytes / (double)(1L << 20):N1} MiB");
}

using Prometheus;

namespace Kommune.Engine.Observability;

/// <summary>
/// The .NET runtime figures an SRE needs beside prometheus-net's own (GC collections, memory, process CPU): the
/// thread pool (an actor system starved of threads stalls), GC pauses and the heap, allocation and lock contention.
/// Read from the runtime's counters just before each scrape; nothing runs between scrapes.
/// </summary>
internal static class RuntimeMetrics
{
    public static void Register(IMetricFactory factory, CollectorRegistry registry)
    {
        var threads = factory.CreateGauge("dotnet_threadpool_threads", "Thread-pool threads.");
        var queue = factory.CreateGauge("dotnet_threadpool_queue_length", "Work items queued to the thread pool and not yet started.");
        var completed = factory.CreateCounter("dotnet_threadpool_completed_items_total", "Work items the thread pool has completed.");
        var pauses = factory.CreateCounter("dotnet_gc_pause_seconds_total", "Time the garbage collector has paused the process.");
        var heap = factory.CreateGauge("dotnet_gc_heap_size_bytes", "The managed heap's size after the last collection.");
        var allocated = factory.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap.");
        var contention = factory.CreateCounter("dotnet_monitor_lock_contentions_total", "Times a thread waited for a lock another held.");
        registry.AddBeforeCollectCallback(() =>
        {
            threads.Set(ThreadPool.ThreadCount);
            queue.Set(ThreadPool.PendingWorkItemCount);
            completed.IncTo(ThreadPool.CompletedWorkItemCount);
            pauses.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            heap.Set(GC.GetGCMemoryInfo().HeapSizeBytes);
            allocated.IncTo(GC.GetTotalAllocatedBytes());
            contention.IncTo(Monitor.LockContentionCount);
        });
    }
}

using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Analysis;
using Microsoft.Diagnostics.Tracing.Analysis.GC;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

/// <summary>
/// One line per garbage collection in a trace with the runtime's GC events at verbose level: its generation, pause,
/// the bytes it promoted, and how long its mark phase spent on each kind of root, summed over the heaps. "older" is
/// the objects that older generations' dirty cards point at: a young collection that spends its time there is paying
/// for references written into old objects, not for young survivors.
/// </summary>
internal static class GcTable
{
    private static readonly (MarkRootType Root, string Name)[] Roots =
    [
        (MarkRootType.MarkStack, "stack"),
        (MarkRootType.MarkFQ, "finalize"),
        (MarkRootType.MarkHandles, "handles"),
        (MarkRootType.MarkOlder, "older"),
        (MarkRootType.MarkOverflow, "overflow"),
    ];

    public static int Print(string path)
    {
        using var source = new EventPipeEventSource(path);
        source.NeedLoadedDotNetRuntimes();
        var gcs = new List<TraceGC>();
        source.AddCallbackOnProcessStart(process =>
            process.AddCallbackOnDotNetRuntimeLoad(runtime => runtime.GCEnd += (_, gc) => gcs.Add(gc)));
        source.Process();
        Console.WriteLine("   #  gen  type                 pause ms  promoted MB  gen0 before MB  "
            + string.Join("  ", Roots.Select(r => $"{r.Name + " ms",11}")) + "  "
            + string.Join("  ", Roots.Select(r => $"{r.Name + " MB",11}")));
        foreach (var gc in gcs)
        {
            var times = new double[Roots.Length];
            var promoted = new double[Roots.Length];
            foreach (var mark in gc.PerHeapMarkTimes?.Values ?? Enumerable.Empty<MarkInfo>())
            {
                for (var i = 0; i < Roots.Length; i++)
                {
                    times[i] += mark.MarkTimes[(int)Roots[i].Root];
                    promoted[i] += mark.MarkPromoted[(int)Roots[i].Root] / 1e6;
                }
            }

            Console.WriteLine($"{gc.Number,4}  {gc.Generation,3}  {gc.Type,-19}  {gc.PauseDurationMSec,8:F1}  {gc.PromotedMB,11:F1}  "
                + $"{gc.GenSizeBeforeMB[(int)Gens.Gen0],14:F1}  "
                + string.Join("  ", times.Select(t => $"{t,11:F1}")) + "  "
                + string.Join("  ", promoted.Select(p => $"{p,11:F1}")));
        }

        var young = gcs.Where(g => g.Generation < 2).ToList();
        if (young.Count > 0)
        {
            Console.WriteLine($"young collections: {young.Count}, mean pause {young.Average(g => g.PauseDurationMSec):F1} ms, "
                + $"mean promoted {young.Average(g => g.PromotedMB):F1} MB");
        }

        return 0;
    }
}

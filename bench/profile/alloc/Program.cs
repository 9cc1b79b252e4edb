using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Usage: dotnet run -c Release --project bench/profile/alloc -- <trace.nettrace> [rows]
//        dotnet run -c Release --project bench/profile/alloc -- --gcs <trace.nettrace>   (one line per collection: GcTable)
// Sums the runtime's allocation ticks (one about every 100 KB allocated, with the type and stack of the allocation
// that crossed it) by type, and by type and the innermost Kommune frame on the stack (or the innermost frame when the
// stack has none of ours).
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Kommune.AllocationProfile <trace.nettrace> [rows]");
    return 2;
}

if (args[0] == "--gcs")
{
    return GcTable.Print(args[1]);
}

var rows = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var byType = new Dictionary<string, long>(StringComparer.Ordinal);
var bySite = new Dictionary<string, long>(StringComparer.Ordinal);
long total = 0;
foreach (var e in log.Events)
{
    if (e is not GCAllocationTickTraceData tick)
    {
        continue;
    }

    total += tick.AllocationAmount64;
    byType[tick.TypeName] = byType.GetValueOrDefault(tick.TypeName) + tick.AllocationAmount64;
    string? innermost = null;
    string? ours = null;
    var depth = 0;
    for (var frame = e.CallStack(); frame is not null && depth < 60 && ours is null; frame = frame.Caller, depth++)
    {
        var name = frame.CodeAddress.FullMethodName ?? "?";
        innermost ??= name;
        if (name.StartsWith("Kommune", StringComparison.Ordinal))
        {
            ours = name;
        }
    }

    var site = $"{tick.TypeName} <- {ours ?? innermost ?? "?"}";
    bySite[site] = bySite.GetValueOrDefault(site) + tick.AllocationAmount64;
}

Console.WriteLine($"allocated (sampled): {total / 1e6:F0} MB");
Console.WriteLine("by type:");
foreach (var (type, bytes) in byType.OrderByDescending(p => p.Value).Take(rows))
{
    Console.WriteLine($"{bytes / 1e6,9:F1} MB {100.0 * bytes / total,5:F1} %  {type}");
}

Console.WriteLine("by type and allocating frame:");
foreach (var (site, bytes) in bySite.OrderByDescending(p => p.Value).Take(rows))
{
    Console.WriteLine($"{bytes / 1e6,9:F1} MB {100.0 * bytes / total,5:F1} %  {site}");
}

return 0;

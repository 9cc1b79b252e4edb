using System.Diagnostics;
using System.Globalization;

namespace Kommune.LoadTest;

/// <summary>
/// Where the CPU went over a measured window, in % of one core: this process (the pipe under test, and the broker or the
/// generator and reader when they run here), the broker's and the generator's processes when they are children of
/// ours, and the whole machine's busy share in % of all its cores (other programs on it included).
/// </summary>
internal sealed record ProcessorUse(double ThisProcess, double? Broker, double? LoadClient, double MachineBusy)
{
    public static string Header =>
        "| pipe | offered/s | this process, % of a core | broker process | generator and reader process | machine busy, % of all cores |\n" +
        "|---|---:|---:|---:|---:|---:|";

    public string Row(PhaseResult result) => string.Create(CultureInfo.InvariantCulture,
        $"| {result.Name} | {(result.OfferedPerSecond > 0 ? result.OfferedPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "max")} | {ThisProcess:0} | {Share(Broker)} | {Share(LoadClient)} | {MachineBusy:0} |");

    private static string Share(double? percent) => percent is { } p ? p.ToString("0", CultureInfo.InvariantCulture) : "-";
}

/// <summary>CPU times at one moment: this process's, the children's that are given, and the machine's (/proc/stat).</summary>
internal readonly record struct ProcessorSample(long At, TimeSpan ThisProcess, TimeSpan? Broker, TimeSpan? LoadClient, long MachineBusy, long MachineTotal)
{
    public static ProcessorSample Take(TimeSpan? broker, TimeSpan? loadClient)
    {
        var (busy, total) = MachineTicks();
        using var self = Process.GetCurrentProcess();
        return new ProcessorSample(Stopwatch.GetTimestamp(), self.TotalProcessorTime, broker, loadClient, busy, total);
    }

    /// <summary>The use between <paramref name="start"/> and this sample.</summary>
    public ProcessorUse Since(ProcessorSample start)
    {
        var wall = Stopwatch.GetElapsedTime(start.At, At);
        double Percent(TimeSpan cpu) => 100 * cpu / wall;
        return new ProcessorUse(
            Percent(ThisProcess - start.ThisProcess),
            Broker is { } b && start.Broker is { } b0 ? Percent(b - b0) : null,
            LoadClient is { } c && start.LoadClient is { } c0 ? Percent(c - c0) : null,
            MachineTotal > start.MachineTotal ? 100.0 * (MachineBusy - start.MachineBusy) / (MachineTotal - start.MachineTotal) : 0);
    }

    /// <summary>The first line of /proc/stat: every core's busy and total ticks (0, 0 where there is none).</summary>
    private static (long Busy, long Total) MachineTicks()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Take(8).Sum(); // user nice system idle iowait irq softirq steal (guest is in user)
            return (total - fields[3] - fields[4], total);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }
}

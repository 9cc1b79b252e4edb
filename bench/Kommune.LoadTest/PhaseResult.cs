using System.Globalization;
using HdrHistogram;

namespace Kommune.LoadTest;

/// <summary>What one measured run gave.</summary>
/// <param name="LagAtStart">Produced and not yet processed when the measured window began.</param>
/// <param name="LagAtEnd">The same when it ended (the load still running).</param>
internal sealed record PhaseResult(string Name, double OfferedPerSecond, double ProducedPerSecond, double ProcessedPerSecond, long LagAtStart, long LagAtEnd, TimeSpan DrainTime, LongHistogram Latency)
{
    public static string Header =>
        "| pipe | offered/s | produced/s | processed/s | lag at end | kept up | drained in | falls measured | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n" +
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|";

    /// <summary>
    /// The generator delivered at least 95 % of the offered rate (on a shared machine a pipe that takes the cores
    /// slows the generator: the rate offered was then not sustained), the pipe processed at least 95 % of what was
    /// produced in the window, and the backlog grew by less than one second of input over it (a backlog that stays
    /// put, such as events waiting for their state checkpoint, is not falling behind).
    /// </summary>
    public bool KeptUp =>
        (OfferedPerSecond <= 0 || ProducedPerSecond >= 0.95 * OfferedPerSecond)
        && ProcessedPerSecond >= 0.95 * ProducedPerSecond
        && LagAtEnd - LagAtStart <= Math.Max(ProducedPerSecond, 100);

    public string Row()
    {
        string Ms(double percentile) => Latency.TotalCount == 0 ? "-" : (Latency.GetValueAtPercentile(percentile) / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);
        var offered = OfferedPerSecond > 0 ? OfferedPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "max";
        var max = Latency.TotalCount == 0 ? "-" : (Latency.GetMaxValue() / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"| {Name} | {offered} | {ProducedPerSecond:N0} | {ProcessedPerSecond:N0} | {LagAtEnd:N0} | {(KeptUp ? "yes" : "no")} | {DrainTime.TotalSeconds:0.0} s | {Latency.TotalCount:N0} | {Ms(50)} | {Ms(90)} | {Ms(99)} | {Ms(99.9)} | {max} |");
    }
}

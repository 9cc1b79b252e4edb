using System.Globalization;
using HdrHistogram;

namespace Kommune.LoadTest;

/// <summary>What one measured run gave.</summary>
internal sealed record PhaseResult(string Name, double OfferedPerSecond, double ProducedPerSecond, double ProcessedPerSecond, long LagAtEnd, TimeSpan DrainTime, LongHistogram Latency)
{
    public static string Header =>
        "| pipe | offered/s | produced/s | processed/s | lag at end | kept up | drained in | falls measured | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n" +
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|";

    /// <summary>Less than one second of input behind when the load stopped.</summary>
    public bool KeptUp => LagAtEnd <= Math.Max(ProducedPerSecond, 1);

    public string Row()
    {
        string Ms(double percentile) => Latency.TotalCount == 0 ? "-" : (Latency.GetValueAtPercentile(percentile) / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);
        var offered = OfferedPerSecond > 0 ? OfferedPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "max";
        var max = Latency.TotalCount == 0 ? "-" : (Latency.GetMaxValue() / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"| {Name} | {offered} | {ProducedPerSecond:N0} | {ProcessedPerSecond:N0} | {LagAtEnd:N0} | {(KeptUp ? "yes" : "no")} | {DrainTime.TotalSeconds:0.0} s | {Latency.TotalCount:N0} | {Ms(50)} | {Ms(90)} | {Ms(99)} | {Ms(99.9)} | {max} |");
    }
}

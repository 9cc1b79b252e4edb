using System.Globalization;
using HdrHistogram;

namespace Kommune.LoadTest;

/// <summary>What one measured run gave.</summary>
/// <param name="LagAtStart">
/// Produced and not yet processed when the measured window began: a pipe still catching up with its own start (a backlog
/// well above what it holds in steady state) has latencies of that backlog in its window, not of the rate offered.
/// </param>
/// <param name="LagAtEnd">The same when it ended (the load still running).</param>
/// <param name="TimerOutputs">With --area-latency: the latency of the outputs event-time timers made, by kind.</param>
/// <param name="Processors">Where the CPU went over the measured window.</param>
internal sealed record PhaseResult(string Name, double OfferedPerSecond, double ProducedPerSecond, double ProcessedPerSecond, long LagAtStart, long LagAtEnd, TimeSpan DrainTime, LongHistogram Latency, IReadOnlyList<(string Output, LongHistogram Latency)>? TimerOutputs = null, ProcessorUse? Processors = null)
{
    public static string TimerHeader =>
        "| pipe | offered/s | output (latency from the moment it was due: its event time + the out-of-orderness on the schedule) | count | p50 ms | p90 ms | p99 ms | max ms |\n" +
        "|---|---:|---|---:|---:|---:|---:|---:|";

    public static string Header =>
        "| pipe | offered/s | produced/s | processed/s | lag at start | lag at end | kept up | drained in | falls measured | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n" +
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|";

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

    private string Offered => OfferedPerSecond > 0 ? OfferedPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "max";

    public string Row() => string.Create(CultureInfo.InvariantCulture,
        $"| {Name} | {Offered} | {ProducedPerSecond:N0} | {ProcessedPerSecond:N0} | {LagAtStart:N0} | {LagAtEnd:N0} | {(KeptUp ? "yes" : "no")} | {DrainTime.TotalSeconds:0.0} s | {Latency.TotalCount:N0} | {Ms(Latency, 50)} | {Ms(Latency, 90)} | {Ms(Latency, 99)} | {Ms(Latency, 99.9)} | {Max(Latency)} |");

    /// <summary>The timer outputs' rows, the falls' alerts of the same run first (the sensor side's event-driven output).</summary>
    public IEnumerable<string> TimerRows() => TimerOutputs is null ? [] :
        TimerOutputs.Prepend((Output: "0 sensor side: fall alert (from the fall's intended send time)", Latency)).Select(o => string.Create(CultureInfo.InvariantCulture,
            $"| {Name} | {Offered} | {o.Output[2..]} | {o.Latency.TotalCount:N0} | {Ms(o.Latency, 50)} | {Ms(o.Latency, 90)} | {Ms(o.Latency, 99)} | {Max(o.Latency)} |"));

    private static string Ms(LongHistogram latency, double percentile) =>
        latency.TotalCount == 0 ? "-" : (latency.GetValueAtPercentile(percentile) / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Max(LongHistogram latency) =>
        latency.TotalCount == 0 ? "-" : (latency.GetMaxValue() / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);
}

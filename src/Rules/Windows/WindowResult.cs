using Kommune.Rules.Api;

namespace Kommune.Rules.Windows;

/// <summary>
/// The statistics of one window, handed to the callback of a <see cref="WindowedAggregation"/> when the watermark
/// passes the window's end, and again (with <see cref="IsUpdate"/> set) whenever a late but allowed event changes it.
/// </summary>
/// <remarks>
/// Count, min, max and every percentile depend only on the values, never on the order they arrived in.
/// <see cref="Sum"/> and <see cref="Mean"/> are floating-point sums in arrival order, so reordered input may change
/// them in the last bits (they are exact when every partial sum is representable, e.g. integers or quarters).
/// </remarks>
public sealed class WindowResult
{
    private readonly QuantileSketch _sketch;

    internal WindowResult(string aggregation, WindowAccumulator window, bool isUpdate)
    {
        Aggregation = aggregation;
        Start = DateTimeOffset.FromUnixTimeMilliseconds(window.Start);
        End = DateTimeOffset.FromUnixTimeMilliseconds(window.End);
        Count = window.Count;
        Sum = window.Sum;
        Min = window.Min;
        Max = window.Max;
        IsUpdate = isUpdate;
        Replaced = [.. window.Replaced.Where(s => s != window.Start).Distinct().Order().Select(DateTimeOffset.FromUnixTimeMilliseconds)];
        _sketch = window.Sketch.Clone();
    }

    /// <summary>The name of the aggregation it came from.</summary>
    public string Aggregation { get; }

    /// <summary>Inclusive start of the window.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>Exclusive end of the window.</summary>
    public DateTimeOffset End { get; }

    /// <summary>How many values fell into the window (at least one).</summary>
    public long Count { get; }

    /// <summary>The sum of the values (see the remarks on order).</summary>
    public double Sum { get; }

    /// <summary>The smallest value.</summary>
    public double Min { get; }

    /// <summary>The largest value.</summary>
    public double Max { get; }

    /// <summary>The mean, <see cref="Sum"/> / <see cref="Count"/>.</summary>
    public double Mean => Sum / Count;

    /// <summary>
    /// Whether a result of this window was emitted before and this one replaces it (a late event changed it). The
    /// latest result per window start wins, as with <see cref="IRuleContext.EmitAggregate"/>.
    /// </summary>
    public bool IsUpdate { get; }

    /// <summary>
    /// Session windows only: the starts of sessions emitted earlier that a late event merged into this one. Their
    /// results are superseded by this one; empty otherwise.
    /// </summary>
    public IReadOnlyList<DateTimeOffset> Replaced { get; }

    /// <summary>
    /// An approximate percentile: the value at rank <c>floor(q * (Count - 1))</c> of the sorted values, within 1 %
    /// of it (relative), and never outside [<see cref="Min"/>, <see cref="Max"/>]. <c>q = 0</c> gives the minimum
    /// and <c>q = 1</c> the maximum exactly.
    /// </summary>
    /// <param name="q">The quantile, from 0 to 1 (0.5 for the median, 0.95 for p95).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="q"/> is not between 0 and 1.</exception>
    public double Percentile(double q)
    {
        if (!(q >= 0 && q <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(q), q, "A quantile is between 0 and 1.");
        }

        return q == 0 ? Min : q == 1 ? Max : Math.Clamp(_sketch.Quantile(q, Count), Min, Max);
    }

    /// <summary>
    /// Emits this window as an aggregate of the key's area through <see cref="IRuleContext.EmitAggregate"/>, with
    /// the chosen statistic as its value, for example <c>result.EmitAggregate(context, "flow.p95", r =&gt; r.Percentile(0.95))</c>.
    /// </summary>
    /// <param name="context">The context of the handler that got the result.</param>
    /// <param name="metric">The aggregate's metric name.</param>
    /// <param name="statistic">Picks the value from the result.</param>
    public void EmitAggregate(IRuleContext context, string metric, Func<WindowResult, double> statistic)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(statistic);
        context.EmitAggregate(metric, Start, End, statistic(this), Count);
    }
}

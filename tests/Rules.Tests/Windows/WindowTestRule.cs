using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Windows;

/// <summary>
/// A rule that feeds the number value <c>value</c> of every event into one aggregation per window spec (named
/// <c>w0</c>, <c>w1</c>, ...), records every result, and emits the mean of each as an aggregate <c>{name}.mean</c>.
/// </summary>
public sealed class WindowTestRule : Rule
{
    private readonly List<WindowedAggregation> _aggregations;

    public WindowTestRule(params WindowSpec[] specs)
    {
        _aggregations = [.. specs.Select((spec, i) => new WindowedAggregation($"w{i}", spec, OnResult))];
    }

    /// <summary>Every result, in emission order (a test sink: real rules keep no state in fields).</summary>
    public List<WindowResult> Results { get; } = [];

    /// <summary>Timers that none of the aggregations claimed.</summary>
    public List<RuleTimer> OtherTimers { get; } = [];

    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        if (sensorEvent.TryGetNumber("value", out var value))
        {
            foreach (var aggregation in _aggregations)
            {
                aggregation.Add(context, sensorEvent.Timestamp, value);
            }
        }
    }

    public override void OnTimer(IRuleContext context, RuleTimer timer)
    {
        foreach (var aggregation in _aggregations)
        {
            if (aggregation.OnTimer(context, timer))
            {
                return;
            }
        }

        OtherTimers.Add(timer);
    }

    private void OnResult(IRuleContext context, WindowResult result)
    {
        Results.Add(result);
        result.EmitAggregate(context, result.Aggregation + ".mean", r => r.Mean);
    }
}

/// <summary>A result as plain data, to compare results with Assert.Equal.</summary>
public sealed record WindowSummary(
    string Aggregation,
    DateTimeOffset Start,
    DateTimeOffset End,
    long Count,
    double Sum,
    double Min,
    double Max,
    double Mean,
    double P10,
    double P50,
    double P90,
    double P99,
    bool IsUpdate)
{
    public static WindowSummary Of(WindowResult r) => new(
        r.Aggregation, r.Start, r.End, r.Count, r.Sum, r.Min, r.Max, r.Mean,
        r.Percentile(0.1), r.Percentile(0.5), r.Percentile(0.9), r.Percentile(0.99), r.IsUpdate);

    /// <summary>The same without the update flag (for comparing final results of runs that differ in order).</summary>
    public WindowSummary Final => this with { IsUpdate = false };
}

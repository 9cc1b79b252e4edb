using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Windows;

namespace Kommune.Benchmarks;

/// <summary>
/// A road sensor's speed per window (tumbling or sliding), emitted as aggregates when the window closes: its mean, and
/// its p95 when <paramref name="withPercentile"/>. The windowed rule of the rule-runtime and window benchmarks.
/// </summary>
internal sealed class SpeedWindowRule(WindowSpec windows, bool withPercentile) : Rule
{
    private readonly WindowedAggregation _speed = new("speed", windows, (context, result) =>
    {
        result.EmitAggregate(context, "traffic.speed.mean", r => r.Mean);
        if (withPercentile)
        {
            result.EmitAggregate(context, "traffic.speed.p95", r => r.Percentile(0.95));
        }
    });

    public override IReadOnlyCollection<string> SensorTypes { get; } = [Kommune.Rules.Model.SensorTypes.Traffic];

    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        if (sensorEvent.TryGetNumber("speed", out var speed))
        {
            _speed.Add(context, sensorEvent.Timestamp, speed);
        }
    }

    public override void OnTimer(IRuleContext context, RuleTimer timer) => _speed.OnTimer(context, timer);
}

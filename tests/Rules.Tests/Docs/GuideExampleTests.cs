using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Docs;

/// <summary>The code of docs/rules.md, compiled and run, so the guide cannot drift from the API.</summary>
public sealed class GuideExampleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Raises_after_ten_cold_minutes_and_resolves_when_warm()
    {
        var kit = new RuleTestKit(start: T0).Bind(new ColdRoomRule(RuleParameters.FromJson("""{"threshold": 18}""")));
        kit.Send("room-1", "temperature", T0, new Dictionary<string, SensorValue> { ["temperature"] = 16.5 });

        kit.AdvanceWatermarkTo(T0.AddMinutes(10));
        Assert.Equal(AlertStatus.Raised, Assert.Single(kit.Alerts).Status);

        kit.Send("room-1", "temperature", T0.AddMinutes(12), new Dictionary<string, SensorValue> { ["temperature"] = 19.0 });
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_traffic_flow_example_emits_the_p95_speed_per_five_minutes()
    {
        var kit = new RuleTestKit(start: T0).Bind(new TrafficFlowRule());
        for (var i = 0; i < 100; i++)
        {
            kit.Send("road-1", "traffic", T0.AddSeconds(i), new Dictionary<string, SensorValue> { ["speed"] = i + 1.0 });
        }

        kit.AdvanceWatermarkTo(T0.AddMinutes(5));

        var aggregate = Assert.Single(kit.Aggregates);
        Assert.Equal("traffic.speed.p95", aggregate.Metric);
        Assert.InRange(aggregate.Value, 95 * 0.99, 95 * 1.01);
        Assert.Equal(100, aggregate.Count);
    }

    [Rule("cold-room")]
    private sealed class ColdRoomRule : Rule
    {
        private readonly double _threshold;
        private readonly TimeSpan _for;

        public ColdRoomRule(RuleParameters parameters)
        {
            _threshold = parameters.GetNumber("threshold", 18, min: -50, max: 50);
            _for = parameters.GetDuration("for", TimeSpan.FromMinutes(10));
        }

        public override IReadOnlyCollection<string> SensorTypes { get; } = ["temperature"];

        public override void OnEvent(IRuleContext context, SensorEvent e)
        {
            if (!e.TryGetNumber("temperature", out var celsius)) return;
            var coldSince = context.State<DateTimeOffset>("coldSince");
            if (celsius >= _threshold)
            {
                coldSince.Clear();
                context.CancelTimer("cold-for");
                context.ResolveAlert("cold", $"Room {e.SensorId} is back at {celsius} °C");
            }
            else if (!coldSince.HasValue && context.OpenAlert("cold") is null)
            {
                coldSince.Update(e.Timestamp);
                context.SetEventTimeTimer("cold-for", e.Timestamp + _for);
            }
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) =>
            context.RaiseAlert("cold", new AlertDraft("environment", "lowTemperature", AlertSeverity.Medium,
                $"Room {context.Key} below {_threshold} °C since {context.State<DateTimeOffset>("coldSince").Value:u}"));
    }

    [Rule("traffic-flow")]
    private sealed class TrafficFlowRule : Rule
    {
        private readonly WindowedAggregation _speed = new("speed", WindowSpec.Tumbling(TimeSpan.FromMinutes(5)),
            (context, result) => result.EmitAggregate(context, "traffic.speed.p95", r => r.Percentile(0.95)));

        public override IReadOnlyCollection<string> SensorTypes { get; } = ["traffic"];

        public override void OnEvent(IRuleContext context, SensorEvent e)
        {
            if (e.TryGetNumber("speed", out var speed)) _speed.Add(context, e.Timestamp, speed);
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) => _speed.OnTimer(context, timer);
    }
}

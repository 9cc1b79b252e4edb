using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.Runtime;

/// <summary>A sensor rule's aggregates are its sensor's, so two sensors of one area never overwrite each other's.</summary>
public sealed class AggregateKeyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Two_sensors_of_an_area_emit_aggregates_under_keys_of_their_own()
    {
        var kit = new RuleTestKit(start: T0).Bind(new EmitsReading(RuleScope.Sensor), "max");
        kit.Send("noise-1", "noise", T0, new Dictionary<string, SensorValue> { ["db"] = 60.0 }, "park");
        kit.Send("noise-2", "noise", T0, new Dictionary<string, SensorValue> { ["db"] = 80.0 }, "park");

        Assert.Equal(["noise-1", "noise-2"], kit.Aggregates.Select(a => a.SensorId));
        var start = T0.ToUnixTimeMilliseconds();
        Assert.Equal([$"park/noise-1/noise.db/{start}", $"park/noise-2/noise.db/{start}"], kit.Aggregates.Select(a => a.Key));
    }

    [Fact]
    public void An_area_rule_s_aggregate_is_the_area_s()
    {
        var kit = new RuleTestKit(start: T0).Bind(new EmitsReading(RuleScope.Area), "max");
        kit.Send("noise-1", "noise", T0, new Dictionary<string, SensorValue> { ["db"] = 60.0 }, "park");

        var aggregate = Assert.Single(kit.Aggregates);
        Assert.Null(aggregate.SensorId);
        Assert.Equal($"park/noise.db/{T0.ToUnixTimeMilliseconds()}", aggregate.Key);
    }

    private sealed class EmitsReading(RuleScope scope) : Rule
    {
        public override RuleScope Scope => scope;

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            context.EmitAggregate("noise.db", sensorEvent.Timestamp, sensorEvent.Timestamp.AddMinutes(1), sensorEvent.GetNumber("db"), 1);
    }
}

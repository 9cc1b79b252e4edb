using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.Runtime;

public sealed class NonFiniteAggregateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void An_aggregate_that_is_not_a_finite_number_is_a_rule_failure_and_not_emitted(double value)
    {
        // JSON has no such number: emitted, it could not be written, and the key's actor would fail on it.
        var kit = new RuleTestKit(start: T0).Bind(new EmitsValue(value), "emits");
        kit.Send("s-1", "energy", T0, new Dictionary<string, SensorValue> { ["kw"] = 1.0 }, "area-1");

        Assert.Empty(kit.Aggregates);
        var failure = Assert.Single(kit.Failures);
        Assert.Contains("not a finite number", failure.ToString(), StringComparison.Ordinal);
    }

    private sealed class EmitsValue(double value) : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            context.EmitAggregate("test.value", sensorEvent.Timestamp, sensorEvent.Timestamp.AddMinutes(1), value, 1);
    }
}

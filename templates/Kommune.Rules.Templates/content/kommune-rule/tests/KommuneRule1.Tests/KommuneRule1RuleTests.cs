using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace KommuneRule1.Tests;

public sealed class KommuneRule1RuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 22, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0).Bind(new KommuneRule1Rule(RuleParameters.FromJson(parameters)));

    private static void Reading(RuleTestKit kit, double level, int second, string sensor = "noise-1") =>
        kit.Send(sensor, "noise", T0.AddSeconds(second), new Dictionary<string, SensorValue> { ["db"] = level });

    [Fact]
    public void Raises_once_above_the_threshold_and_resolves_at_or_below_it()
    {
        var kit = Kit("""{"threshold": 70}""");

        Reading(kit, 65, 0);
        Reading(kit, 82, 10);
        Reading(kit, 90, 20);
        Reading(kit, 70, 30);

        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        var raised = kit.Alerts[0];
        Assert.Equal("kommune-rule1", raised.Rule);
        Assert.Equal("noise-1", raised.SensorId);
        Assert.Equal(AlertSeverity.Medium, raised.Severity);
        Assert.EndsWith(":high", raised.AlertId, StringComparison.Ordinal);
        Assert.Equal(raised.AlertId, kit.Alerts[1].AlertId);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void Sensors_are_independent()
    {
        var kit = Kit();

        Reading(kit, 75, 0, "noise-1");
        Reading(kit, 60, 0, "noise-2");

        Assert.Equal("noise-1", Assert.Single(kit.Alerts).SensorId);
    }

    [Fact]
    public void A_reading_that_is_not_a_number_is_a_problem_not_a_zero()
    {
        var kit = Kit();

        kit.Send("noise-1", "noise", T0, new Dictionary<string, SensorValue> { ["db"] = "loud" });

        Assert.Empty(kit.Alerts);
        Assert.Equal("unusable-event", Assert.Single(kit.Problems).Kind);
    }

    [Fact]
    public void The_reading_parameter_names_the_value()
    {
        var kit = Kit("""{"threshold": 50, "reading": "laeq"}""");

        kit.Send("noise-1", "noise", T0, new Dictionary<string, SensorValue> { ["laeq"] = 55.0 });

        Assert.Single(kit.Alerts);
    }

    [Theory]
    [InlineData("""{"threshold": "loud"}""", "threshold")]
    [InlineData("""{"threshold": 500}""", "threshold")]
    [InlineData("""{"reading": 3}""", "reading")]
    public void A_wrong_parameter_is_named(string json, string parameter)
    {
        var error = Assert.Throws<RuleParameterException>(() => new KommuneRule1Rule(RuleParameters.FromJson(json)));

        Assert.Equal(parameter, error.Parameter);
    }
}

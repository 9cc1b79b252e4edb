using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests;

public sealed class FallAlertRuleTests
{
    private static readonly DateTimeOffset Time = new(2024, 5, 1, 10, 0, 0, 123, TimeSpan.Zero);

    private static SensorEvent Event(string type = SensorTypes.Fall, string sensorId = "fall-000001", DateTimeOffset? ts = null) =>
        new(sensorId, "area-001", type, ts ?? Time, new Dictionary<string, SensorValue>
        {
            ["confidence"] = 0.93,
            ["posture"] = "lying",
            ["worn"] = true,
        });

    private static Alert Run(SensorEvent sensorEvent)
    {
        var kit = new RuleTestKit().Bind(new FallAlertRule());
        kit.Send(sensorEvent);
        Assert.Empty(kit.Aggregates);
        Assert.Empty(kit.Failures);
        return Assert.Single(kit.Alerts);
    }

    [Fact]
    public void Rule_is_named_fall_alert()
    {
        var attribute = Assert.Single(typeof(FallAlertRule).GetCustomAttributes(typeof(RuleAttribute), false).OfType<RuleAttribute>());
        Assert.Equal("fall-alert", attribute.Name);
        Assert.Equal(FallAlertRule.RuleName, Run(Event()).Rule);
    }

    [Theory]
    [InlineData("fall", true)]
    [InlineData("Fall", false)]
    [InlineData("FALL", false)]
    [InlineData("heartbeat", false)]
    [InlineData("traffic", false)]
    [InlineData("parking", false)]
    [InlineData("energy", false)]
    [InlineData("fall ", false)]
    [InlineData("", false)]
    public void Accepts_only_type_fall(string type, bool accepted)
    {
        var kit = new RuleTestKit().Bind(new FallAlertRule());
        kit.Send(Event(type));
        Assert.Equal(accepted ? 1 : 0, kit.Alerts.Count);
    }

    [Fact]
    public void Fall_event_emits_exactly_one_raised_critical_level_one_alert()
    {
        var alert = Run(Event());

        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.Equal(AlertSeverity.Critical, alert.Severity);
        Assert.Equal(1, alert.Level);
        Assert.Equal(FallAlertRule.RuleName, alert.Rule);
        Assert.Equal("health", alert.Category);
        Assert.Equal("fallenPatient", alert.SubCategory);
        Assert.Equal("fall-000001", alert.SensorId);
        Assert.Equal("area-001", alert.AreaId);
        Assert.Equal(Time, alert.EventTime);
        Assert.Equal(Time, alert.DateIssued);
        Assert.False(string.IsNullOrWhiteSpace(alert.Description));
        Assert.DoesNotContain('\n', alert.Description);
        Assert.Contains("fall-000001", alert.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void AlertId_is_stable_for_the_same_event_and_contains_the_sensorId()
    {
        var first = Run(Event());
        var again = Run(Event());

        Assert.Equal(first.AlertId, again.AlertId);
        Assert.Contains("fall-000001", first.AlertId, StringComparison.Ordinal);
    }

    [Fact]
    public void AlertId_differs_for_another_sensor_or_another_time()
    {
        var baseline = Run(Event()).AlertId;

        Assert.NotEqual(baseline, Run(Event(sensorId: "fall-000002")).AlertId);
        Assert.NotEqual(baseline, Run(Event(ts: Time.AddSeconds(1))).AlertId);
    }

    [Fact]
    public void Alert_carries_the_event_values_as_evidence()
    {
        var sensorEvent = Event();

        var alert = Run(sensorEvent);

        Assert.Equal(sensorEvent.Values.Count, alert.Evidence.Count);
        foreach (var (name, value) in sensorEvent.Values)
        {
            Assert.Equal(value, alert.Evidence[name]);
        }
    }

    [Fact]
    public void A_second_event_of_the_same_fall_does_not_raise_it_again()
    {
        var kit = new RuleTestKit().Bind(new FallAlertRule());

        kit.Send(Event());
        kit.Send(Event());

        Assert.Single(kit.Alerts);
    }

    [Fact]
    public void Null_arguments_are_refused()
    {
        var rule = new FallAlertRule();

        Assert.Throws<ArgumentNullException>(() => rule.OnEvent(null!, Event()));
    }
}

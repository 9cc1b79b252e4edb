using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Samples.ColdRoom.Tests;

public sealed class ColdRoomRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0).Bind(new ColdRoomRule(RuleParameters.FromJson(parameters)));

    private static void Reading(RuleTestKit kit, double celsius, TimeSpan at, string room = "room-1") =>
        kit.Send(room, "temperature", T0 + at, new Dictionary<string, SensorValue> { ["temperature"] = celsius });

    private static TimeSpan Min(double minutes) => TimeSpan.FromMinutes(minutes);

    [Fact]
    public void Raises_a_medium_cold_alert_once_the_room_stays_cold_for_the_duration()
    {
        var kit = Kit();
        Reading(kit, 16.5, Min(0));
        Reading(kit, 16.0, Min(5));

        kit.AdvanceWatermarkTo(T0 + Min(10));

        var alert = Assert.Single(kit.Alerts);
        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.Equal(AlertSeverity.Medium, alert.Severity);
        Assert.Equal("environment", alert.Category);
        Assert.Equal("lowTemperature", alert.SubCategory);
        Assert.Equal("cold-room", alert.Rule);
        Assert.Equal("room-1", alert.SensorId);
        Assert.EndsWith(":cold", alert.AlertId, StringComparison.Ordinal);
        Assert.Equal(T0 + Min(10), alert.EventTime);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void Does_not_raise_before_the_duration()
    {
        var kit = Kit();
        Reading(kit, 16.5, Min(0));

        kit.AdvanceWatermarkTo(T0 + Min(9.99));

        Assert.Empty(kit.Alerts);
    }

    [Fact]
    public void A_warm_reading_in_between_cancels_the_spell()
    {
        var kit = Kit();
        Reading(kit, 16.5, Min(0));
        Reading(kit, 18.0, Min(4));
        Reading(kit, 17.0, Min(6));

        kit.AdvanceWatermarkTo(T0 + Min(15));
        Assert.Empty(kit.Alerts);

        kit.AdvanceWatermarkTo(T0 + Min(16));
        Assert.Equal(T0 + Min(16), Assert.Single(kit.Alerts).EventTime);
    }

    [Fact]
    public void A_reading_at_or_above_the_threshold_resolves_the_alert()
    {
        var kit = Kit();
        Reading(kit, 16.5, Min(0));
        kit.AdvanceWatermarkTo(T0 + Min(10));
        Reading(kit, 17.9, Min(12));
        Assert.Single(kit.Alerts);

        Reading(kit, 18.0, Min(14));

        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        Assert.Equal(kit.Alerts[0].AlertId, kit.Alerts[1].AlertId);
    }

    [Fact]
    public void Parameters_change_threshold_and_duration()
    {
        var kit = Kit("""{"threshold": 16, "for": "15m"}""");
        Reading(kit, 16.5, Min(0));
        Reading(kit, 15.9, Min(1));

        kit.AdvanceWatermarkTo(T0 + Min(15.9));
        Assert.Empty(kit.Alerts);
        kit.AdvanceWatermarkTo(T0 + Min(16));
        Assert.Single(kit.Alerts);
    }

    [Fact]
    public void A_late_cold_reading_inside_allowed_lateness_starts_the_spell_earlier()
    {
        var kit = Kit();
        Reading(kit, 16.0, Min(20));

        // Behind the watermark (20 min minus 5 s of out-of-orderness) but within the minute of allowed lateness: used.
        Reading(kit, 16.0, Min(19));
        Assert.Empty(kit.LateEvents);

        kit.AdvanceWatermarkTo(T0 + Min(28.9));
        Assert.Empty(kit.Alerts);
        kit.AdvanceWatermarkTo(T0 + Min(29));
        Assert.Equal(T0 + Min(29), Assert.Single(kit.Alerts).EventTime);
    }

    [Fact]
    public void A_late_warm_reading_inside_allowed_lateness_ends_the_spell()
    {
        var kit = Kit();
        Reading(kit, 16.0, Min(0));
        Reading(kit, 16.0, Min(8));
        kit.AdvanceWatermarkTo(T0 + Min(8));

        Reading(kit, 19.0, Min(7.5));
        kit.AdvanceWatermarkTo(T0 + Min(12));

        Assert.Empty(kit.LateEvents);
        Assert.Empty(kit.Alerts);
    }

    [Fact]
    public void A_warm_reading_older_than_the_spell_changes_nothing()
    {
        var kit = Kit();
        Reading(kit, 16.0, Min(0));
        Reading(kit, 19.0, Min(-0.5));

        kit.AdvanceWatermarkTo(T0 + Min(10));

        Assert.Single(kit.Alerts);
    }

    [Fact]
    public void A_reading_older_than_the_allowed_lateness_goes_to_the_late_output()
    {
        var kit = Kit();
        Reading(kit, 16.0, Min(0));
        kit.AdvanceWatermarkTo(T0 + Min(5));

        Reading(kit, 19.0, Min(3.9));
        kit.AdvanceWatermarkTo(T0 + Min(10));

        Assert.Single(kit.LateEvents);
        Assert.Single(kit.Alerts);
    }

    [Fact]
    public void Rooms_are_independent()
    {
        var kit = Kit();
        Reading(kit, 16.0, Min(0), "room-1");
        Reading(kit, 19.0, Min(0), "room-2");

        kit.AdvanceWatermarkTo(T0 + Min(10));

        Assert.Equal("room-1", Assert.Single(kit.Alerts).SensorId);
    }

    [Fact]
    public void Other_sensor_types_and_readings_without_temperature_are_ignored()
    {
        var kit = Kit();
        kit.Send("room-1", "humidity", T0, new Dictionary<string, SensorValue> { ["temperature"] = 10.0 });
        kit.Send("room-1", "temperature", T0, new Dictionary<string, SensorValue> { ["humidity"] = 10.0 });

        kit.AdvanceWatermarkTo(T0 + Min(20));

        Assert.Empty(kit.Alerts);
        Assert.Equal(["temperature"], new ColdRoomRule(RuleParameters.Empty).SensorTypes);
    }

    [Fact]
    public void Empty_parameters_mean_the_defaults()
    {
        var kit = new RuleTestKit(start: T0).Bind(new ColdRoomRule(RuleParameters.Empty));
        Reading(kit, 17.9, Min(0));

        kit.AdvanceWatermarkTo(T0 + Min(10));

        Assert.Single(kit.Alerts);
    }

    [Theory]
    [InlineData("""{"threshold": "ten"}""", "threshold", "must be a number")]
    [InlineData("""{"threshold": 99}""", "threshold", "must be between")]
    [InlineData("""{"for": "soon"}""", "for", "must be a positive duration")]
    [InlineData("""{"for": "-5m"}""", "for", "must be a positive duration")]
    [InlineData("""{"for": 10}""", "for", "must be a positive duration")]
    public void Parameter_errors_name_the_parameter(string json, string parameter, string problem)
    {
        var error = Assert.Throws<RuleParameterException>(() => new ColdRoomRule(RuleParameters.FromJson(json)));

        Assert.Equal(parameter, error.Parameter);
        Assert.Contains($"'{parameter}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_parameter_is_read()
    {
        var parameters = RuleParameters.FromJson("""{"threshold": 16, "for": "15m", "treshold": 1}""");

        _ = new ColdRoomRule(parameters);

        Assert.Equal(["treshold"], parameters.Unread);
    }
}

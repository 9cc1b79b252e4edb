using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class FallEscalationRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 2, 1, 7, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0).Bind(new FallEscalationRule(RuleParameters.FromJson(parameters)));

    private static void Fall(RuleTestKit kit, double seconds = 0, double confidence = 0.95, string sensor = "wearable-1") =>
        kit.Send(sensor, SensorTypes.Fall, T0.AddSeconds(seconds), new Dictionary<string, SensorValue> { ["confidence"] = confidence });

    private static void ResidentOk(RuleTestKit kit, double seconds, string sensor = "wearable-1") =>
        kit.Send(sensor, FallEscalationRule.ResidentOk, T0.AddSeconds(seconds));

    [Fact]
    public void A_fall_raises_level_one_at_once_then_escalates_to_two_and_three_without_further_events()
    {
        var kit = Kit();
        Fall(kit);
        Assert.Equal((AlertStatus.Raised, 1), (kit.Alerts[0].Status, kit.Alerts[0].Level));
        Assert.Contains("care team", kit.Alerts[0].Description, StringComparison.Ordinal);

        kit.AdvanceClock(TimeSpan.FromSeconds(59));
        Assert.Single(kit.Alerts);
        kit.AdvanceClock(TimeSpan.FromSeconds(1));
        Assert.Equal((AlertStatus.Escalated, 2), (kit.Alerts[1].Status, kit.Alerts[1].Level));
        Assert.Contains("nurse on call", kit.Alerts[1].Description, StringComparison.Ordinal);

        kit.AdvanceClock(TimeSpan.FromSeconds(120));
        Assert.Equal((AlertStatus.Escalated, 3), (kit.Alerts[2].Status, kit.Alerts[2].Level));
        kit.AdvanceClock(TimeSpan.FromHours(1));
        Assert.Equal(3, kit.Alerts.Count);
        Assert.Single(kit.Alerts.Select(a => a.AlertId).Distinct());
        Assert.Equal(T0.AddSeconds(60), kit.Alerts[1].DateIssued);
    }

    [Fact]
    public void Every_record_of_a_fall_alert_is_FIWARE_health_fallenPatient_and_its_id_is_the_rule_sensor_and_fall_time()
    {
        var kit = Kit();
        Fall(kit, seconds: 1.5);
        kit.AdvanceClock(TimeSpan.FromSeconds(200));

        Assert.Equal(3, kit.Alerts.Count);
        Assert.All(kit.Alerts, a => Assert.Equal(("health", "fallenPatient", AlertSeverity.Critical), (a.Category, a.SubCategory, a.Severity)));
        Assert.All(kit.Alerts, a => Assert.Equal($"fall-detection:wearable-1:{T0.AddSeconds(1.5).ToUnixTimeMilliseconds()}", a.AlertId));
    }

    [Fact]
    public void An_ack_stops_the_escalation_and_a_resolve_closes_the_alert()
    {
        var kit = Kit();
        Fall(kit);
        kit.AdvanceClock(TimeSpan.FromSeconds(30));

        Assert.True(kit.Ack(kit.Alerts[0].AlertId, "nurse Kari"));
        kit.AdvanceClock(TimeSpan.FromMinutes(10));
        Assert.Equal([AlertStatus.Raised, AlertStatus.Acknowledged], kit.Alerts.Select(a => a.Status));
        Assert.Contains("nurse Kari", kit.Alerts[1].Description, StringComparison.Ordinal);

        Assert.True(kit.Resolve(kit.Alerts[0].AlertId));
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status);
        Assert.False(kit.Resolve(kit.Alerts[0].AlertId)); // no open alert of that id any more
        Assert.False(kit.SensorState("wearable-1")!.Rules.Any());
    }

    [Fact]
    public void Repeated_falls_while_open_update_the_alert_and_never_start_a_second_chain()
    {
        var kit = Kit();
        Fall(kit, 0, confidence: 0.8);
        Fall(kit, 10, confidence: 0.99);
        kit.AdvanceClock(TimeSpan.FromSeconds(60));

        Assert.Equal([AlertStatus.Raised, AlertStatus.Raised, AlertStatus.Escalated], kit.Alerts.Select(a => a.Status));
        Assert.Single(kit.Alerts.Select(a => a.AlertId).Distinct());
        Assert.Equal(0.99, kit.Alerts[1].Evidence["confidence"].Number);
    }

    [Fact]
    public void Resident_ok_before_an_ack_resolves_with_that_reason_and_after_an_ack_does_nothing()
    {
        var kit = Kit();
        Fall(kit);
        ResidentOk(kit, 20);
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status);
        Assert.Contains("reported OK", kit.Alerts[^1].Description, StringComparison.Ordinal);
        kit.AdvanceClock(TimeSpan.FromMinutes(5));
        Assert.Equal(2, kit.Alerts.Count);

        Fall(kit, 100);
        kit.Ack(kit.Alerts[^1].AlertId);
        ResidentOk(kit, 120);
        Assert.Equal(AlertStatus.Acknowledged, kit.Alerts[^1].Status);
    }

    [Fact]
    public void Timeouts_and_recipients_come_from_the_binding_parameters()
    {
        var kit = Kit("""{ "t1": "30s", "t2": "5m", "level2": "vakthavende sykepleier" }""");
        Fall(kit);
        kit.AdvanceClock(TimeSpan.FromSeconds(30));
        Assert.Contains("vakthavende sykepleier", kit.Alerts[^1].Description, StringComparison.Ordinal);
        kit.AdvanceClock(TimeSpan.FromMinutes(4.9));
        Assert.Equal(2, kit.Alerts.Count);
        kit.AdvanceClock(TimeSpan.FromMinutes(0.1));
        Assert.Equal(3, kit.Alerts[^1].Level);

        var error = Assert.Throws<RuleParameterException>(() => new FallEscalationRule(RuleParameters.FromJson("""{ "t1": 60 }""")));
        Assert.Equal("t1", error.Parameter);
    }

    [Fact]
    public void A_chain_of_any_length_escalates_through_its_levels_naming_each_level_s_recipients()
    {
        var kit = Kit("""
            { "levels": ["hjemmetjenesten nord", "sykepleier", "legevakt", "113"], "timeouts": ["30s", "1m", "2m"] }
            """);
        Fall(kit);
        Assert.Equal(["hjemmetjenesten nord"], kit.Alerts[0].Recipients);

        kit.AdvanceClock(TimeSpan.FromSeconds(30));
        kit.AdvanceClock(TimeSpan.FromMinutes(1));
        kit.AdvanceClock(TimeSpan.FromMinutes(2));
        kit.AdvanceClock(TimeSpan.FromHours(1));

        Assert.Equal([1, 2, 3, 4], kit.Alerts.Select(a => a.Level));
        Assert.Equal(["hjemmetjenesten nord", "sykepleier", "legevakt", "113"], kit.Alerts.Select(a => Assert.Single(a.Recipients)));
        Assert.Equal([T0, T0.AddSeconds(30), T0.AddSeconds(90), T0.AddSeconds(210)], kit.Alerts.Select(a => a.DateIssued));
    }

    [Fact]
    public void A_one_level_chain_raises_and_never_escalates()
    {
        var kit = Kit("""{ "levels": ["vaktsentral"] }""");
        Fall(kit);
        kit.AdvanceClock(TimeSpan.FromHours(1));

        var alert = Assert.Single(kit.Alerts);
        Assert.Equal(["vaktsentral"], alert.Recipients);
    }

    [Fact]
    public void Levels_without_timeouts_escalate_after_60_s_then_120_s_each()
    {
        var rule = new FallEscalationRule(RuleParameters.FromJson("""{ "levels": ["a", "b", "c", "d"] }"""));
        Assert.Equal([TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(120)], rule.Timeouts);
        Assert.Equal(["care team", "nurse on call", "emergency"], new FallEscalationRule().Levels);
        var kit = Kit();
        Fall(kit);
        Assert.Equal(["care team"], kit.Alerts[0].Recipients);
    }

    [Fact]
    public void Each_area_gets_the_chain_of_its_binding()
    {
        var kit = new RuleTestKit(start: T0)
            .Bind(new FallEscalationRule(RuleParameters.FromJson("""{ "levels": ["nord team", "nord nurse"], "timeouts": ["20s"] }""")), "fall-nord", areas: ["nord"])
            .Bind(new FallEscalationRule(RuleParameters.FromJson("""{ "levels": ["sør team", "sør nurse", "sør doctor"], "timeouts": ["90s", "90s"] }""")), "fall-sor", areas: ["sor"]);
        kit.Send("w-nord", SensorTypes.Fall, T0, areaId: "nord");
        kit.Send("w-sor", SensorTypes.Fall, T0, areaId: "sor");
        kit.AdvanceClock(TimeSpan.FromSeconds(20));
        kit.AdvanceClock(TimeSpan.FromSeconds(70));
        kit.AdvanceClock(TimeSpan.FromMinutes(10));

        Assert.Equal([(1, "nord team"), (2, "nord nurse")], kit.Alerts.Where(a => a.AreaId == "nord").Select(a => (a.Level, a.Recipients[0])));
        Assert.Equal([(1, "sør team"), (2, "sør nurse"), (3, "sør doctor")], kit.Alerts.Where(a => a.AreaId == "sor").Select(a => (a.Level, a.Recipients[0])));
        Assert.All(kit.Alerts.Where(a => a.AreaId == "nord"), a => Assert.StartsWith("fall-nord:", a.AlertId, StringComparison.Ordinal));
        Assert.Equal(T0.AddSeconds(90), kit.Alerts.Single(a => a.AreaId == "sor" && a.Level == 2).DateIssued);
    }

    [Theory]
    [InlineData("""{ "levels": "care team" }""", "levels")]
    [InlineData("""{ "levels": [] }""", "levels")]
    [InlineData("""{ "levels": ["a", ""] }""", "levels")]
    [InlineData("""{ "levels": ["a", 3] }""", "levels")]
    [InlineData("""{ "levels": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] }""", "levels")]
    [InlineData("""{ "levels": ["a", "b"], "timeouts": ["30s", "60s"] }""", "timeouts")]
    [InlineData("""{ "levels": ["a", "b"], "timeouts": ["soon"] }""", "timeouts")]
    [InlineData("""{ "levels": ["a", "b"], "timeouts": ["-5s"] }""", "timeouts")]
    [InlineData("""{ "levels": ["a", "b"], "t1": "30s" }""", "t1")]
    [InlineData("""{ "levels": ["a", "b"], "level2": "b" }""", "level2")]
    [InlineData("""{ "timeouts": ["30s", "60s"] }""", "timeouts")]
    public void Wrong_chains_are_refused_naming_the_parameter(string json, string parameter)
    {
        var error = Assert.Throws<RuleParameterException>(() => new FallEscalationRule(RuleParameters.FromJson(json)));
        Assert.Equal(parameter, error.Parameter);
    }

    [Fact]
    public void Every_state_change_of_an_alert_has_the_next_sequence_number()
    {
        var kit = Kit();
        Fall(kit);
        Fall(kit, seconds: 5, confidence: 0.99); // an update: new evidence, same level
        kit.AdvanceClock(TimeSpan.FromSeconds(60));
        Assert.True(kit.Ack(kit.Alerts[0].AlertId));
        Assert.True(kit.Resolve(kit.Alerts[0].AlertId));
        Fall(kit, seconds: 600); // a new incident starts again at 1

        Assert.Equal(
            [(AlertStatus.Raised, 1), (AlertStatus.Raised, 2), (AlertStatus.Escalated, 3), (AlertStatus.Acknowledged, 4), (AlertStatus.Resolved, 5), (AlertStatus.Raised, 1)],
            kit.Alerts.Select(a => (a.Status, a.Sequence)));
        Assert.Single(kit.Alerts.Take(5).Select(a => a.AlertId).Distinct());
        Assert.NotEqual(kit.Alerts[0].AlertId, kit.Alerts[5].AlertId);
    }

    [Fact]
    public void A_command_for_an_unknown_alert_is_refused()
    {
        var kit = Kit();
        Fall(kit);

        Assert.False(kit.Ack("fall-escalation:nobody:1"));
    }

    [Fact]
    public void Open_escalations_survive_a_snapshot_round_trip()
    {
        var kit = Kit();
        Fall(kit);
        var json = kit.SensorState("wearable-1")!.ToJson();
        var restored = Kommune.Rules.Runtime.KeyedStateSnapshot.FromJson(json);

        var rule = Assert.Single(restored.Rules);
        Assert.Single(rule.OpenAlerts);
        Assert.Equal(TimeDomain.ProcessingTime, Assert.Single(rule.Timers).Domain);
    }
}

using System.Globalization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.Runtime;

public sealed class KeyedRuleRunnerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void State_timers_and_open_alerts_survive_a_snapshot_round_trip()
    {
        var rules = new RuleSet([new RuleBinding("counter", new CountingRule())]);
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        var outputs = new Collected();
        runner.OnEvent(Event(0), T0, T0, outputs);
        runner.OnEvent(Event(1), T0, T0, outputs);

        Assert.Empty(outputs.Alerts);

        var json = runner.Snapshot().ToJson();
        var restored = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        Assert.Empty(restored.Restore(KeyedStateSnapshot.FromJson(json)));
        restored.OnEvent(Event(2), T0, T0, outputs);
        restored.Advance(T0.AddMinutes(5), T0, outputs);

        Assert.Equal(["count:3", "timer"], outputs.Alerts.Select(a => a.Description));
        Assert.Equal(AlertStatus.Resolved, outputs.Alerts[^1].Status);
        Assert.Equal("counter:s-1:open", outputs.Alerts[^1].AlertId);
    }

    [Fact]
    public void State_holding_infinities_and_NaN_survives_a_snapshot_round_trip()
    {
        // A sum of large finite readings overflows to infinity; a rule may also start a minimum at +infinity.
        var rules = new RuleSet([new RuleBinding("extremes", new ExtremesRule())]);
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        runner.OnEvent(Event(0, ("v", SensorValue.FromNumber(1e308))), T0, T0, new Collected());
        runner.OnEvent(Event(1, ("v", SensorValue.FromNumber(1e308))), T0, T0, new Collected());

        var json = runner.Snapshot().ToJson();
        var restored = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        Assert.Empty(restored.Restore(KeyedStateSnapshot.FromJson(json)));
        var outputs = new Collected();
        restored.OnEvent(Event(2, ("v", SensorValue.FromNumber(1))), T0, T0, outputs);

        Assert.Equal(["sum:Infinity min:1 nan:NaN"], outputs.Alerts.Select(a => a.Description));
    }

    [Fact]
    public void The_persisted_state_is_the_snapshot_json_without_the_watermark()
    {
        // Two bindings: one with a value, a timer and (after three events) an open alert; one with infinities.
        var rules = new RuleSet([new RuleBinding("counter", new CountingRule()), new RuleBinding("extremes", new ExtremesRule())]);
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        for (var i = 0; i < 3; i++)
        {
            runner.OnEvent(Event(i, ("v", SensorValue.FromNumber(1e308))), T0, T0, new Collected());
        }

        var expected = (runner.Snapshot() with { Watermark = DateTimeOffset.MinValue }).ToJson();
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(runner.PersistedState()));

        // Restored values stay JSON until a rule reads them: they are written as they were read.
        var restored = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        restored.Restore(KeyedStateSnapshot.FromJson(expected));
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(restored.PersistedState()));
    }

    [Fact]
    public void A_throwing_rule_is_reported_and_the_others_still_run()
    {
        var kit = new RuleTestKit()
            .Bind(new ThrowingRule(), "thrower")
            .Bind(new CountingRule(), "counter");

        kit.Send(Event(0));
        kit.Send(Event(1));
        kit.Send(Event(2));

        Assert.Equal(3, kit.Failures.Count);
        Assert.All(kit.Failures, f => Assert.Equal("thrower", f.RuleName));
        Assert.All(kit.Failures, f => Assert.Equal("OnEvent", f.Handler));
        Assert.Equal(["count:3"], kit.Alerts.Select(a => a.Description));
    }

    [Fact]
    public void The_other_rules_produce_the_same_results_with_or_without_a_throwing_rule()
    {
        static RuleTestKit Run(bool withThrower)
        {
            var kit = new RuleTestKit();
            if (withThrower)
            {
                kit.Bind(new ThrowingRule(), "thrower");
            }

            kit.Bind(new CountingRule(), "counter").Bind(new EscalatingRule(), "escalate");
            for (var i = 0; i < 5; i++)
            {
                kit.Send(Event(i));
                kit.AdvanceClock(TimeSpan.FromSeconds(30));
            }

            kit.AdvanceWatermarkTo(T0.AddHours(1));
            return kit;
        }

        var clean = Run(withThrower: false);
        var isolated = Run(withThrower: true);

        static object Shape(Alert a) => (a.AlertId, a.Status, a.Level, a.EventTime, a.DateIssued, a.Description, string.Join(",", a.Evidence));
        Assert.Equal(clean.Alerts.Select(Shape), isolated.Alerts.Select(Shape));
        Assert.Equal(3, clean.Alerts.Count);
        Assert.Empty(clean.Failures);
        Assert.Equal(5, isolated.Failures.Count);
    }

    [Fact]
    public void Raise_update_and_resolve_carry_one_stable_alert_id()
    {
        var kit = new RuleTestKit().Bind(new EscalatingRule(), "escalate");

        kit.Send(Event(0));
        kit.AdvanceClock(TimeSpan.FromMinutes(2));
        kit.Send(Event(1, ("ok", true)));

        Assert.Equal([AlertStatus.Raised, AlertStatus.Escalated, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        Assert.Single(kit.Alerts.Select(a => a.AlertId).Distinct());
        Assert.Equal(2, kit.Alerts[1].Level);
        Assert.Null(kit.SensorState("s-1")!.Rules.FirstOrDefault(r => r.OpenAlerts.Count > 0));
    }

    private static SensorEvent Event(int second, params (string Name, SensorValue Value)[] values) =>
        new("s-1", "a", "test", T0.AddSeconds(second), values.ToDictionary(v => v.Name, v => v.Value));

    private sealed class Collected : IRuleOutputs
    {
        public List<Alert> Alerts { get; } = [];

        public void Alert(Alert alert) => Alerts.Add(alert);

        public void Aggregate(Aggregate aggregate)
        {
        }

        public void Fact(Fact fact)
        {
        }

        public void RuleFailed(string ruleName, string handler, Exception exception) => throw exception;
    }

    [Fact]
    public void A_value_typed_state_keeps_its_type_through_a_restore_and_a_clear()
    {
        // Values are held as their type (a time or a number is not boxed at each update): what is written, read back and
        // refused must be as before.
        var rules = new RuleSet([new RuleBinding("since", new SinceRule())]);
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        runner.OnEvent(Event(0), T0, T0, new Collected());
        runner.OnEvent(Event(1), T0, T0, new Collected());
        var json = System.Text.Encoding.UTF8.GetString(runner.PersistedState());
        Assert.Contains("\"values\":{\"first\":\"2026-03-01T08:00:00+00:00\",\"count\":2},", json, StringComparison.Ordinal); // a cleared value is not written

        var restored = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", rules, new EventTimeSettings());
        Assert.Empty(restored.Restore(KeyedStateSnapshot.FromJson(runner.PersistedState())));
        var outputs = new Collected();
        restored.OnEvent(Event(2, ("clear", SensorValue.FromBoolean(true))), T0, T0, outputs);

        Assert.Equal(["first:2026-03-01T08:00:00.0000000+00:00 count:3"], outputs.Alerts.Select(a => a.Description));
        Assert.DoesNotContain("\"count\"", System.Text.Encoding.UTF8.GetString(restored.PersistedState()), StringComparison.Ordinal);

        var refused = Assert.Throws<InvalidOperationException>(() => restored.OnEvent(Event(3, ("asText", SensorValue.FromBoolean(true))), T0, T0, outputs));
        Assert.Equal("State 'first' holds DateTimeOffset, not String: use one type per state name.", refused.Message);
    }

    /// <summary>Counts events; the first sets a timer a minute later; the third raises an alert that the timer resolves.</summary>
    private sealed class CountingRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<int>("count");
            count.Update(count.Value + 1);
            if (count.Value == 1)
            {
                context.SetEventTimeTimer("resolve", sensorEvent.Timestamp.AddMinutes(1));
            }

            if (count.Value == 3)
            {
                context.RaiseAlert("open", new AlertDraft("t", "t", AlertSeverity.Low, $"count:{count.Value}"));
            }
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) => context.ResolveAlert("open", "timer");
    }

    /// <summary>
    /// Keeps the first event's time and a count as values (and a flag it clears); reports both on a "clear" reading, which
    /// clears the count; an "asText" reading asks for the time as a string.
    /// </summary>
    private sealed class SinceRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var first = context.State<DateTimeOffset>("first");
            if (!first.HasValue)
            {
                first.Update(sensorEvent.Timestamp);
            }

            var count = context.State<long>("count");
            count.Update(count.Value + 1);
            var cleared = context.State<bool>("cleared");
            cleared.Update(true);
            cleared.Clear();
            if (sensorEvent.TryGetBoolean("asText", out _))
            {
                _ = context.State<string>("first");
            }

            if (sensorEvent.TryGetBoolean("clear", out _))
            {
                context.RaiseAlert("x", new AlertDraft("t", "t", AlertSeverity.Low,
                    string.Create(CultureInfo.InvariantCulture, $"first:{first.Value:O} count:{count.Value}")));
                count.Clear();
            }
        }
    }

    /// <summary>Keeps a sum, a minimum that starts at +infinity and a NaN; reports them on every third event.</summary>
    private sealed class ExtremesRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var v = sensorEvent.Values["v"].Number;
            var stats = context.State<double[]>("stats");
            var (sum, min, count) = stats.Value is { } s ? (s[0], s[1], s[3]) : (0d, double.PositiveInfinity, 0d);
            stats.Update([sum + v, Math.Min(min, v), double.NaN, count + 1]);
            if (count + 1 == 3)
            {
                context.RaiseAlert("x", new AlertDraft("t", "t", AlertSeverity.Low,
                    string.Create(CultureInfo.InvariantCulture, $"sum:{stats.Value![0]} min:{stats.Value[1]} nan:{stats.Value[2]}")));
            }
        }
    }

    private sealed class ThrowingRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) => throw new InvalidOperationException("boom");
    }

    /// <summary>Raises on an event, escalates after a minute of wall clock, resolves on an "ok" reading.</summary>
    private sealed class EscalatingRule : Rule
    {
        private static readonly AlertDraft Draft = new("health", "fallenPatient", AlertSeverity.Critical, "fall");

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            if (sensorEvent.Values.ContainsKey("ok"))
            {
                context.CancelTimer("escalate");
                context.ResolveAlert("fall", "helped");
                return;
            }

            context.RaiseAlert("fall", Draft);
            context.SetProcessingTimeTimer("escalate", context.ProcessingTime.AddMinutes(1));
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) =>
            context.UpdateAlert("fall", Draft with { Level = 2 }, AlertStatus.Escalated);
    }
}

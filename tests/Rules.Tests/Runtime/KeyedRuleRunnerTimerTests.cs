using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Kommune.Rules.Tests.Windows;

namespace Kommune.Rules.Tests.Runtime;

public sealed class KeyedRuleRunnerTimerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new() { OutOfOrderness = TimeSpan.Zero, AllowedLateness = TimeSpan.FromMinutes(1) };

    [Fact]
    public void An_event_time_timer_set_at_or_behind_the_watermark_fires_without_waiting_for_the_watermark_to_move()
    {
        var rule = new TimerAtEventTimeRule();
        var kit = new RuleTestKit(Settings).Bind(rule);

        kit.Send("s1", "t", T0.AddSeconds(30));
        kit.Send("s1", "t", T0.AddSeconds(10)); // late but allowed (watermark 30 s); its timer at 10 s is already due

        Assert.Equal([T0.AddSeconds(30), T0.AddSeconds(10)], rule.Fired);
    }

    [Fact]
    public void A_due_timer_set_by_an_event_handler_fires_before_OnEvent_returns()
    {
        var rule = new TimerAtEventTimeRule();
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s1", "area-1", new RuleSet([new RuleBinding("timers", rule)]), Settings);
        var outputs = new CollectingOutputs();
        runner.Advance(T0.AddMinutes(1), T0, outputs);

        runner.OnEvent(new SensorEvent("s1", "area-1", "t", T0.AddSeconds(10), new Dictionary<string, SensorValue>()), T0.AddMinutes(1), T0, outputs);

        Assert.Equal([T0.AddSeconds(10)], rule.Fired);
        Assert.Null(runner.NextEventTimeTimer);
    }

    [Fact]
    public void A_timer_set_by_a_timer_handler_that_is_already_due_fires_in_the_same_advance()
    {
        var rule = new ChainRule();
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "s1", "area-1", new RuleSet([new RuleBinding("chain", rule)]), Settings);
        var outputs = new CollectingOutputs();
        runner.OnEvent(new SensorEvent("s1", "area-1", "t", T0, new Dictionary<string, SensorValue>()), DateTimeOffset.MinValue, T0, outputs);

        runner.Advance(T0.AddMinutes(1), T0, outputs);

        // The event-time timer sets a processing-time timer already due, which sets an event-time timer already due.
        Assert.Equal(["first", "second", "third"], rule.Fired);
        Assert.False(runner.HasState);
    }

    [Fact]
    public void Over_the_per_key_timer_limit_the_earliest_windows_close_ahead_of_a_held_back_watermark_and_each_is_reported()
    {
        // A congestion segment whose watermark is held back (no watermark at all here) while an hour of minute
        // readings arrives: without a limit, sixty open windows and their timers would pile up.
        var settings = Settings with { MaxEventTimeTimersPerKey = 10 };
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "road-1", "area-1", new RuleSet([new RuleBinding("congestion", new Kommune.Rules.BuiltIn.CongestionRule())]), settings);
        var outputs = new CollectingOutputs();

        for (var minute = 0; minute < 60; minute++)
        {
            runner.OnEvent(new SensorEvent("road-1", "area-1", SensorTypes.Traffic, T0.AddMinutes(minute), new Dictionary<string, SensorValue> { ["speed"] = 80.0 }), DateTimeOffset.MinValue, T0, outputs);
        }

        Assert.Equal(50, outputs.Problems.Count(p => p.Kind == "timer-limit"));
        Assert.All(outputs.Problems, p => Assert.Equal(("congestion", "road-1"), (p.Rule, p.Key)));
        Assert.Contains("fired early", outputs.Problems[0].Message, StringComparison.Ordinal);
        // The fifty earliest minutes were closed (their windows gone from the state); ten stay open for the watermark.
        Assert.Equal(T0.AddMinutes(50).AddMinutes(1), runner.NextEventTimeTimer);
        Assert.Equal(50, outputs.Facts.Count(f => f.Name == Kommune.Rules.BuiltIn.CongestionRule.FactName));
        var snapshot = System.Text.Encoding.UTF8.GetString(runner.PersistedState());
        Assert.True(snapshot.Length < 4_000, $"the state holds the open windows only: {snapshot.Length} bytes");
    }

    private sealed class TimerAtEventTimeRule : Rule
    {
        public List<DateTimeOffset> Fired { get; } = [];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            context.SetEventTimeTimer("t" + sensorEvent.Timestamp.ToUnixTimeMilliseconds(), sensorEvent.Timestamp);

        public override void OnTimer(IRuleContext context, RuleTimer timer)
        {
            Assert.True(timer.Time <= context.Watermark);
            Fired.Add(timer.Time);
        }
    }

    private sealed class ChainRule : Rule
    {
        public List<string> Fired { get; } = [];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            context.SetEventTimeTimer("first", sensorEvent.Timestamp.AddSeconds(10));

        public override void OnTimer(IRuleContext context, RuleTimer timer)
        {
            Fired.Add(timer.Name);
            if (timer.Name == "first")
            {
                context.SetProcessingTimeTimer("second", context.ProcessingTime);
            }
            else if (timer.Name == "second")
            {
                context.SetEventTimeTimer("third", context.Watermark.AddSeconds(-5));
            }
        }
    }
}

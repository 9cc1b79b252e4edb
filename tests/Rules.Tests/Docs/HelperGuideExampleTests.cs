using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Docs;

/// <summary>The helper examples of docs/rules.md ("Periods, runs and hysteresis"), compiled and run.</summary>
public sealed class HelperGuideExampleTests
{
    // 22:00 in Oslo on the night the clocks go forward (CET, UTC+1).
    private static readonly DateTimeOffset Night = new(2026, 3, 28, 21, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, SensorValue> Db(double db) => new() { ["db"] = db };

    [Fact]
    public void The_night_noise_example_raises_one_alert_per_night_after_three_loud_windows_in_a_row()
    {
        var kit = new RuleTestKit(start: Night).Bind(new NightNoiseRule(RuleParameters.Empty));
        kit.Send("noise-7", "noise", Night.AddHours(-1), Db(90));           // 21:00 local: day, not accepted
        for (var minute = 0; minute < 25; minute++)
        {
            kit.Send("noise-7", "noise", Night.AddMinutes(minute), Db(minute < 5 || minute >= 10 ? 80 : 50));
        }

        kit.AdvanceWatermarkTo(Night.AddMinutes(30));

        // Windows 22:00 loud, 22:05 quiet, 22:10, 22:15, 22:20 loud: three in a row at 22:20.
        var alert = Assert.Single(kit.Alerts);
        Assert.Equal("night-noise:noise-7:loud-night:2026-03-28", alert.AlertId);
        Assert.Equal(Night.AddMinutes(25), alert.EventTime);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_night_noise_example_reports_a_text_reading_as_a_problem()
    {
        var kit = new RuleTestKit(start: Night).Bind(new NightNoiseRule(RuleParameters.Empty));

        kit.Send("noise-7", "noise", Night, new Dictionary<string, SensorValue> { ["db"] = "loud" });

        Assert.Equal("unusable-event", Assert.Single(kit.Problems).Kind);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_hysteresis_example_raises_after_five_loud_minutes_and_clears_after_three_quiet_readings()
    {
        var kit = new RuleTestKit(start: Night).Bind(new LoudRule(), "loud");
        double[] readings = [72, 69, 71, 72, 75, 75, 66, 60, 60, 60];
        for (var i = 0; i < readings.Length; i++)
        {
            kit.Send("noise-7", "noise", Night.AddMinutes(i * 2.5), Db(readings[i]));
        }

        // 69 holds above 65 but not at 70: the count starts again at 71 (5 min), raised at 75 (10 min, 5 minutes on).
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        Assert.Equal(Night.AddMinutes(10), kit.Alerts[0].EventTime);
        Assert.Equal(Night.AddMinutes(22.5), kit.Alerts[1].EventTime);
    }

    [Rule("night-noise")]
    private sealed class NightNoiseRule : Rule
    {
        private readonly DailyPeriod _night;
        private readonly double _threshold;
        private readonly ConsecutiveWindows _loudWindows = new(TimeSpan.FromMinutes(5), GapPolicy.Reset);
        private readonly WindowedAggregation _db;

        public NightNoiseRule(RuleParameters parameters)
        {
            _night = parameters.GetDailyPeriod("night", parameters.GetTimeZone("timeZone", "Europe/Oslo"), "22:00-06:00");
            _threshold = parameters.GetNumber("threshold", 70);
            _db = new WindowedAggregation("db", WindowSpec.Tumbling(TimeSpan.FromMinutes(5)), OnWindow);
        }

        public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

        public override bool Accepts(SensorEvent e) => _night.Contains(e.Timestamp);   // night readings only

        public override void OnEvent(IRuleContext context, SensorEvent e)
        {
            if (e.TryGetNumber("db", out var db)) _db.Add(context, e.Timestamp, db);
            else context.ReportProblem("unusable-event", "value 'db' is not a number");
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) => _db.OnTimer(context, timer);

        private void OnWindow(IRuleContext context, WindowResult window)
        {
            if (window.IsUpdate) return;
            var inARow = _loudWindows.Record(context.State<WindowRun>("loud"), window.Start, window.Max > _threshold);
            if (inARow >= 3 && _night.TryGetOccurrence(window.Start, out var night))      // one alert per night
            {
                context.RaiseAlert($"loud-night:{night.Date:yyyy-MM-dd}", new AlertDraft("environment", "noise",
                    AlertSeverity.Low, $"Above {_threshold} dB for {inARow * 5} minutes in the night of {night.Date:yyyy-MM-dd}"));
            }
        }
    }

    [Fact]
    public void The_conditions_example_raises_after_three_jammed_minutes_clears_after_three_flowing_ones_and_starts_over_after_an_operator()
    {
        var kit = new RuleTestKit(start: Night).Bind(new JamRule(), "jam");
        void Minutes(int from, params double[] speeds)
        {
            for (var i = 0; i < speeds.Length; i++)
            {
                kit.Send("road-1", "traffic", Night.AddMinutes(from + i), new Dictionary<string, SensorValue> { ["speed"] = speeds[i], ["occupancy"] = 10.0 });
            }
        }

        Minutes(0, 20, 20, 20, 40, 30, 40, 40); // raised at 2; 30 km/h is neither slow nor fast: the clear run starts again
        Assert.Equal([AlertStatus.Raised], kit.Alerts.Select(a => a.Status));
        Minutes(7, 40);
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));

        Minutes(8, 20, 20, 20);
        Assert.True(kit.Resolve(kit.Alerts[^1].AlertId)); // an operator resolves it: the next jam is counted afresh
        Minutes(11, 20, 20);
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status); // two jammed minutes since: not yet
        Minutes(13, 20);
        Assert.Equal((AlertStatus.Raised, 3), (kit.Alerts[^1].Status, kit.Alerts.Count(a => a.Status == AlertStatus.Raised)));
        Assert.Empty(kit.Failures);
    }

    /// <summary>The example of "Hysteresis on conditions of your own": each event is one closed minute's means.</summary>
    private sealed class JamRule : Rule
    {
        private readonly Hysteresis _jam = Hysteresis.OnConditions() with { RaiseAfter = 3, ClearAfter = 3 };

        public override void OnEvent(IRuleContext context, SensorEvent e)
        {
            if (!e.TryGetNumber("speed", out var speed) || !e.TryGetNumber("occupancy", out var occupancy)) return;
            OnMinute(context, e.Timestamp, slow: speed < 25, fast: speed >= 32.5, full: occupancy > 30);
        }

        private void OnMinute(IRuleContext context, DateTimeOffset minute, bool slow, bool fast, bool full)   // once per closed minute, in order
        {
            var state = context.State<HysteresisState>("jam");
            if (state.Value is { IsRaised: true } && context.OpenAlert("jam") is null) state.Update(HysteresisState.Clear); // resolved by an operator
            switch (_jam.Observe(state, minute, raising: slow || full, clearing: fast && !full))
            {
                case HysteresisChange.Raised:
                    context.RaiseAlert("jam", new AlertDraft("traffic", "trafficJam", AlertSeverity.High, "congested for 3 minutes"));
                    break;
                case HysteresisChange.Cleared:
                    context.ResolveAlert("jam", "flows again");
                    break;
            }
        }
    }

    private sealed class LoudRule : Rule
    {
        private readonly Hysteresis _loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65) with { RaiseFor = TimeSpan.FromMinutes(5), ClearAfter = 3 };

        public override void OnEvent(IRuleContext context, SensorEvent e)
        {
            if (!e.TryGetNumber("db", out var db)) return;
            switch (_loud.Observe(context.State<HysteresisState>("loud"), e.Timestamp, db))
            {
                case HysteresisChange.Raised:
                    context.RaiseAlert("loud", new AlertDraft("environment", "noise", AlertSeverity.Low, $"{db} dB for 5 minutes"));
                    break;
                case HysteresisChange.Cleared:
                    context.ResolveAlert("loud", $"Quiet again: {db} dB");
                    break;
            }
        }
    }
}

using System.Text.Json;
using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class EnergyAnomalyRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero); // a Monday
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(15);
    private const string Sensor = "meter-1";

    /// <summary>A daily pattern: 2 kW at night (00–06), 10 kW by day, with a little deterministic noise.</summary>
    private static double Normal(DateTimeOffset time, Random noise) => (time.Hour < 6 ? 2 : 10) + ((noise.NextDouble() - 0.5) * 0.4);

    private sealed class Feed(string parameters = "{}")
    {
        private readonly Random _noise = new(42);

        public RuleTestKit Kit { get; } = new RuleTestKit(start: T0).Bind(new EnergyAnomalyRule(RuleParameters.FromJson(parameters)));

        public DateTimeOffset Now { get; private set; } = T0;

        /// <summary>Sends normal readings for a span.</summary>
        public Feed NormalFor(TimeSpan span) => Readings(span, (t, n) => n);

        /// <summary>Sends readings for a span, each made from its time and the normal value.</summary>
        public Feed Readings(TimeSpan span, Func<DateTimeOffset, double, double> value)
        {
            for (var end = Now + span; Now < end; Now += Step)
            {
                Kit.Send(Sensor, "energy", Now, new Dictionary<string, SensorValue> { ["kw"] = value(Now, Normal(Now, _noise)) });
            }

            return this;
        }

        public List<Alert> Raised(string subCategory) => [.. Kit.Alerts.Where(a => a.Status == AlertStatus.Raised && a.SubCategory == subCategory)];
    }

    /// <summary>A feed after a normal week, its outputs cleared (on its very first morning the detector has not seen the
    /// 06:00 step yet, and rightly alerts on it).</summary>
    private static Feed Learned(string parameters = "{}")
    {
        var feed = new Feed(parameters).NormalFor(TimeSpan.FromDays(7));
        feed.Kit.ClearOutputs();
        return feed;
    }

    [Fact]
    public void Rule_is_named_energy_anomaly_and_watches_any_sensor_type()
    {
        var attribute = Assert.Single(typeof(EnergyAnomalyRule).GetCustomAttributes(typeof(RuleAttribute), false).OfType<RuleAttribute>());
        Assert.Equal("energy-anomaly", attribute.Name);
        Assert.Empty(new EnergyAnomalyRule(RuleParameters.Empty).SensorTypes);
    }

    [Fact]
    public void Normal_weeks_raise_nothing_once_the_first_day_is_learned()
    {
        var feed = new Feed().NormalFor(TimeSpan.FromDays(1));
        Assert.All(feed.Kit.Alerts, a => Assert.True(a.EventTime.Hour is >= 6 and < 12, "only the first morning's step"));
        feed.Kit.ClearOutputs();
        feed.NormalFor(TimeSpan.FromDays(20));
        Assert.True(feed.Kit.Alerts.Count == 0, string.Join("\n", feed.Kit.Alerts.Select(a => $"{a.EventTime:u} {a.Status} {a.Description}")));
        Assert.Empty(feed.Kit.Failures);
    }

    [Fact]
    public void A_sustained_spike_raises_one_alert_and_resolves_when_normal_again()
    {
        var feed = Learned().NormalFor(TimeSpan.FromHours(12));
        var spikeStart = feed.Now;
        feed.Readings(TimeSpan.FromHours(2), (t, n) => n + 15).NormalFor(TimeSpan.FromHours(6));

        var raised = Assert.Single(feed.Kit.Alerts, a => a.Status == AlertStatus.Raised);
        Assert.Equal("energy", raised.Category);
        Assert.Equal("energy-anomaly", raised.SubCategory);
        Assert.Equal(Sensor, raised.SensorId);
        // The incident is named by the episode's first anomalous reading (the smoothed score crosses the threshold
        // on the first or second reading of the spike).
        Assert.Contains(raised.AlertId, new[] { spikeStart, spikeStart + Step }.Select(t => $"energy-anomaly:{Sensor}:energy-anomaly:{t.ToUnixTimeMilliseconds()}"));
        Assert.True(raised.EventTime <= spikeStart + (3 * Step), "raised within the first three readings");
        Assert.Contains("above", raised.Description, StringComparison.Ordinal);
        var resolved = feed.Kit.Alerts[^1];
        Assert.Equal(AlertStatus.Resolved, resolved.Status);
        Assert.Equal(raised.AlertId, resolved.AlertId);
        Assert.True(resolved.EventTime > spikeStart + TimeSpan.FromHours(2));
        Assert.Empty(feed.Kit.Failures);
    }

    [Fact]
    public void A_sustained_drop_raises_an_alert_below_normal()
    {
        var feed = Learned().NormalFor(TimeSpan.FromHours(12));
        feed.Readings(TimeSpan.FromHours(2), (t, n) => n - 8);
        var raised = Assert.Single(feed.Raised("energy-anomaly"));
        Assert.Contains("below", raised.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_short_blip_raises_nothing(int readings)
    {
        var feed = Learned().NormalFor(TimeSpan.FromHours(12));
        feed.Readings(readings * Step, (t, n) => n + 40).NormalFor(TimeSpan.FromHours(12));
        Assert.Empty(feed.Kit.Alerts);
    }

    [Fact]
    public void Severity_grows_with_the_deviation_and_the_alert_is_updated()
    {
        var feed = Learned().NormalFor(TimeSpan.FromHours(12));
        feed.Readings(TimeSpan.FromHours(1), (t, n) => n + 2).Readings(TimeSpan.FromHours(1), (t, n) => n + 30);

        var alerts = feed.Kit.Alerts;
        Assert.Equal(AlertStatus.Raised, alerts[0].Status);
        Assert.True(alerts[0].Severity < AlertSeverity.Critical);
        var escalated = Assert.Single(alerts, a => a.Status == AlertStatus.Escalated && a.Severity == AlertSeverity.Critical);
        Assert.Equal(alerts[0].AlertId, escalated.AlertId);
        Assert.All(alerts.Skip(1), a => Assert.Equal(AlertStatus.Escalated, a.Status));
        Assert.Equal(alerts.Select(a => a.Severity).Order(), alerts.Select(a => a.Severity));
    }

    [Fact]
    public void A_flat_lined_meter_raises_stuck_meter_and_resolves_when_it_moves()
    {
        var feed = Learned("""{"stuckFor": "3h"}""").NormalFor(TimeSpan.FromHours(8));
        var stuckFrom = feed.Now;
        feed.Readings(TimeSpan.FromHours(4), (t, n) => 10.0);
        var stuck = Assert.Single(feed.Raised("stuck-meter"));
        Assert.True(stuck.EventTime >= stuckFrom + TimeSpan.FromHours(3));
        Assert.Equal(AlertSeverity.Medium, stuck.Severity);

        feed.NormalFor(Step);
        Assert.Contains(feed.Kit.Alerts, a => a.Status == AlertStatus.Resolved && a.AlertId == stuck.AlertId);
    }

    [Fact]
    public void Consumption_at_night_well_above_the_night_baseline_raises_night_consumption()
    {
        var feed = Learned("""{"nightHours": "00-06"}""").NormalFor(TimeSpan.FromDays(1));
        Assert.Empty(feed.Kit.Alerts);
        feed.Readings(TimeSpan.FromHours(5), (t, n) => t.Hour < 6 ? n + 4 : n);
        var night = Assert.Single(feed.Raised("night-consumption"));
        Assert.Equal("energy", night.Category);
        Assert.StartsWith($"energy-anomaly:{Sensor}:night-consumption:", night.AlertId, StringComparison.Ordinal);
    }

    [Fact]
    public void Night_watch_can_be_turned_off()
    {
        var feed = Learned("""{"nightHours": "none"}""").NormalFor(TimeSpan.FromDays(1));
        feed.Readings(TimeSpan.FromHours(5), (t, n) => t.Hour < 6 ? n + 4 : n);
        Assert.Empty(feed.Raised("night-consumption"));
    }

    [Fact]
    public void Is_useful_from_the_first_day()
    {
        var feed = new Feed().NormalFor(TimeSpan.FromHours(4));
        feed.Readings(TimeSpan.FromHours(1), (t, n) => n + 40);
        Assert.Single(feed.Raised("energy-anomaly"));
    }

    [Fact]
    public void Another_value_name_can_be_watched_and_events_without_it_are_ignored()
    {
        var kit = new RuleTestKit(start: T0).Bind(new EnergyAnomalyRule(RuleParameters.FromJson("""{"value": "flow"}""")));
        kit.Send(Sensor, "water", T0, new Dictionary<string, SensorValue> { ["kw"] = 3.0 });
        Assert.Null(kit.SensorState(Sensor)!.Rules.SingleOrDefault(r => r.Values.ContainsKey(EnergyAnomalyRule.StateName)));
        kit.Send(Sensor, "water", T0.AddMinutes(1), new Dictionary<string, SensorValue> { ["flow"] = 3.0 });
        Assert.Contains(kit.SensorState(Sensor)!.Rules, r => r.Values.ContainsKey(EnergyAnomalyRule.StateName));
    }

    [Theory]
    [InlineData("""{"threshold": "ten"}""", "threshold")]
    [InlineData("""{"threshold": 0.5}""", "threshold")]
    [InlineData("""{"minConsecutive": 1.5}""", "minConsecutive")]
    [InlineData("""{"minConsecutive": 0}""", "minConsecutive")]
    [InlineData("""{"stuckFor": "soon"}""", "stuckFor")]
    [InlineData("""{"resolveAfter": "-5m"}""", "resolveAfter")]
    [InlineData("""{"nightHours": "25-03"}""", "nightHours")]
    [InlineData("""{"nightHours": "night"}""", "nightHours")]
    [InlineData("""{"nightHours": "03-03"}""", "nightHours")]
    [InlineData("""{"timeZone": "Mars/Olympus"}""", "timeZone")]
    [InlineData("""{"value": ""}""", "value")]
    [InlineData("""{"smoothing": 2}""", "smoothing")]
    [InlineData("""{"logScale": "yes"}""", "logScale")]
    [InlineData("""{"calibratedRate": 0.9}""", "calibratedRate")]
    [InlineData("""{"calibrationReadings": 10}""", "calibrationReadings")]
    [InlineData("""{"quietAfter": "later"}""", "quietAfter")]
    [InlineData("""{"adaptAfter": "-1h"}""", "adaptAfter")]
    [InlineData("""{"rangeTolerance": -0.1}""", "rangeTolerance")]
    [InlineData("""{"scoreClip": 20}""", "scoreClip")]
    [InlineData("""{"maxCalibration": 3}""", "maxCalibration")]
    [InlineData("""{"scaleMemory": 1}""", "scaleMemory")]
    public void Wrong_parameters_are_refused_naming_the_parameter(string json, string parameter)
    {
        var error = Assert.Throws<RuleParameterException>(() => new EnergyAnomalyRule(RuleParameters.FromJson(json)));
        Assert.Equal(parameter, error.Parameter);
    }

    [Fact]
    public void Parameters_have_defaults_and_are_all_read()
    {
        var parameters = RuleParameters.FromJson("""
            {"value": "kw", "threshold": 5, "minConsecutive": 4, "minSpan": "1h", "resolveAfter": "2h", "stuckFor": "12h",
             "stuckTolerance": 0.01, "nightHours": "22-06", "nightThreshold": 6, "smoothing": 0.5, "logScale": true,
             "quietAfter": "12h", "adaptAfter": "1d", "rangeTolerance": 0.05, "scoreClip": 4, "maxCalibration": 3, "scaleMemory": 200, "warmUp": 24, "timeZone": "Europe/Oslo", "calibratedRate": 0.02, "calibrationReadings": 500}
            """);
        var rule = new EnergyAnomalyRule(parameters);
        Assert.Empty(parameters.Unread);
        Assert.Equal(5, rule.Options.Threshold);
        Assert.Equal(22, rule.Options.NightStartHour);
        Assert.Equal(6, rule.Options.NightEndHour);
        Assert.Equal("Europe/Oslo", rule.Options.TimeZone.Id);
        Assert.Equal(0.02, rule.Options.CalibratedRate);
        Assert.Equal(500, rule.Options.CalibrationReadings);
        Assert.Equal(TimeSpan.FromHours(12), rule.Options.QuietAfter);
        Assert.Equal(TimeSpan.FromDays(1), rule.Options.AdaptAfter);
        Assert.Equal(0.05, rule.Options.RangeTolerance);
        Assert.Equal((4, 3, 0.005), (rule.Options.ScoreClip, rule.Options.MaxCalibration, rule.Options.ScaleAlpha));
        var defaults = new EnergyAnomalyRule(RuleParameters.Empty).Options;
        Assert.Equal(0, defaults.RangeTolerance);
        Assert.Equal(3, defaults.MinConsecutive);
        Assert.Equal(TimeSpan.FromHours(6), defaults.StuckFor);
        Assert.Equal(0, defaults.NightStartHour);
    }

    [Fact]
    public void State_snapshot_round_trips_through_json_and_stays_bounded()
    {
        var feed = Learned().Readings(TimeSpan.FromHours(2), (t, n) => n + 15);
        var snapshot = feed.Kit.SensorState(Sensor)!;
        var json = snapshot.ToJson();
        var back = KeyedStateSnapshot.FromJson(json);
        var element = Assert.Single(back.Rules).Values[EnergyAnomalyRule.StateName];
        var options = KeyedStateSnapshot.JsonOptions; // the engine's state options: long lists of doubles as base64
        var state = element.Deserialize<SeriesAnomalyState>(options)!;
        Assert.Equal(element.GetRawText(), JsonSerializer.Serialize(state, options));
        Assert.True(state.Deviation.Open);
        Assert.Equal(168, state.WeekMeans.Length);
        Assert.Contains(back.Rules[0].OpenAlerts.Keys, k => k.StartsWith("energy-anomaly:", StringComparison.Ordinal));

        // Bounded: once every reservoir is full (four weeks of 15-minute readings), the state stops growing.
        feed.NormalFor(TimeSpan.FromDays(28));
        var full = feed.Kit.SensorState(Sensor)!.ToJson().Length;
        feed.NormalFor(TimeSpan.FromDays(28));
        Assert.InRange(feed.Kit.SensorState(Sensor)!.ToJson().Length, 0, full * 1.05);
        Assert.InRange(full, 0, 16_384);
    }

    [Fact]
    public void Detector_continues_from_a_restored_state_as_if_never_stopped()
    {
        // Every mechanism on: the range of new extremes and the quiet period live in the state too.
        var detector = new SeriesAnomalyDetector(new SeriesAnomalyOptions { RangeTolerance = 0.05, QuietAfter = TimeSpan.FromHours(12), NightStartHour = 0 });
        var noise = new Random(7);
        var live = new SeriesAnomalyState();
        var time = T0;
        for (var i = 0; i < 800; i++, time += Step)
        {
            detector.Observe(live, time, Normal(time, noise));
        }

        var options = KeyedStateSnapshot.JsonOptions; // as the engine persists it
        var restored = JsonSerializer.Deserialize<SeriesAnomalyState>(JsonSerializer.Serialize(live, options), options)!;
        for (var i = 0; i < 16; i++, time += Step)
        {
            var value = Normal(time, noise) + 20;
            Assert.Equal(detector.Observe(live, time, value), detector.Observe(restored, time, value));
        }

        Assert.Equal(JsonSerializer.Serialize(live, options), JsonSerializer.Serialize(restored, options));
    }

    [Fact]
    public void Detector_never_throws_keeps_its_reservoirs_bounded_and_ignores_old_readings()
    {
        var options = new SeriesAnomalyOptions { NightStartHour = 22, NightEndHour = 6, RangeTolerance = 0.05 };
        var detector = new SeriesAnomalyDetector(options);
        Gen.Select(Gen.Double[-1e6, 1e6], Gen.Int[-30, 3_600]).List[1, 400].Sample(readings =>
        {
            var state = new SeriesAnomalyState();
            var time = T0;
            foreach (var (value, seconds) in readings)
            {
                time += TimeSpan.FromSeconds(seconds);
                foreach (var signal in detector.Observe(state, time, value))
                {
                    Assert.True(double.IsFinite(signal.Score) || signal.Kind == SeriesAnomalyKind.Stuck);
                }
            }

            Assert.Equal((168, 168, 24, 24, 24, 80), (state.WeekMeans.Length, state.WeekPasses.Length, state.DayMeans.Length, state.DaySpreads.Length, state.DayPasses.Length, state.ScoreHistogram.Length));
            Assert.All(state.Errors, e => Assert.True(double.IsFinite(e)));
            Assert.Empty(detector.Observe(state, time, 1));
        });
    }

    [Fact]
    public void A_reading_beyond_every_reading_before_it_is_a_new_extreme_in_either_direction()
    {
        // A threshold no deviation reaches, so only the range check can open an episode. The series swings daily
        // between 2 and 10 (± 0.2); a reading beyond that range by more than 5 % of it (0.42) is a new extreme, one
        // within it is not, however unexpected at its hour.
        var detector = new SeriesAnomalyDetector(new SeriesAnomalyOptions { Threshold = 100, ScoreClip = 10, MinConsecutive = 1, RangeTolerance = 0.05 });
        var state = new SeriesAnomalyState();
        var noise = new Random(5);
        var time = T0;
        List<SeriesAnomalySignal> Send(double value)
        {
            var signals = detector.Observe(state, time, value).ToList();
            time += Step;
            return signals;
        }

        for (var i = 0; i < 96; i++)
        {
            Send(Normal(time, noise)); // the first day: its 06:00 step is a new extreme
        }

        for (var i = 0; i < 6 * 96; i++)
        {
            Assert.DoesNotContain(Send(Normal(time, noise)), s => s.Action == SeriesSignalAction.Start);
        }

        Assert.DoesNotContain(Send(2.5), s => s.Action == SeriesSignalAction.Start); // within the range
        Assert.DoesNotContain(Send(10.5), s => s.Action == SeriesSignalAction.Start); // at night, but beyond 10.2 by less than 0.4
        var above = Assert.Single(Send(11.5), s => s.Action == SeriesSignalAction.Start);
        Assert.Equal((SeriesAnomalyKind.Deviation, true), (above.Kind, above.Score > 0));
        for (var i = 0; i < 8; i++)
        {
            Send(Normal(time, noise)); // back to normal: the episode ends
        }

        var below = Assert.Single(Send(0.5), s => s.Action == SeriesSignalAction.Start);
        Assert.True(below.Score < 0);
        Assert.Equal((0.5, 11.5), (state.RangeLow, state.RangeHigh)); // each reading widens the range
    }

    /// <summary>
    /// Runs a detector over a level series (100 ± 1) with a surge every 61 readings (7-minute steps, so the surges
    /// wander over the hours of the week): surge n lasts <c>length(n)</c> readings of <c>height(n)</c> added. Returns, per surge,
    /// whether a deviation episode started during it or just after it.
    /// </summary>
    private static List<bool> Surges(SeriesAnomalyOptions options, int count, Func<int, (int Length, double Height)> surge)
    {
        var detector = new SeriesAnomalyDetector(options);
        var noise = new Random(11);
        var state = new SeriesAnomalyState();
        var found = new List<bool>();
        var time = T0;
        for (var i = 0; i < count * 61; i++, time += TimeSpan.FromMinutes(7))
        {
            var phase = i % 61;
            var (length, height) = surge(i / 61);
            var value = 100 + ((noise.NextDouble() - 0.5) * 2) + (phase >= 20 && phase < 20 + length ? height : 0);
            var started = detector.Observe(state, time, value).Any(s => s.Kind == SeriesAnomalyKind.Deviation && s.Action == SeriesSignalAction.Start);
            if (phase == 20)
            {
                found.Add(false);
            }

            if (started && phase >= 20)
            {
                found[^1] = true;
            }
        }

        return found;
    }

    [Fact]
    public void Calibration_stops_routine_excursions_from_alerting_and_still_alerts_in_the_other_direction()
    {
        var uncalibrated = Surges(new SeriesAnomalyOptions { CalibratedRate = 0 }, 60, _ => (4, 15));
        var calibrated = Surges(new SeriesAnomalyOptions { CalibratedRate = 0.01, CalibrationReadings = 400 }, 60, _ => (4, 15));

        // Without calibration every routine surge alerts; with it, once 100 readings are scored, they stop alerting.
        Assert.All(uncalibrated.Skip(30), Assert.True);
        Assert.All(calibrated.Skip(30), Assert.False);
        Assert.InRange(calibrated.Take(30).Count(f => f), 1, 10);

        // Each direction is calibrated on its own: routine surges up do not hide a drop.
        var drop = Surges(new SeriesAnomalyOptions { CalibratedRate = 0.01, CalibrationReadings = 400 }, 60, n => n == 50 ? (4, -15) : (4, 15));
        Assert.True(drop[50], string.Join(",", drop));
        Assert.Single(drop.Skip(30), f => f);
    }

    [Fact]
    public void A_level_shift_lasting_hours_in_minute_readings_stays_one_open_alert_until_it_ends()
    {
        // One-minute readings (more per hour than an hour's profile bucket keeps): a week of the daily pattern, then
        // three hours at +8 kW from 10:00. The shift must not become "normal" within the hour and flap.
        var kit = new RuleTestKit(start: T0).Bind(new EnergyAnomalyRule(RuleParameters.Empty));
        var noise = new Random(3);
        var shiftStart = T0.AddDays(7).AddHours(10);
        var shiftEnd = shiftStart.AddHours(3);
        for (var t = T0; t < shiftEnd.AddHours(3); t += TimeSpan.FromMinutes(1))
        {
            var value = Normal(t, noise) + (t >= shiftStart && t < shiftEnd ? 8 : 0);
            kit.Send(Sensor, "energy", t, new Dictionary<string, SensorValue> { ["kw"] = value });
            if (t == shiftStart.AddMinutes(-1))
            {
                kit.ClearOutputs();
            }
        }

        var raised = Assert.Single(kit.Alerts, a => a.Status == AlertStatus.Raised);
        Assert.InRange(raised.EventTime, shiftStart, shiftStart.AddMinutes(5));
        var resolved = Assert.Single(kit.Alerts, a => a.Status == AlertStatus.Resolved);
        Assert.Equal(raised.AlertId, resolved.AlertId);
        Assert.True(resolved.EventTime >= shiftEnd, $"resolved at {resolved.EventTime}, before the shift ended at {shiftEnd}");
    }
}

using System.Text.Json;
using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.Helpers;

public sealed class HysteresisTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 22, 0, 0, TimeSpan.Zero);

    private static List<HysteresisChange> Feed(Hysteresis hysteresis, params double[] values)
    {
        HysteresisState? state = null;
        var changes = new List<HysteresisChange>();
        for (var i = 0; i < values.Length; i++)
        {
            state = hysteresis.Next(state, T0.AddMinutes(i), values[i], out var change);
            changes.Add(change);
        }

        return changes;
    }

    private const HysteresisChange None = HysteresisChange.None;
    private const HysteresisChange Raised = HysteresisChange.Raised;
    private const HysteresisChange Cleared = HysteresisChange.Cleared;

    [Fact]
    public void Raises_after_n_readings_at_or_above_and_clears_after_m_below_the_lower_threshold()
    {
        var loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65) with { RaiseAfter = 3, ClearAfter = 2 };

        Assert.Equal([None, None, Raised, None, Cleared, None], Feed(loud, 70, 75, 80, 60, 60, 60));
    }

    [Fact]
    public void A_reading_between_the_thresholds_counts_for_neither_and_ends_the_run()
    {
        var loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65) with { RaiseAfter = 2, ClearAfter = 2 };

        Assert.Equal([None, None, None, Raised, None, None, None, Cleared], Feed(loud, 71, 68, 71, 71, 60, 67, 60, 60));
    }

    [Fact]
    public void A_reading_wavering_around_the_raise_threshold_does_not_flap()
    {
        var loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65);

        Assert.Equal([Raised, None, None, None, Cleared], Feed(loud, 70.5, 69.5, 70.5, 69.5, 64));
    }

    [Fact]
    public void A_duration_raises_at_the_first_reading_that_long_after_the_first_one_beyond()
    {
        var loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65) with { RaiseFor = TimeSpan.FromMinutes(2), ClearFor = TimeSpan.FromMinutes(1) };

        // One reading a minute: the third reading above is two minutes after the first.
        Assert.Equal([None, None, Raised, None, Cleared], Feed(loud, 71, 71, 71, 50, 50));
    }

    [Fact]
    public void Below_raises_on_low_readings()
    {
        var cold = Hysteresis.Below(raiseAt: 18, clearAbove: 19);

        Assert.Equal([None, Raised, None, None, Cleared], Feed(cold, 18.5, 18, 18.9, 19, 19.1));
    }

    [Fact]
    public void Thresholds_the_wrong_way_round_and_bad_counts_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Hysteresis.Above(raiseAt: 65, clearBelow: 70));
        Assert.Throws<ArgumentException>(() => Hysteresis.Below(raiseAt: 19, clearAbove: 18));
        Assert.Throws<ArgumentOutOfRangeException>(() => Hysteresis.Above(70, 65) with { RaiseAfter = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => Hysteresis.Above(70, 65) with { ClearFor = TimeSpan.FromSeconds(-1) });
        Assert.Throws<ArgumentOutOfRangeException>(() => Hysteresis.Above(70, 65).Next(null, T0, double.NaN, out _));
    }

    [Fact]
    public void Observe_keeps_where_it_stands_in_keyed_state_of_a_rule()
    {
        var kit = new RuleTestKit(start: T0).Bind(new NoiseRule(), "noise");
        double[] readings = [72, 73, 74, 60, 60];
        for (var i = 0; i < readings.Length; i++)
        {
            kit.Send("noise-1", "noise", T0.AddMinutes(i), new Dictionary<string, SensorValue> { ["db"] = readings[i] });
        }

        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        var saved = kit.SensorState("noise-1")!.Rules.Single(r => r.Name == "noise").Values["loud"];
        Assert.Equal(new HysteresisState(false, 0, null), saved.Deserialize<HysteresisState>(KeyedStateSnapshot.JsonOptions));
        Assert.Empty(kit.Failures);
    }

    private static readonly Gen<(List<int> Values, int RaiseAfter, int ClearAfter, int Cut)> Series =
        Gen.Select(Gen.Int[50, 90].List[0, 60], Gen.Int[1, 4], Gen.Int[1, 4], Gen.Int[0, 60]);

    [Fact]
    public void Changes_alternate_each_raise_follows_n_readings_at_or_above_and_each_clear_m_below_and_state_survives_json()
    {
        Series.Sample(c =>
        {
            var hysteresis = Hysteresis.Above(raiseAt: 70, clearBelow: 60) with { RaiseAfter = c.RaiseAfter, ClearAfter = c.ClearAfter };
            HysteresisState? state = null;
            var raised = false;
            for (var i = 0; i < c.Values.Count; i++)
            {
                state = hysteresis.Next(state, T0.AddMinutes(i), c.Values[i], out var change);
                if (i == c.Cut)
                {
                    state = JsonSerializer.Deserialize<HysteresisState>(JsonSerializer.Serialize(state, KeyedStateSnapshot.JsonOptions), KeyedStateSnapshot.JsonOptions);
                }

                if (change == HysteresisChange.None)
                {
                    continue;
                }

                // A change never repeats, and comes after exactly enough readings beyond its threshold.
                var raising = change == HysteresisChange.Raised;
                var after = raising ? c.RaiseAfter : c.ClearAfter;
                if (raising == raised || i + 1 < after)
                {
                    return false;
                }

                for (var j = i - after + 1; j <= i; j++)
                {
                    if (raising ? c.Values[j] < 70 : c.Values[j] >= 60)
                    {
                        return false;
                    }
                }

                raised = raising;
            }

            return state is null || state.IsRaised == raised;
        });
    }

    private sealed class NoiseRule : Rule
    {
        private readonly Hysteresis _loud = Hysteresis.Above(raiseAt: 70, clearBelow: 65) with { RaiseAfter = 3, ClearAfter = 2 };

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            switch (_loud.Observe(context.State<HysteresisState>("loud"), sensorEvent.Timestamp, sensorEvent.GetNumber("db")))
            {
                case HysteresisChange.Raised:
                    context.RaiseAlert("loud", new AlertDraft("environment", "noise", AlertSeverity.Low, "loud"));
                    break;
                case HysteresisChange.Cleared:
                    context.ResolveAlert("loud", "quiet again");
                    break;
            }
        }
    }
}

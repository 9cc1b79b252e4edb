using System.Text.Json;
using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Helpers;

public sealed class ConsecutiveWindowsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static DateTimeOffset M(int minute) => T0.AddMinutes(minute);

    private static int Count(ConsecutiveWindows counter, params (int Minute, bool Matches)[] windows)
    {
        WindowRun? run = null;
        foreach (var (minute, matches) in windows)
        {
            run = counter.Next(run, M(minute), matches);
        }

        return run!.Count;
    }

    [Fact]
    public void Adjacent_matching_windows_count_up_and_a_window_that_does_not_match_ends_the_run()
    {
        var counter = new ConsecutiveWindows(Minute, GapPolicy.Reset);

        Assert.Equal(3, Count(counter, (0, true), (1, true), (2, true)));
        Assert.Equal(1, Count(counter, (0, true), (1, false), (2, true)));
        Assert.Equal(0, Count(counter, (0, true), (1, true), (2, false)));
    }

    [Fact]
    public void A_missed_window_ends_the_run_when_gaps_reset()
    {
        var counter = new ConsecutiveWindows(Minute, GapPolicy.Reset);

        Assert.Equal(1, Count(counter, (0, true), (1, true), (3, true)));
    }

    [Fact]
    public void A_missed_window_is_passed_over_when_gaps_are_skipped()
    {
        var counter = new ConsecutiveWindows(Minute, GapPolicy.Skip);

        Assert.Equal(3, Count(counter, (0, true), (1, true), (30, true)));
        Assert.Equal(0, Count(counter, (0, true), (1, true), (30, false)));
    }

    [Fact]
    public void A_window_recorded_again_or_out_of_order_leaves_the_run_as_it_is()
    {
        var counter = new ConsecutiveWindows(Minute, GapPolicy.Reset);

        Assert.Equal(2, Count(counter, (0, true), (1, true), (1, false), (0, false)));
    }

    [Fact]
    public void Record_keeps_the_run_in_keyed_state_of_a_rule()
    {
        var kit = new RuleTestKit(start: T0).Bind(new LoudWindowsRule(), "loud");
        foreach (var minute in new[] { 0, 1, 2, 4, 5, 6 })
        {
            kit.Send("noise-1", "noise", M(minute).AddSeconds(10), new Dictionary<string, SensorValue> { ["db"] = 80.0 });
        }

        kit.AdvanceWatermarkTo(M(10));

        // Minutes 0-2 make a run of 3 (raised); minute 3 is missed, so 4-6 are a new run of 3, another incident.
        Assert.Equal(["loud:noise-1:from-0", "loud:noise-1:from-4"], kit.Alerts.Select(a => a.AlertId));
        var saved = kit.SensorState("noise-1")!.Rules.Single(r => r.Name == "loud").Values["loud:run"];
        Assert.Equal(new WindowRun(M(6), 3), saved.Deserialize<WindowRun>(KeyedStateSnapshot.JsonOptions));
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_step_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConsecutiveWindows(TimeSpan.Zero, GapPolicy.Reset));
    }

    private static readonly Gen<(List<(int Skip, bool Matches)> Windows, bool Reset, int Cut)> Runs =
        Gen.Select(Gen.Select(Gen.Int[0, 2], Gen.Bool).List[1, 40], Gen.Bool, Gen.Int[0, 40]);

    [Fact]
    public void The_count_is_the_matching_windows_at_the_end_adjacent_or_not_as_the_policy_says_and_survives_json()
    {
        Runs.Sample(c =>
        {
            var counter = new ConsecutiveWindows(Minute, c.Reset ? GapPolicy.Reset : GapPolicy.Skip);
            WindowRun? run = null;
            var minute = 0;
            var windows = new List<(int Minute, bool Matches)>();
            for (var i = 0; i < c.Windows.Count; i++)
            {
                minute += 1 + c.Windows[i].Skip;
                windows.Add((minute, c.Windows[i].Matches));
                run = counter.Next(run, M(minute), c.Windows[i].Matches);
                if (i == c.Cut)
                {
                    run = JsonSerializer.Deserialize<WindowRun>(JsonSerializer.Serialize(run, KeyedStateSnapshot.JsonOptions), KeyedStateSnapshot.JsonOptions);
                }
            }

            var expected = 0;
            for (var i = windows.Count - 1; i >= 0 && windows[i].Matches; i--)
            {
                expected++;
                if (c.Reset && i > 0 && windows[i].Minute - windows[i - 1].Minute > 1)
                {
                    break;
                }
            }

            return run!.Count == expected && run.LastWindowStart == M(minute);
        });
    }

    /// <summary>Raises an alert per run of three loud minutes (a 1-minute max above 70 dB); a missed minute resets the run.</summary>
    private sealed class LoudWindowsRule : Rule
    {
        private readonly ConsecutiveWindows _loud = new(Minute, GapPolicy.Reset);
        private readonly WindowedAggregation _db;

        public LoudWindowsRule() => _db = new WindowedAggregation("db", WindowSpec.Tumbling(Minute), OnWindow);

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            _db.Add(context, sensorEvent.Timestamp, sensorEvent.GetNumber("db"));

        public override void OnTimer(IRuleContext context, RuleTimer timer) => _db.OnTimer(context, timer);

        private void OnWindow(IRuleContext context, WindowResult result)
        {
            if (result.IsUpdate)
            {
                return;
            }

            if (_loud.Record(context.State<WindowRun>("loud:run"), result.Start, result.Max > 70) == 3)
            {
                context.RaiseAlert($"from-{(int)(result.Start - T0).TotalMinutes - 2}", new AlertDraft("environment", "noise", AlertSeverity.Low, "loud for 3 minutes"));
            }
        }
    }
}

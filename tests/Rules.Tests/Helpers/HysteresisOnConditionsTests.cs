using System.Text.Json;
using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;

namespace Kommune.Rules.Tests.Helpers;

public sealed class HysteresisOnConditionsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 7, 0, 0, TimeSpan.Zero);

    private const HysteresisChange None = HysteresisChange.None;
    private const HysteresisChange Raised = HysteresisChange.Raised;
    private const HysteresisChange Cleared = HysteresisChange.Cleared;

    /// <summary>Readings as (raising, clearing): 'r' raising, 'c' clearing, '-' neither, 'b' both.</summary>
    private static List<HysteresisChange> Feed(Hysteresis hysteresis, string readings)
    {
        HysteresisState? state = null;
        var changes = new List<HysteresisChange>();
        for (var i = 0; i < readings.Length; i++)
        {
            state = hysteresis.Next(state, T0.AddMinutes(i), readings[i] is 'r' or 'b', readings[i] is 'c' or 'b', out var change);
            changes.Add(change);
        }

        return changes;
    }

    [Fact]
    public void Raises_after_n_raising_readings_and_clears_after_m_clearing_ones()
    {
        var jam = Hysteresis.OnConditions() with { RaiseAfter = 3, ClearAfter = 2 };

        Assert.Equal([None, None, Raised, None, Cleared, None], Feed(jam, "rrrcc-"));
    }

    [Fact]
    public void A_reading_that_is_neither_ends_the_run_and_only_the_side_toward_a_change_counts()
    {
        var jam = Hysteresis.OnConditions() with { RaiseAfter = 2, ClearAfter = 2 };

        // While clear a clearing reading counts for nothing; while raised a raising one counts for nothing.
        Assert.Equal([None, None, None, None, Raised, None, None, None, Cleared], Feed(jam, "r-crrcrcc"));
        Assert.Equal([None, Raised, None, Cleared], Feed(jam, "bbbb"));
    }

    [Fact]
    public void Its_thresholds_are_not_numbers_and_a_number_is_refused()
    {
        var jam = Hysteresis.OnConditions();

        Assert.True(double.IsNaN(jam.RaiseAt));
        Assert.True(double.IsNaN(jam.ClearAt));
        Assert.Throws<InvalidOperationException>(() => jam.Next(null, T0, 1.0, out _));
    }

    [Fact]
    public void The_conditions_of_a_numeric_hysteresis_are_its_thresholds()
    {
        var loud = Hysteresis.Above(raiseAt: 70, clearBelow: 60) with { RaiseAfter = 2, ClearAfter = 2 };
        Gen.Int[50, 80].List[0, 40].Sample(values =>
        {
            HysteresisState? byNumber = null, byConditions = null;
            for (var i = 0; i < values.Count; i++)
            {
                byNumber = loud.Next(byNumber, T0.AddMinutes(i), values[i], out var numberChange);
                byConditions = loud.Next(byConditions, T0.AddMinutes(i), values[i] >= 70, values[i] < 60, out var conditionsChange);
                if (numberChange != conditionsChange || byNumber != byConditions)
                {
                    return false;
                }
            }

            return true;
        });
    }

    private const long WindowMs = 60_000;

    /// <summary>One window: how many windows after the last it starts (more than 1 is a gap), its two conditions, and whether an operator resolved the open alert before it.</summary>
    private static readonly Gen<(List<(int Step, bool Congested, bool Clear, bool OperatorResolved)> Windows, int RaiseAfter, int ClearAfter, int Cut)> Runs =
        Gen.Select(
            Gen.Select(Gen.Int[1, 12], Gen.Bool, Gen.Bool, Gen.Int[0, 9]).Select((step, congested, clear, op) => (step > 10 ? step - 9 : 1, congested, clear, op == 0)).List[0, 60],
            Gen.Int[1, 4],
            Gen.Int[1, 4],
            Gen.Int[0, 60]);

    [Fact]
    public void The_built_in_traffic_rules_run_decides_as_their_hand_rolled_counts_did_and_a_migrated_run_goes_on_the_same()
    {
        Runs.Sample(c =>
        {
            var hysteresis = Hysteresis.OnConditions() with { RaiseAfter = c.RaiseAfter, ClearAfter = c.ClearAfter };
            var reference = new HandRolledRun();
            var migrated = new HandRolledRun(); // the old logic up to the cut, then migrated to the new
            CongestionRun? afterCut = null;
            var fresh = new CongestionRun(); // the new logic throughout, through JSON at the cut
            var start = 0L;
            for (var i = 0; i < c.Windows.Count; i++)
            {
                var (step, congested, clear, operatorResolved) = c.Windows[i];
                start += step * WindowMs;
                if (i == c.Cut)
                {
                    afterCut = RoundTrip(CongestionRun.From(RoundTrip<HandRolledRun, SegmentRun>(migrated), WindowMs));
                    fresh = RoundTrip(fresh);
                }

                var expected = reference.Next(start, WindowMs, open: reference.Incident is not null && !operatorResolved, congested, clear, c.RaiseAfter, c.ClearAfter);
                if (afterCut is null)
                {
                    migrated.Next(start, WindowMs, open: migrated.Incident is not null && !operatorResolved, congested, clear, c.RaiseAfter, c.ClearAfter);
                }
                else if (Step(afterCut, hysteresis, start, congested, clear, operatorResolved) != expected)
                {
                    return false;
                }

                if (Step(fresh, hysteresis, start, congested, clear, operatorResolved) != expected)
                {
                    return false;
                }
            }

            return Same(reference, fresh) && (afterCut is null ? Same(reference, CongestionRun.From(RoundTrip<HandRolledRun, SegmentRun>(migrated), WindowMs)) : Same(reference, afterCut));
        });
    }

    /// <summary>A step of the new run as the rules take it, with its output as the old logic gave it.</summary>
    private static (string? Raised, string? Resolved, int Count) Step(CongestionRun run, Hysteresis hysteresis, long start, bool congested, bool clear, bool operatorResolved)
    {
        var (change, count) = run.Next(hysteresis, start, WindowMs, open: run.Incident is not null && !operatorResolved, congested, clear);
        switch (change)
        {
            case Raised:
                run.Incident = $"congestion:{start}";
                return (run.Incident, null, count);
            case Cleared:
                var resolved = run.Incident;
                run.Incident = null;
                return (null, resolved, count);
            default:
                return (null, null, 0);
        }
    }

    private static bool Same(HandRolledRun old, CongestionRun run) =>
        old.LastStart == run.LastStart
        && old.Incident == run.Incident
        && run.Alert.IsRaised == (old.Incident is not null)
        && run.Alert.Count == (old.Incident is null ? old.Congested : old.Clear);

    private static T RoundTrip<T>(T value) => RoundTrip<T, T>(value);

    /// <summary>A value written as <typeparamref name="TFrom"/> and read as <typeparamref name="TTo"/>, with the engine's state options.</summary>
    private static TTo RoundTrip<TFrom, TTo>(TFrom value) =>
        JsonSerializer.Deserialize<TTo>(JsonSerializer.Serialize(value, KeyedStateSnapshot.JsonOptions), KeyedStateSnapshot.JsonOptions)!;

    /// <summary>
    /// The run as the built-in congestion rules counted it by hand before they took <see cref="Hysteresis.OnConditions"/>
    /// (their <c>SegmentRun</c> and its handling, copied as the reference; the JSON shape of their old state).
    /// </summary>
    private sealed class HandRolledRun
    {
        public long? LastStart { get; set; }

        public int Congested { get; set; }

        public int Clear { get; set; }

        public string? Incident { get; set; }

        public (string? Raised, string? Resolved, int Count) Next(long start, long windowMs, bool open, bool congested, bool clear, int raiseAfter, int clearAfter)
        {
            if (LastStart is { } last && start != last + windowMs)
            {
                Congested = 0;
                Clear = 0;
            }

            LastStart = start;
            if (Incident is null || !open)
            {
                Incident = null;
                Congested = congested ? Congested + 1 : 0;
                Clear = 0;
                if (Congested >= raiseAfter)
                {
                    Incident = $"congestion:{start}";
                    var count = Congested;
                    Congested = 0;
                    return (Incident, null, count);
                }
            }
            else
            {
                Clear = clear ? Clear + 1 : 0;
                Congested = 0;
                if (Clear >= clearAfter)
                {
                    var resolved = Incident;
                    var count = Clear;
                    Clear = 0;
                    Incident = null;
                    return (null, resolved, count);
                }
            }

            return (null, null, 0);
        }
    }
}

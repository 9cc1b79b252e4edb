using System.Text.Json;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>
/// A state written by the build before <c>congestion</c> 2 and <c>congestion-area</c> 3 (the runs as counts of
/// congested and clear windows, <c>SegmentRun</c>) restores into this build, which goes on exactly where the old one
/// would have: the same counts, the same open incident. The old build is played by a stub under the rule's name that
/// writes the old state as it was written, and opens its alert.
/// </summary>
public sealed class CongestionRunMigrationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 7, 0, 0, TimeSpan.Zero);

    private static long Ms(int minute) => T0.AddMinutes(minute).ToUnixTimeMilliseconds();

    /// <summary>Minute <paramref name="minute"/> of <paramref name="segments"/> segments, the first <paramref name="congested"/> slow (20 km/h, the others 45).</summary>
    private static void Minute(RuleTestKit kit, int minute, int congested, int segments = 1)
    {
        foreach (var second in new[] { 10, 40 })
        {
            for (var s = 0; s < segments; s++)
            {
                kit.Send($"road-{s}", SensorTypes.Traffic, T0.AddMinutes(minute).AddSeconds(second),
                    new Dictionary<string, SensorValue> { ["speed"] = s < congested ? 20.0 : 45.0, ["occupancy"] = 10.0 }, "area-1");
            }
        }
    }

    private static void AdvanceThrough(RuleTestKit kit, int minute)
    {
        kit.AdvanceWatermarkTo(T0.AddMinutes(minute + 1));
        kit.AdvanceWatermarkTo(T0.AddMinutes(minute + 1).AddSeconds(15));
    }

    /// <summary>The new rule from the start over <paramref name="minutes"/> (congested segments of each).</summary>
    private static RuleTestKit Reference(bool area, params int[] minutes)
    {
        var kit = new RuleTestKit(start: T0).Bind(new CongestionRule());
        if (area)
        {
            kit.Bind(new CongestionAreaRule());
        }

        for (var i = 0; i < minutes.Length; i++)
        {
            Minute(kit, i, minutes[i], area ? 5 : 1);
            AdvanceThrough(kit, i);
        }

        return kit;
    }

    /// <summary>The old build up to minute <paramref name="minute"/>, which left <paramref name="run"/>; then this build.</summary>
    private static RuleTestKit Migrated(bool area, int minute, OldRun run)
    {
        var kit = new RuleTestKit(start: T0);
        if (area)
        {
            kit.Bind(new CongestionRule()).Bind(new CongestionAreaVersion2(run));
        }
        else
        {
            kit.Bind(new CongestionVersion1(run));
        }

        Minute(kit, minute, 0, area ? 5 : 1);
        var changes = area ? kit.Reload(new CongestionAreaRule()) : kit.Reload(new CongestionRule());
        Assert.Equal(BindingChange.Migrated, Assert.Single(changes, c => c.Key == (area ? "area-1" : "road-0")).Change);
        return kit;
    }

    private static void Continue(RuleTestKit kit, int from, int segments, params int[] minutes)
    {
        for (var i = 0; i < minutes.Length; i++)
        {
            Minute(kit, from + i, minutes[i], segments);
            AdvanceThrough(kit, from + i);
        }
    }

    private static (string AlertId, AlertStatus Status, string Description) Last(RuleTestKit kit) =>
        (kit.Alerts[^1].AlertId, kit.Alerts[^1].Status, kit.Alerts[^1].Description);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_open_incident_with_one_clear_minute_resolves_after_two_more_as_the_old_build_would(bool area)
    {
        var segments = area ? 5 : 1;
        var reference = Reference(area, segments, segments, segments, 0, 0, 0); // raised at 2, resolved at 5
        var incident = $"{(area ? CongestionAreaRule.Incident : CongestionRule.Incident)}:{Ms(2)}";

        var kit = Migrated(area, 3, new OldRun { LastStart = Ms(3), Clear = 1, Incident = incident });
        Continue(kit, 4, segments, 0);
        Assert.Equal(AlertStatus.Raised, kit.Alerts[^1].Status); // one more clear minute to go
        Continue(kit, 5, segments, 0);

        Assert.Equal(Last(reference), Last(kit));
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status);
        Assert.Empty(kit.Failures);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Two_congested_minutes_raise_at_the_third_as_the_old_build_would(bool area)
    {
        var segments = area ? 5 : 1;
        var reference = Reference(area, segments, segments, segments);

        var kit = Migrated(area, 1, new OldRun { LastStart = Ms(1), Congested = 2 });
        Continue(kit, 2, segments, segments);

        Assert.Equal(Last(reference), Last(kit));
        Assert.Equal(AlertStatus.Raised, kit.Alerts[^1].Status);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void A_gap_after_the_migrated_run_still_starts_it_over()
    {
        var kit = Migrated(false, 1, new OldRun { LastStart = Ms(1), Congested = 2 });
        Continue(kit, 3, 1, 1, 1); // minute 2 missed: 3 and 4 are a new run of two

        Assert.Empty(kit.Alerts);
        Continue(kit, 5, 1, 1);
        Assert.Equal(AlertStatus.Raised, Assert.Single(kit.Alerts).Status);
    }

    [Fact]
    public void MigrateState_moves_the_run_of_congestion_area_versions_1_and_2_and_refuses_others()
    {
        foreach (var version in new[] { 1, 2 })
        {
            var state = new JsonStateMigration();
            state.Write("run", new OldRun { LastStart = Ms(3), Congested = 0, Clear = 2, Incident = "area-congestion:1" });

            Assert.True(new CongestionAreaRule().MigrateState(version, state));
            var run = state.Read<CongestionRun>("run")!;
            Assert.Equal((Ms(3), "area-congestion:1"), (run.LastStart, run.Incident));
            Assert.Equal(new HysteresisState(true, 2, T0.AddMinutes(2)), run.Alert);
        }

        Assert.False(new CongestionAreaRule().MigrateState(4, new JsonStateMigration()));
        Assert.False(new CongestionRule().MigrateState(3, new JsonStateMigration()));
        Assert.True(new CongestionRule().MigrateState(1, new JsonStateMigration())); // no run yet: nothing to move
        Assert.Equal((2, 3), (new CongestionRule().StateVersion, new CongestionAreaRule().StateVersion));
    }

    /// <summary>The run as the old builds wrote it (<c>SegmentRun</c>'s properties).</summary>
    private sealed class OldRun
    {
        public long? LastStart { get; set; }

        public int Congested { get; set; }

        public int Clear { get; set; }

        public string? Incident { get; set; }
    }

    /// <summary>The old build of <c>congestion</c> (state version 1), as far as the run goes.</summary>
    [Rule(CongestionRule.RuleName)]
    private sealed class CongestionVersion1(OldRun run) : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Traffic];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) => Leave(context, run);
    }

    /// <summary>The old build of <c>congestion-area</c> (state version 2), as far as the run goes.</summary>
    [Rule(CongestionAreaRule.RuleName)]
    private sealed class CongestionAreaVersion2(OldRun run) : Rule
    {
        public override int StateVersion => 2;

        public override RuleScope Scope => RuleScope.Area;

        public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Traffic];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) => Leave(context, run);
    }

    private static void Leave(IRuleContext context, OldRun run)
    {
        var state = context.State<OldRun>("run");
        if (state.Value is null && run.Incident is not null)
        {
            context.RaiseAlert(run.Incident, new AlertDraft("traffic", "trafficJam", AlertSeverity.High, "raised by the old build"));
        }

        state.Update(run);
    }

    /// <summary>One key's values as JSON, as the engine holds them during a migration.</summary>
    private sealed class JsonStateMigration : IStateMigration
    {
        private readonly Dictionary<string, string> _values = [];

        public string Key => "area-1";

        public string AreaId => "area-1";

        public IReadOnlyCollection<string> Names => _values.Keys;

        public bool Has(string name) => _values.ContainsKey(name);

        public T? Read<T>(string name) => _values.TryGetValue(name, out var json) ? JsonSerializer.Deserialize<T>(json, KeyedStateSnapshot.JsonOptions) : default;

        public void Write<T>(string name, T value) => _values[name] = JsonSerializer.Serialize(value, KeyedStateSnapshot.JsonOptions);

        public bool Remove(string name) => _values.Remove(name);
    }
}

using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Kommune.Rules.Tests.Windows;
using Kommune.Rules.Windows;

namespace Kommune.Rules.Tests.Runtime;

/// <summary>
/// Changing rules in production, in the test kit: state kept across new parameters and new builds, migrated or reset
/// on a new state version, and never an orphaned alert.
/// </summary>
public sealed class RuleReloadTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 23, 0, 0, TimeSpan.Zero);

    [Fact]
    public void New_parameters_keep_the_open_alert_and_a_later_resolve_closes_it()
    {
        var (kit, raised) = LoudSensor(75);

        var changes = kit.Reload(new NightNoiseRule(Threshold(72)));

        Assert.Equal(BindingChange.NewParameters, Assert.Single(changes).Change);
        kit.Send(Noise("s-1", 1, 80)); // still loud under 72: the same episode, no second alert
        Assert.Single(kit.Alerts);
        Assert.True(kit.Resolve(raised.AlertId));
        Assert.Equal((raised.AlertId, AlertStatus.Resolved, 2), (kit.Alerts[^1].AlertId, kit.Alerts[^1].Status, kit.Alerts[^1].Sequence));
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void A_rule_told_of_new_parameters_can_close_an_episode_they_no_longer_support()
    {
        var (kit, raised) = LoudSensor(71);

        kit.Reload(new NightNoiseRule(Threshold(72)));

        Assert.Equal((raised.AlertId, AlertStatus.Resolved, "71 dB is below the new threshold 72 dB"), (kit.Alerts[^1].AlertId, kit.Alerts[^1].Status, kit.Alerts[^1].Description));
    }

    [Fact]
    public void The_same_rule_object_again_is_no_change()
    {
        var rule = new NightNoiseRule(Threshold(70));
        var kit = new RuleTestKit(start: T0).Bind(rule);
        kit.Send(Noise("s-1", 0, 75));

        Assert.Empty(kit.Reload(rule));
        Assert.Single(kit.Alerts);
    }

    [Fact]
    public void A_new_build_with_the_same_state_version_keeps_an_area_window_in_progress()
    {
        var kit = new RuleTestKit(start: T0).Bind(new NoiseHourRule());
        kit.Send(Noise("s-1", 10, 60, "park"));
        kit.Send(Noise("s-2", 20, 90, "park"));

        var changes = kit.Reload(new NoiseHourRuleRebuilt());

        Assert.Equal(("park", BindingChange.Kept), (Assert.Single(changes).Key, changes[0].Change));
        kit.Send(Noise("s-1", 40, 65, "park"));
        kit.AdvanceWatermarkTo(T0.AddHours(1));
        var hour = Assert.Single(kit.Aggregates);
        Assert.Equal((3L, 90.0, "noise.max.rebuilt"), (hour.Count, hour.Value, hour.Metric));
    }

    [Fact]
    public void A_new_state_version_with_a_migration_moves_the_state_and_keeps_the_alert()
    {
        var (kit, raised) = LoudSensor(75);

        var changes = kit.Reload(new NightNoiseRuleV2(Threshold(70)));

        Assert.Equal(BindingChange.Migrated, Assert.Single(changes).Change);
        var episode = Assert.Single(kit.SensorState("s-1")!.Rules).Values["episode"];
        Assert.Equal(75, episode.GetProperty("peak").GetDouble());
        kit.Send(Noise("s-1", 5, 50)); // quiet: the migrated episode ends, under the alert's own id
        Assert.Equal((raised.AlertId, AlertStatus.Resolved, 2), (kit.Alerts[^1].AlertId, kit.Alerts[^1].Status, kit.Alerts[^1].Sequence));
        Assert.Equal("quiet after a peak of 75 dB", kit.Alerts[^1].Description);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void A_new_state_version_without_a_migration_closes_the_open_alerts_and_the_next_incident_is_a_new_alert()
    {
        var (kit, raised) = LoudSensor(75);
        kit.Send(Noise("s-2", 0, 40));

        var changes = kit.Reload(new NightNoiseRuleV2WithoutMigration(Threshold(70)));

        var reset = Assert.Single(changes, c => c.Key == "s-1");
        Assert.Equal(BindingChange.Reset, reset.Change);
        var closed = Assert.Single(reset.ClosedAlerts);
        Assert.Equal((raised.AlertId, AlertStatus.Resolved, 2, "rule state reset"), (closed.AlertId, closed.Status, closed.Sequence, closed.Evidence["closedBy"].Text));
        Assert.Equal(closed, kit.Alerts[^1]);
        Assert.StartsWith("Closed by a rules reload: rule state reset (binding 'night-noise': state version 1 → 2", closed.Description, StringComparison.Ordinal);
        Assert.False(kit.Resolve(raised.AlertId));

        kit.Send(Noise("s-1", 10, 80));
        Assert.Equal(AlertStatus.Raised, kit.Alerts[^1].Status);
        Assert.NotEqual(raised.AlertId, kit.Alerts[^1].AlertId);
    }

    [Fact]
    public void A_migration_that_throws_is_reported_and_resets_the_key()
    {
        var (kit, _) = LoudSensor(75);

        var changes = kit.Reload(new NightNoiseRuleV2(Threshold(70), migrationThrows: true));

        Assert.Equal(BindingChange.Reset, Assert.Single(changes).Change);
        Assert.Equal("MigrateState", Assert.Single(kit.Failures).Handler);
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status);
    }

    [Fact]
    public void Removing_a_binding_closes_its_open_alerts_and_keeps_the_others()
    {
        var kit = new RuleTestKit(start: T0)
            .Bind(new NightNoiseRule(Threshold(70)))
            .Bind(new NightNoiseRule(Threshold(60)), "evening-noise");
        kit.Send(Noise("s-1", 0, 75));
        Assert.Equal(2, kit.Alerts.Count);

        var changes = kit.Unbind("night-noise");

        var removed = Assert.Single(changes);
        Assert.Equal(("night-noise", BindingChange.Removed), (removed.Binding, removed.Change));
        var closed = Assert.Single(removed.ClosedAlerts);
        Assert.Equal(("night-noise:s-1:loud:1795734000000", 2, "rule removed", T0), (closed.AlertId, closed.Sequence, closed.Evidence["closedBy"].Text, closed.EventTime));
        Assert.Equal(3, kit.Alerts.Count);
        Assert.True(kit.Resolve("evening-noise:s-1:loud:1795734000000"));
    }

    [Fact]
    public void A_binding_moved_to_other_areas_closes_the_open_alerts_of_the_areas_it_left()
    {
        var kit = new RuleTestKit(start: T0).Bind(new NightNoiseRule(Threshold(70)), areas: ["park", "school"]);
        kit.Send(Noise("s-1", 0, 75, "park"));
        kit.Send(Noise("s-2", 0, 75, "school"));

        var changes = kit.Reload(new NightNoiseRule(Threshold(70)), areas: ["school"]);

        Assert.Equal([("s-1", BindingChange.Removed), ("s-2", BindingChange.NewParameters)], changes.Select(c => (c.Key, c.Change)).Order());
        Assert.Contains("no longer covers area park", changes.Single(c => c.Key == "s-1").ClosedAlerts[0].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plan_names_what_each_binding_will_do()
    {
        var running = new RuleSet([
            new RuleBinding("same", new NightNoiseRule(Threshold(70)), fingerprint: "a", parametersFingerprint: "p70"),
            new RuleBinding("louder", new NightNoiseRule(Threshold(70)), fingerprint: "b", parametersFingerprint: "p70"),
            new RuleBinding("rebuilt", new NoiseHourRule(), fingerprint: "c"),
            new RuleBinding("migrating", new NightNoiseRule(Threshold(70)), fingerprint: "d"),
            new RuleBinding("resetting", new NightNoiseRule(Threshold(70)), fingerprint: "e"),
            new RuleBinding("replaced", new NoiseHourRule(), fingerprint: "f"),
            new RuleBinding("gone", new NoiseHourRule(), fingerprint: "g"),
        ]);
        var next = new RuleSet([
            new RuleBinding("same", new NightNoiseRule(Threshold(70)), fingerprint: "a", parametersFingerprint: "p70"),
            new RuleBinding("louder", new NightNoiseRule(Threshold(72)), fingerprint: "b2", parametersFingerprint: "p72"),
            new RuleBinding("rebuilt", new NoiseHourRuleRebuilt(), fingerprint: "c2"),
            new RuleBinding("migrating", new NightNoiseRuleV2(Threshold(70)), fingerprint: "d2"),
            new RuleBinding("resetting", new NightNoiseRuleV2WithoutMigration(Threshold(70)), fingerprint: "e2"),
            new RuleBinding("replaced", new NightNoiseRule(Threshold(70)), fingerprint: "f2"),
            new RuleBinding("new", new NoiseHourRule(), fingerprint: "h"),
        ]);

        var plan = RuleReload.Plan(running, next).ToDictionary(p => p.Binding, p => p.Change);

        Assert.Equal(BindingChange.Unchanged, plan["same"]);
        Assert.Equal(BindingChange.NewParameters, plan["louder"]);
        Assert.Equal(BindingChange.Kept, plan["rebuilt"]);
        Assert.Equal(BindingChange.Migrated, plan["migrating"]);
        Assert.Equal(BindingChange.Reset, plan["resetting"]);
        Assert.Equal(BindingChange.Reset, plan["replaced"]);
        Assert.Equal(BindingChange.Removed, plan["gone"]);
        Assert.Equal(BindingChange.Added, plan["new"]);
    }

    [Fact]
    public void A_snapshot_written_under_other_rules_is_carried_over_as_a_reload_would()
    {
        var settings = new EventTimeSettings();
        var before = new RuleSet([
            new RuleBinding("night-noise", new NightNoiseRule(Threshold(70)), fingerprint: "v1", parametersFingerprint: "p70"),
            new RuleBinding("gone", new NightNoiseRule(Threshold(60)), fingerprint: "g"),
        ]);
        var writer = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", before, settings);
        var written = new CollectingOutputs();
        writer.OnEvent(Noise("s-1", 0, 75, "a"), T0, T0, written);
        var snapshot = KeyedStateSnapshot.FromJson(writer.PersistedState());

        var after = new RuleSet([new RuleBinding("night-noise", new NightNoiseRuleV2(Threshold(72)), fingerprint: "v2", parametersFingerprint: "p72")]);
        var restored = new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", after, settings);
        var outputs = new CollectingOutputs();
        var changes = restored.Restore(snapshot, outputs);

        Assert.Equal([("gone", BindingChange.Removed), ("night-noise", BindingChange.Migrated)], changes.Select(c => (c.Binding, c.Change)).Order());
        Assert.Equal("gone:s-1:loud:1795734000000", Assert.Single(outputs.Alerts).AlertId);
        Assert.Throws<InvalidOperationException>(() => new KeyedRuleRunner(RuleScope.Sensor, "s-1", "a", after, settings).Restore(snapshot));
        restored.OnEvent(Noise("s-1", 5, 50, "a"), T0, T0, outputs);
        Assert.Equal(("night-noise:s-1:loud:1795734000000", AlertStatus.Resolved), (outputs.Alerts[^1].AlertId, outputs.Alerts[^1].Status));
        Assert.Empty(written.Failures);
        Assert.Empty(outputs.Failures);
    }

    /// <summary>A kit with night-noise at 70 dB, and the alert of sensor s-1's reading of <paramref name="db"/>.</summary>
    private static (RuleTestKit Kit, Alert Raised) LoudSensor(double db)
    {
        var kit = new RuleTestKit(start: T0).Bind(new NightNoiseRule(Threshold(70)));
        kit.Send(Noise("s-1", 0, db));
        return (kit, Assert.Single(kit.Alerts));
    }

    private static RuleParameters Threshold(double db) => RuleParameters.FromJson($$"""{"threshold": {{db}}}""");

    private static SensorEvent Noise(string sensor, int minute, double db, string area = "area-1") =>
        new(sensor, area, "noise", T0.AddMinutes(minute), new Dictionary<string, SensorValue> { ["db"] = db });
}

/// <summary>State version 1: a loud episode is <c>loudSince</c> and <c>lastDb</c>; one alert per episode.</summary>
[Rule("night-noise")]
internal sealed class NightNoiseRule(RuleParameters parameters) : Rule
{
    private readonly double _threshold = parameters.GetNumber("threshold", 70);

    public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        if (!sensorEvent.TryGetNumber("db", out var db))
        {
            return;
        }

        var since = context.State<DateTimeOffset>("loudSince");
        context.State<double>("lastDb").Update(db);
        if (db >= _threshold && !since.HasValue)
        {
            since.Update(sensorEvent.Timestamp);
            context.RaiseAlert(Incident(sensorEvent.Timestamp), new AlertDraft("environment", "noise", AlertSeverity.Low, $"{db} dB at night"));
        }
        else if (db < _threshold && since.HasValue)
        {
            context.ResolveAlert(Incident(since.Value), "quiet");
            since.Clear();
        }
    }

    public override void OnParametersChanged(IRuleContext context)
    {
        var since = context.State<DateTimeOffset>("loudSince");
        var last = context.State<double>("lastDb").Value;
        if (since.HasValue && last < _threshold)
        {
            context.ResolveAlert(Incident(since.Value), $"{last} dB is below the new threshold {_threshold} dB");
            since.Clear();
        }
    }

    internal static string Incident(DateTimeOffset since) => $"loud:{since.ToUnixTimeMilliseconds()}";
}

/// <summary>State version 2: the episode is one record, <c>episode</c>.</summary>
internal abstract class NightNoiseRuleV2Base(RuleParameters parameters) : Rule
{
    private readonly double _threshold = parameters.GetNumber("threshold", 70);

    public override int StateVersion => 2;

    public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        if (!sensorEvent.TryGetNumber("db", out var db))
        {
            return;
        }

        var episode = context.State<NoiseEpisode>("episode");
        if (db >= _threshold)
        {
            if (episode.Value is { } open)
            {
                episode.Update(open with { Peak = Math.Max(open.Peak, db) });
                return;
            }

            episode.Update(new NoiseEpisode(sensorEvent.Timestamp, db));
            context.RaiseAlert(NightNoiseRule.Incident(sensorEvent.Timestamp), new AlertDraft("environment", "noise", AlertSeverity.Low, $"{db} dB at night"));
        }
        else if (episode.Value is { } ended)
        {
            context.ResolveAlert(NightNoiseRule.Incident(ended.Since), $"quiet after a peak of {ended.Peak} dB");
            episode.Clear();
        }
    }
}

[Rule("night-noise")]
internal sealed class NightNoiseRuleV2(RuleParameters parameters, bool migrationThrows) : NightNoiseRuleV2Base(parameters)
{
    public NightNoiseRuleV2(RuleParameters parameters)
        : this(parameters, false)
    {
    }

    public override bool MigrateState(int fromVersion, IStateMigration state)
    {
        if (migrationThrows)
        {
            throw new InvalidOperationException("the migration is broken");
        }

        if (fromVersion != 1)
        {
            return false;
        }

        if (state.Has("loudSince"))
        {
            state.Write("episode", new NoiseEpisode(state.Read<DateTimeOffset>("loudSince"), state.Read<double>("lastDb")));
        }

        state.Remove("loudSince");
        state.Remove("lastDb");
        return true;
    }
}

[Rule("night-noise")]
internal sealed class NightNoiseRuleV2WithoutMigration(RuleParameters parameters) : NightNoiseRuleV2Base(parameters);

internal sealed record NoiseEpisode(DateTimeOffset Since, double Peak);

/// <summary>The loudest reading per area and hour.</summary>
[Rule("noise-hour")]
internal class NoiseHourRule : Rule
{
    private readonly WindowedAggregation _hour;

    public NoiseHourRule()
        : this("noise.max")
    {
    }

    protected NoiseHourRule(string metric) =>
        _hour = new WindowedAggregation("hour", WindowSpec.Tumbling(TimeSpan.FromHours(1)), (context, result) => result.EmitAggregate(context, metric, r => r.Max));

    public override RuleScope Scope => RuleScope.Area;

    public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        if (sensorEvent.TryGetNumber("db", out var db))
        {
            _hour.Add(context, sensorEvent.Timestamp, db);
        }
    }

    public override void OnTimer(IRuleContext context, RuleTimer timer) => _hour.OnTimer(context, timer);
}

/// <summary>A new build of <see cref="NoiseHourRule"/> (another type, the same name and state version).</summary>
[Rule("noise-hour")]
internal sealed class NoiseHourRuleRebuilt() : NoiseHourRule("noise.max.rebuilt");

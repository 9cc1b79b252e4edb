using System.Text;
using System.Text.Json;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Actors;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Prometheus;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>
/// Changing rules in production, through the embedded broker with a running engine: one engine lives through every
/// kind of change to a plugin's bindings (new parameters, a rebuilt plugin, a new state version with and without a
/// migration, a removed binding), and after each the alerts on <c>kommune.alerts</c> say what happened, no alert is
/// left open that nothing can close, and <c>kommune_open_alerts</c> counts exactly the open ones.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class RuleChangeTests(ITestOutputHelper output)
{
    // An hour boundary after Events.T0 (two hours ago), so the noise-hour window is whole and in the past.
    private static readonly DateTimeOffset Hour = new DateTimeOffset(Events.T0.Year, Events.T0.Month, Events.T0.Day, Events.T0.Hour, 0, 0, TimeSpan.Zero).AddHours(1);

    private static string Rules(double threshold, bool withNightNoise = true) => $$"""
        { "rules": [
          {{(withNightNoise ? $$"""{ "name": "night-noise", "rule": "night-noise", "plugin": "NightNoise", "parameters": { "threshold": {{threshold}} } },""" : "")}}
          { "name": "noise-hour", "rule": "noise-hour", "plugin": "NightNoise" }
        ] }
        """;

    [Fact]
    public async Task Every_kind_of_rule_change_keeps_or_closes_each_open_alert_and_the_gauge_counts_the_open_ones()
    {
        using var workspace = new PluginWorkspace();
        var plugin = Path.Combine(workspace.PluginsFolder, NightNoisePlugin.Name);
        PluginCompiler.Build(plugin, NightNoisePlugin.Name, NightNoisePlugin.Source(build: 1, stateVersion: 1));
        workspace.WriteRules(Rules(threshold: 70));
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync(o =>
        {
            o.RulesFile = workspace.RulesFile;
            o.PluginsFolder = workspace.PluginsFolder;
        });
        var alerts = new AlertTopic(bed);

        // (a) New parameters (threshold 70 → 72) with an open alert: the alert keeps its id, and a resolve closes it.
        bed.ProduceEvent(Noise("s-1", 1, 75));
        bed.ProduceEvent(Noise("s-9", 2, 60));
        var first = alerts.WaitFor(a => a.Sensor == "s-1" && a.Status == "raised");
        await ReloadAsync(bed, engine, workspace, Rules(threshold: 72), reload: 1);
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Rule reload #1: binding 'night-noise' kept with new parameters", StringComparison.Ordinal));
        bed.ProduceEvent(Noise("s-1", 3, 80)); // the same spell under the new threshold: no second alert
        await AssertOpenAlertsAsync(engine, alerts, [first.Id]);

        // (b) The plugin rebuilt, same state version: the area's hour window in progress and the open alert are kept.
        // The readings reach the area through the repartition topic, after the sensor's alert: the window is in
        // progress once the area has written its state.
        bed.ReadUntil(bed.Options.Topics.State, records => records.Any(r => Key(r.Message.Key) == StateKeys.Of(RuleScope.Area, "park")
            && r.Message.Value is { } state && Encoding.UTF8.GetString(state).Contains("\"noise-hour\"", StringComparison.Ordinal)));
        PluginCompiler.Build(plugin, NightNoisePlugin.Name, NightNoisePlugin.Source(build: 2, stateVersion: 1));
        await ReloadAsync(bed, engine, workspace, reload: 2);
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Rule reload #2: binding 'noise-hour' kept: state version 1; a new build of the rule", StringComparison.Ordinal));
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Rule reload #2 applied: binding 'noise-hour' kept: state of 1 keys kept", StringComparison.Ordinal));
        bed.ProduceEvent(Noise("s-9", 30, 65));
        bed.ProduceEvent(Noise("s-9", 61, 40)); // the watermark passes the hour's end
        var hour = Assert.Single(bed.ReadUntil(bed.Options.Topics.Aggregates, r => r.Count >= 1), r => Key(r.Message.Key) == $"park/noise.max/{Hour.ToUnixTimeMilliseconds()}");
        using (var aggregate = JsonDocument.Parse(hour.Message.Value))
        {
            Assert.Equal((4, 80.0), (aggregate.RootElement.GetProperty("count").GetInt32(), aggregate.RootElement.GetProperty("value").GetDouble()));
        }

        Command(bed, first.Id, "resolve");
        Assert.Equal(2, alerts.WaitFor(a => a.Id == first.Id && a.Status == "resolved").Sequence);
        await AssertOpenAlertsAsync(engine, alerts, []);

        // (c) State version 1 → 2 with a migration: the open alert is kept and ends under its own id. (s-1 still holds
        // its spell: the operator closed its alert, not its spell, so two keys migrate.)
        bed.ProduceEvent(Noise("s-2", 62, 85));
        var second = alerts.WaitFor(a => a.Sensor == "s-2" && a.Status == "raised");
        PluginCompiler.Build(plugin, NightNoisePlugin.Name, NightNoisePlugin.Source(build: 3, stateVersion: 2));
        await ReloadAsync(bed, engine, workspace, reload: 3);
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Rule reload #3 applied: binding 'night-noise' migrated: state of 0 keys kept, 2 migrated, 0 reset, 0 removed; 0 open alerts closed", StringComparison.Ordinal));
        bed.ProduceEvent(Noise("s-2", 63, 50));
        var quiet = alerts.WaitFor(a => a.Id == second.Id && a.Status == "resolved");
        Assert.Equal((2, "quiet after a peak of 85 dB"), (quiet.Sequence, quiet.Description));
        await AssertOpenAlertsAsync(engine, alerts, []);

        // (c) State version 2 → 3 without a migration: the open alert is closed as "rule state reset", and the next
        // loud spell is a new alert.
        bed.ProduceEvent(Noise("s-3", 64, 90));
        var third = alerts.WaitFor(a => a.Sensor == "s-3" && a.Status == "raised");
        PluginCompiler.Build(plugin, NightNoisePlugin.Name, NightNoisePlugin.Source(build: 4, stateVersion: 3));
        await ReloadAsync(bed, engine, workspace, reload: 4);
        var reset = alerts.WaitFor(a => a.Id == third.Id && a.Status == "resolved");
        Assert.Equal((2, "rule state reset"), (reset.Sequence, reset.ClosedBy));
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Rule reload #4 applied: binding 'night-noise' reset: state of 0 keys kept, 0 migrated, 2 reset, 0 removed; 1 open alerts closed", StringComparison.Ordinal));
        bed.ProduceEvent(Noise("s-3", 65, 91));
        var fourth = alerts.WaitFor(a => a.Sensor == "s-3" && a.Status == "raised" && a.Id != third.Id);
        await AssertOpenAlertsAsync(engine, alerts, [fourth.Id]);

        // (d) The binding removed: its open alert is closed as "rule removed", and an operator's resolve for it is
        // answered with that, not as an unknown alert.
        await ReloadAsync(bed, engine, workspace, Rules(threshold: 72, withNightNoise: false), reload: 5);
        var removed = alerts.WaitFor(a => a.Id == fourth.Id && a.Status == "resolved");
        Assert.Equal((2, "rule removed"), (removed.Sequence, removed.ClosedBy));
        Command(bed, fourth.Id, "resolve");
        var refusal = Assert.Single(bed.ReadUntil(bed.Options.Topics.DeadLetters, r => r.Count >= 1));
        Assert.Matches($"^alert '{fourth.Id}' was closed by a rules reload at .* \\(rule removed\\): there is nothing to acknowledge or resolve$", Header(refusal, DeadLetterHeaders.Reason));
        await AssertOpenAlertsAsync(engine, alerts, []);

        var scrape = await ScrapeAsync(engine);
        Assert.Equal(5, scrape.Sum("kommune_rule_reloads_total", ("outcome", "applied")));
        Assert.Equal(1, scrape.Sum("kommune_rule_reload_bindings_total", ("change", "migrated")));
        Assert.Equal(1, scrape.Sum("kommune_rule_reload_closed_alerts_total", ("reason", "rule_state_reset")));
        Assert.Equal(1, scrape.Sum("kommune_rule_reload_closed_alerts_total", ("reason", "rule_removed")));
        await engine.StopAsync();
        Assert.Empty(bed.Logs.Errors);
    }

    [Fact]
    public async Task Check_rules_against_the_running_rules_prints_the_reload_plan_before_it_is_applied()
    {
        using var workspace = new PluginWorkspace();
        var running = Path.Combine(workspace.Root, "running");
        PluginCompiler.Build(Path.Combine(running, "plugins", NightNoisePlugin.Name), NightNoisePlugin.Name, NightNoisePlugin.Source(build: 1, stateVersion: 1));
        File.WriteAllText(Path.Combine(running, "rules.json"), Rules(threshold: 70));
        PluginCompiler.Build(Path.Combine(workspace.PluginsFolder, NightNoisePlugin.Name), NightNoisePlugin.Name, NightNoisePlugin.Source(build: 2, stateVersion: 2));
        workspace.WriteRules("""
            { "rules": [
              { "name": "night-noise", "rule": "night-noise", "plugin": "NightNoise", "parameters": { "threshold": 72 } },
              { "name": "falls", "rule": "fall-detection" }
            ] }
            """);
        using var printed = new StringWriter();

        var exit = await Cli.KommuneCommandLine.Build()
            .Parse(["check-rules", "--rules", workspace.RulesFile, "--plugins", workspace.PluginsFolder,
                "--against", Path.Combine(running, "rules.json"), "--against-plugins", Path.Combine(running, "plugins")])
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = printed });

        Assert.Equal(0, exit);
        var plan = printed.ToString().Split('\n').SkipWhile(l => !l.StartsWith("reload from rules.json:", StringComparison.Ordinal)).Skip(1)
            .Where(l => l.Length > 0).Select(l => System.Text.RegularExpressions.Regex.Replace(l.TrimEnd(), " {2,}", "  ")).ToList();
        Assert.Equal(
            [
                "migrated  night-noise: state version 1 → 2: MigrateState moves each key's state (and new parameters)",
                "added  falls: new binding of rule 'fall-detection': starts empty",
                "removed  noise-hour: no longer in the rules file (or disabled): its open alerts are closed",
            ],
            plan);
    }

    private static async Task ReloadAsync(KafkaTestBed bed, KommuneEngine engine, PluginWorkspace workspace, string? rules = null, int reload = 0)
    {
        if (rules is not null)
        {
            workspace.WriteRules(rules);
        }

        Assert.True(engine.ReloadRules());
        await KafkaTestBed.WaitUntilAsync(() => bed.Logs.Lines.Any(l => l.Contains($"Rule reload #{reload} applied by every sensor and area", StringComparison.Ordinal)));
    }

    /// <summary>Waits until the alerts open on the topic are <paramref name="expected"/> and the gauge counts as many.</summary>
    private static async Task AssertOpenAlertsAsync(KommuneEngine engine, AlertTopic alerts, IReadOnlyCollection<string> expected)
    {
        double gauge = -1;
        IReadOnlyCollection<string> open = [];
        await KafkaTestBed.WaitUntilAsync(
            async () =>
            {
                open = alerts.Open();
                gauge = (await ScrapeAsync(engine)).Sum("kommune_open_alerts");
                return open.Order().SequenceEqual(expected.Order()) && gauge == open.Count;
            },
            () => $"open on the topic: [{string.Join(", ", open)}], gauge {gauge}, expected [{string.Join(", ", expected)}]");
    }

    private static async Task<PrometheusText> ScrapeAsync(KommuneEngine engine)
    {
        using var scrape = new MemoryStream();
        await engine.Metrics.Registry.CollectAndExportAsTextAsync(scrape);
        return new PrometheusText(Encoding.UTF8.GetString(scrape.ToArray()));
    }

    private static void Command(KafkaTestBed bed, string alertId, string action)
    {
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(alertId), Encoding.UTF8.GetBytes(
            $$"""{"alertId":"{{alertId}}","action":"{{action}}","by":"operator Ola","ts":"{{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}}"}"""));
        bed.Flush();
    }

    private static SensorEvent Noise(string sensor, int minute, double db) =>
        new(sensor, "park", "noise", Hour.AddMinutes(minute), new Dictionary<string, SensorValue> { ["db"] = db });

    private static string Key(byte[]? key) => key is null ? "" : Encoding.UTF8.GetString(key);

    private static string Header(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> record, string name) =>
        Encoding.UTF8.GetString(record.Message.Headers.GetLastBytes(name));

    /// <summary>The alert records on <c>kommune.alerts</c>, read from the start each time.</summary>
    private sealed class AlertTopic(KafkaTestBed bed)
    {
        public AlertRecord WaitFor(Func<AlertRecord, bool> match)
        {
            AlertRecord? found = null;
            bed.ReadUntil(bed.Options.Topics.Alerts, records => (found = records.Select(Parse).FirstOrDefault(match)) is not null);
            return found ?? throw new TimeoutException("no such alert record was written");
        }

        /// <summary>The ids whose latest record (by sequence) is not resolved.</summary>
        public IReadOnlyCollection<string> Open()
        {
            var written = Enumerable.Range(0, bed.Partitions).Sum(p => bed.Watermarks(bed.Options.Topics.Alerts, p).High.Value);
            var records = bed.ReadAtLeast(bed.Options.Topics.Alerts, (int)written).Select(Parse);
            return [.. records.GroupBy(r => r.Id).Select(g => g.MaxBy(r => r.Sequence)!).Where(r => r.Status != "resolved").Select(r => r.Id)];
        }

        private static AlertRecord Parse(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> record)
        {
            using var json = JsonDocument.Parse(record.Message.Value);
            var root = json.RootElement;
            var evidence = root.GetProperty("evidence");
            return new AlertRecord(
                root.GetProperty("alertId").GetString()!,
                root.GetProperty("sequence").GetInt32(),
                root.GetProperty("status").GetString()!,
                root.GetProperty("sensorId").GetString(),
                root.GetProperty("description").GetString()!,
                evidence.TryGetProperty("closedBy", out var closedBy) ? closedBy.GetString() : null);
        }
    }

    private sealed record AlertRecord(string Id, int Sequence, string Status, string? Sensor, string Description, string? ClosedBy);
}

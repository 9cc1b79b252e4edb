using System.CommandLine;
using Kommune.Engine.Cli;
using Kommune.Engine.Hosting;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>The sample plugin, built by the test project's reference to it, loaded by the engine and run through Kafka.</summary>
[Collection(KafkaLanes.First)]
public sealed class PluginEngineTests(ITestOutputHelper output)
{
    private const string ColdRoomsAndFalls = """
        {
          "rules": [
            { "name": "fall-detection", "rule": "fall-detection" },
            { "name": "cold-rooms", "rule": "cold-room", "plugin": "ColdRoom", "parameters": { "threshold": 18, "for": "10m" } },
            { "name": "broken-rule", "rule": "whatever", "plugin": "Broken" }
          ]
        }
        """;

    [Fact]
    public async Task The_sample_plugin_raises_its_alert_through_Kafka_while_a_broken_plugin_is_isolated()
    {
        using var workspace = new PluginWorkspace();
        workspace.AddColdRoom();
        workspace.AddGarbage("Broken");
        workspace.WriteRules(ColdRoomsAndFalls);
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync(o =>
        {
            o.RulesFile = workspace.RulesFile;
            o.PluginsFolder = workspace.PluginsFolder;
        });

        bed.ProduceEvent(Temperature("room-1", 16.0, 0));
        bed.ProduceEvent(Temperature("room-1", 16.5, 5));
        var fall = Events.Fall("wearable-1", "skole-a", 6 * 60);
        bed.ProduceEvent(fall);
        bed.ProduceEvent(Temperature("room-1", 17.0, 11)); // the watermark passes 10 minutes of cold
        bed.Flush();

        var alerts = bed.ReadAlertIds(["cold-rooms:room-1:cold", Events.AlertId(fall)]);
        Assert.Equal(2, alerts.Count);
        await engine.StopAsync();
        Assert.Equal(1, engine.Statistics.PluginFailures);
        Assert.Equal(["cold-rooms", "fall-detection"], engine.Rules.Bindings.Select(b => b.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Changing_the_rules_file_reloads_the_rules_without_a_restart()
    {
        using var workspace = new PluginWorkspace();
        workspace.AddColdRoom();
        workspace.WriteRules("""{ "rules": [ { "name": "fall-detection", "rule": "fall-detection" } ] }""");
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync(o =>
        {
            o.RulesFile = workspace.RulesFile;
            o.PluginsFolder = workspace.PluginsFolder;
        });
        using var watcher = new RulesWatcher(workspace.RulesFile, workspace.PluginsFolder, () => engine.ReloadRules(), TimeProvider.System);
        var fallBefore = Events.Fall("wearable-1", "skole-a", 0);
        bed.ProduceEvent(fallBefore);
        bed.Flush();
        bed.ReadAlertIds([Events.AlertId(fallBefore)]);

        workspace.WriteRules(ColdRoomsAndFalls.Replace("""{ "name": "broken-rule", "rule": "whatever", "plugin": "Broken" }""", "", StringComparison.Ordinal)
            .Replace("""} },""", """} }""", StringComparison.Ordinal));
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics.RuleReloads >= 1);
        bed.ProduceEvent(Temperature("room-2", 15.0, 1));
        bed.ProduceEvent(Temperature("room-2", 15.0, 12));
        bed.Flush();

        Assert.Contains("cold-rooms:room-2:cold", bed.ReadAlertIds(["cold-rooms:room-2:cold"]));
        await engine.StopAsync();
        Assert.Equal(0, engine.Statistics.PluginFailures);
    }

    [Fact]
    public async Task Check_rules_prints_the_bindings_or_every_mistake()
    {
        using var workspace = new PluginWorkspace();
        workspace.AddColdRoom();
        workspace.WriteRules("""{ "rules": [ { "name": "cold", "rule": "cold-room", "plugin": "ColdRoom", "parameters": { "threshold": "ten", "treshold": 3 } } ] }""");
        using var bad = new StringWriter();
        using var badErrors = new StringWriter();

        var badExit = await KommuneCommandLine.Build()
            .Parse(["check-rules", "--rules", workspace.RulesFile, "--plugins", workspace.PluginsFolder])
            .InvokeAsync(new InvocationConfiguration { Output = bad, Error = badErrors });

        Assert.Equal(2, badExit);
        Assert.Contains("rules.json: rule 'cold': field 'parameters.threshold': must be a number, not \"ten\"", badErrors.ToString(), StringComparison.Ordinal);

        workspace.WriteRules("""{ "rules": [ { "name": "cold", "rule": "cold-room", "plugin": "ColdRoom", "areas": ["skole-a"] } ] }""");
        using var good = new StringWriter();
        var goodExit = await KommuneCommandLine.Build()
            .Parse(["check-rules", "--rules", workspace.RulesFile, "--plugins", workspace.PluginsFolder])
            .InvokeAsync(new InvocationConfiguration { Output = good });

        Assert.Equal(0, goodExit);
        Assert.Contains("ok  cold: Kommune.Samples.ColdRoom.ColdRoomRule, Sensor scope, temperature, skole-a", good.ToString(), StringComparison.Ordinal);
    }

    private static SensorEvent Temperature(string room, double celsius, int minute) =>
        new(room, "skole-a", "temperature", Events.T0.AddMinutes(minute), new Dictionary<string, SensorValue> { ["temperature"] = celsius });

}

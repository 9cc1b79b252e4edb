using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>`kommune run` with a rules file, as an operator runs it: mistakes stop it at start, SIGHUP reloads.</summary>
[Collection(KafkaLanes.First)]
public sealed class RulesCommandLineTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_wrong_rules_file_stops_the_engine_at_start_and_SIGHUP_reloads_a_right_one()
    {
        using var workspace = new PluginWorkspace();
        workspace.AddColdRoom();
        using var bed = new KafkaTestBed(output, partitions: 1);
        workspace.WriteRules("""{ "rules": [ { "name": "cold", "rule": "cold-room", "plugin": "ColdRoom", "sensortypes": ["temperature"] } ] }""");

        using (var refused = KommuneProcess.Start("run", "-b", bed.BootstrapServers, "--rules", workspace.RulesFile, "--plugins", workspace.PluginsFolder))
        {
            await refused.WaitForExitAsync(Wait);
            output.WriteLine(refused.Output);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("rules.json: rule 'cold': field 'sensortypes': unknown field", refused.Output, StringComparison.Ordinal);
        }

        workspace.WriteRules("""{ "rules": [ { "name": "cold", "rule": "cold-room", "plugin": "ColdRoom" } ] }""");
        using var engine = KommuneProcess.Start(
            "run", "-b", bed.BootstrapServers, "--rules", workspace.RulesFile, "--plugins", workspace.PluginsFolder, "--group-id", "sighup");
        try
        {
            await engine.WaitForOutputAsync("Assigned partitions", Wait);
            await engine.SignalAsync("HUP");
            await engine.WaitForOutputAsync("Rules applied: 1 bindings", Wait);

            await engine.StopAsync("TERM", Wait);
            Assert.Equal(0, engine.ExitCode);
        }
        finally
        {
            output.WriteLine(engine.Output);
        }
    }
}

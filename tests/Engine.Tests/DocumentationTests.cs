using System.Text;
using System.Text.RegularExpressions;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Plugins;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Testing;

namespace Kommune.Engine.Tests;

/// <summary>What the README, docs/ and --help promise is what the code does.</summary>
public sealed partial class DocumentationTests
{
    private static string Read(params string[] path) => File.ReadAllText(RepositoryFiles.Path(path));

    [Fact]
    public void The_readme_docs_and_help_agree_that_without_a_rules_file_every_built_in_rule_runs()
    {
        Assert.Equal(["fall-detection", "congestion", "congestion-area", "parking", "energy-area", "energy-anomaly"], RuleLoader.DefaultRules);

        var readmeRow = Read("README.md").Split('\n').Single(l => l.StartsWith("| `RulesFile` |", StringComparison.Ordinal));
        Assert.Contains("every built-in municipal rule", readmeRow, StringComparison.Ordinal);
        var rules = Read("docs", "rules.md");
        Assert.Contains("Without a rules file the engine runs every built-in municipal rule with its defaults: `fall-detection`,\n`congestion`, `congestion-area`, `parking`, `energy-area` and `energy-anomaly`", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("fall rule alone", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("the built-in fall rule)", Read("README.md"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_help_of_run_says_the_same()
    {
        using var help = KommuneProcess.Start("run", "--help");
        await help.WaitForExitAsync(KafkaTestBed.DefaultWait);
        Assert.Contains("every built-in municipal rule with its defaults", help.Output.ReplaceLineEndings(" "), StringComparison.Ordinal);
        Assert.Contains("--node-id", help.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_event_contract_names_every_dead_letter_stage_and_no_longer_promises_late_dead_letters_for_later()
    {
        var events = Read("docs", "events.md");
        foreach (var stage in new[] { "decode", "late", "rule", "command", "output" })
        {
            Assert.Contains($"`{stage}`", events, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("once event-time processing lands", events, StringComparison.Ordinal);
        Assert.Contains(DeadLetterHeaders.ValueSha256, events, StringComparison.Ordinal);
    }

    [Fact]
    public void The_event_contract_lists_every_dead_letter_code_with_its_stage_in_one_table()
    {
        var rows = Read("docs", "events.md").Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).ToList();

        foreach (var code in DeadLetterCode.All)
        {
            Assert.Single(rows, r => r.StartsWith($"| `{code.Label}` | `{code.Stage.Label}` |", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_car_park_examples_of_the_event_contract_are_used_by_the_parking_rule()
    {
        var events = Read("docs", "events.md");
        var examples = ParkingExample().Matches(events).Select(m => m.Value).ToList();
        Assert.Equal(3, examples.Count);
        var decoder = new SensorEventDecoder(SensorEventLimits.Default with { EarliestEventTime = DateTimeOffset.UnixEpoch }, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 9, 0, 0, TimeSpan.Zero)));
        var kit = new RuleTestKit().Bind(new ParkingRule());

        foreach (var json in examples)
        {
            Assert.True(decoder.TryDecode(null, Encoding.UTF8.GetBytes(json), out var e, out var failure), failure.Text);
            kit.Send(e!);
        }

        kit.AdvanceWatermarkTo(new DateTimeOffset(2026, 11, 26, 7, 45, 0, TimeSpan.Zero));
        Assert.Empty(kit.Problems);
        // The bay is occupied; the car park has 420 - 377 = 43 free, then 40: 43 and 40 free spaces at the minute ends.
        var free = kit.Aggregates.Where(a => a.Metric == ParkingRule.FreeMetric).Select(a => a.Value).ToList();
        Assert.Contains(43.0, free);
        Assert.Contains(40.0, free);
    }

    // The parking examples' JSON objects, each on its two lines of the code block.
    [GeneratedRegex("""\{"sensorId":"[^"]+","areaId":"sentrum","type":"parking","ts":[^\n]+\n\s*"values":\{[^}]*\}\}""")]
    private static partial Regex ParkingExample();
}

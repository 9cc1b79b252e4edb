using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Kommune.Engine.Plugins;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>Loading plugins and rules files, isolating broken plugins, and reloading what changed only.</summary>
public sealed class RuleLoaderTests : IDisposable
{
    private const string SchoolRules = """
        {"rules": [
          {"name": "cold-rooms-skole", "rule": "cold-room", "plugin": "ColdRoom", "sensorTypes": ["temperature"], "areas": ["skole-a"], "enabled": true,
           "parameters": {"threshold": 16, "for": "15m"}},
          {"name": "cold-rooms-barnehage", "rule": "cold-room", "areas": ["barnehage-b"]},
          {"name": "falls", "rule": "fall-detection"},
          {"name": "cold-off", "rule": "cold-room", "enabled": false}
        ]}
        """;

    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly PluginWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    private static RuleBinding Binding(RuleLoadResult result, string name) => Assert.Single(result.Rules.Bindings, b => b.Name == name);

    [Fact]
    public void Without_a_rules_file_the_set_is_every_built_in_municipal_rule()
    {
        _workspace.AddColdRoom();
        using var loader = _workspace.Loader(withRulesFile: false);

        var first = loader.Load();
        var again = loader.Load();

        Assert.Equal(
            ["fall-detection", "congestion", "congestion-area", "parking", "energy-area", "energy-anomaly"],
            first.Rules.Bindings.Select(b => b.Name));
        Assert.Equal(
            [typeof(FallEscalationRule), typeof(CongestionRule), typeof(CongestionAreaRule), typeof(ParkingRule), typeof(EnergyAreaRule), typeof(EnergyAnomalyRule)],
            first.Rules.Bindings.Select(b => b.Rule.GetType()));
        Assert.Empty(first.Problems);
        Assert.Equal(first.Rules.Bindings, again.Rules.Bindings);
    }

    [Fact]
    public void The_sample_plugin_loads_and_its_rule_runs_in_the_test_kit()
    {
        _workspace.AddColdRoom();
        _workspace.WriteRules(SchoolRules);
        using var loader = _workspace.Loader();

        var result = loader.Load();

        Assert.Empty(result.Problems);
        Assert.Equal(0, result.PluginFailures);
        Assert.Equal(["cold-rooms-skole", "cold-rooms-barnehage", "falls"], result.Rules.Bindings.Select(b => b.Name));
        var school = Binding(result, "cold-rooms-skole");
        Assert.Equal(["temperature"], school.SensorTypes);
        Assert.Equal(["skole-a"], school.Areas);
        var context = AssemblyLoadContext.GetLoadContext(school.Rule.GetType().Assembly);
        Assert.NotNull(context);
        Assert.NotSame(AssemblyLoadContext.Default, context);
        Assert.True(context.IsCollectible);
        Assert.DoesNotContain(context.Assemblies, a => a.GetName().Name == "Kommune.Rules");
        Assert.Same(typeof(Rule).Assembly, school.Rule.GetType().BaseType!.Assembly);

        var kit = new RuleTestKit(start: T0);
        foreach (var binding in result.Rules.Bindings)
        {
            kit.Bind(binding.Rule, binding.Name, binding.SensorTypes, binding.Areas);
        }

        var reading = (double celsius) => new Dictionary<string, SensorValue> { ["temperature"] = celsius };
        kit.Send("room-1", "temperature", T0, reading(15.5), areaId: "skole-a");
        kit.Send("room-2", "temperature", T0, reading(17.0), areaId: "skole-a"); // above the school's 16
        kit.Send("room-3", "temperature", T0, reading(17.0), areaId: "barnehage-b"); // below the default 18
        kit.AdvanceWatermarkTo(T0 + TimeSpan.FromMinutes(10));
        var kindergarten = Assert.Single(kit.Alerts);
        Assert.Equal(("cold-rooms-barnehage", "room-3"), (kindergarten.Rule, kindergarten.SensorId));

        kit.AdvanceWatermarkTo(T0 + TimeSpan.FromMinutes(15));
        Assert.Equal(2, kit.Alerts.Count);
        Assert.Equal(("cold-rooms-skole", "room-1", "environment", AlertSeverity.Medium), (kit.Alerts[1].Rule, kit.Alerts[1].SensorId, kit.Alerts[1].Category, kit.Alerts[1].Severity));
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_sample_plugin_output_does_not_carry_Kommune_Rules()
    {
        Assert.False(File.Exists(Path.Combine(PluginWorkspace.SampleOutput, "Kommune.Rules.dll")), "the host provides Kommune.Rules; a copy would split the Rule type");
    }

    [Fact]
    public void A_copy_of_Kommune_Rules_in_the_plugin_folder_is_not_used()
    {
        // What `dotnet build samples/ColdRoom -o plugins/ColdRoom` leaves: the referenced project's output too.
        var folder = _workspace.AddColdRoom();
        File.Copy(typeof(Rule).Assembly.Location, Path.Combine(folder, "Kommune.Rules.dll"));
        _workspace.WriteRules("""{"rules": [{"name": "cold", "rule": "cold-room", "plugin": "ColdRoom"}]}""");
        using var loader = _workspace.Loader();

        var rule = Assert.Single(loader.Load().Rules.Bindings).Rule;

        Assert.IsAssignableFrom<Rule>(rule);
        Assert.DoesNotContain(AssemblyLoadContext.GetLoadContext(rule.GetType().Assembly)!.Assemblies, a => a.GetName().Name == "Kommune.Rules");
    }

    [Fact]
    public void A_plugin_folder_named_after_its_assembly_loads_that_assembly()
    {
        _workspace.AddColdRoom("Kommune.Samples.ColdRoom");
        _workspace.WriteRules("""{"rules": [{"name": "cold", "rule": "cold-room", "plugin": "Kommune.Samples.ColdRoom"}]}""");
        using var loader = _workspace.Loader();

        Assert.Equal("ColdRoomRule", Assert.Single(loader.Load().Rules.Bindings).Rule.GetType().Name);
    }

    [Fact]
    public void A_broken_plugin_is_reported_and_skipped_while_the_other_bindings_load()
    {
        _workspace.AddColdRoom();
        _workspace.AddGarbage("X");
        _workspace.WriteRules("""
            {"rules": [
              {"name": "x-rule", "rule": "something", "plugin": "X"},
              {"name": "x-unnamed", "rule": "something-else"},
              {"name": "cold", "rule": "cold-room", "plugin": "ColdRoom"},
              {"name": "falls", "rule": "fall-detection"}
            ]}
            """);
        using var loader = _workspace.Loader();

        var result = loader.Load();

        Assert.Equal(["cold", "falls"], result.Rules.Bindings.Select(b => b.Name));
        Assert.Equal(1, result.PluginFailures);
        Assert.Equal(3, result.Problems.Count);
        Assert.StartsWith("plugin 'X': failed to load: not a .NET assembly", result.Problems[0], StringComparison.Ordinal);
        Assert.StartsWith("rules.json: rule 'x-rule': skipped: plugin 'X' failed: not a .NET assembly", result.Problems[1], StringComparison.Ordinal);
        Assert.StartsWith("rules.json: rule 'x-unnamed': skipped: no built-in or loaded plugin has rule 'something-else'", result.Problems[2], StringComparison.Ordinal);
        Assert.Contains(_workspace.Logger.Entries, e => e.Level == LogLevel.Error && e.Message.StartsWith("Plugin X failed", StringComparison.Ordinal));
        Assert.Contains(_workspace.Logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("'x-rule': skipped", StringComparison.Ordinal));
    }

    [Fact]
    public void A_plugin_whose_rule_type_has_no_usable_constructor_is_isolated()
    {
        _workspace.AddColdRoom();
        EmittedPlugins.RuleWithoutUsableConstructor(Path.Combine(_workspace.PluginsFolder, "NoCtor"), "NoCtor");
        _workspace.WriteRules("""
            {"rules": [{"name": "bad", "rule": "no-constructor", "plugin": "NoCtor"}, {"name": "cold", "rule": "cold-room"}]}
            """);
        using var loader = _workspace.Loader();

        var result = loader.Load();

        Assert.Equal("cold", Assert.Single(result.Rules.Bindings).Name);
        Assert.Equal(1, result.PluginFailures);
        Assert.Equal(
            [
                "plugin 'NoCtor': failed to load: rule type NoCtor.NoConstructorRule has no public constructor taking RuleParameters or nothing",
                "rules.json: rule 'bad': skipped: plugin 'NoCtor' failed: rule type NoCtor.NoConstructorRule has no public constructor taking RuleParameters or nothing",
            ],
            result.Problems);
    }

    [Fact]
    public void A_plugin_with_a_missing_dependency_is_isolated()
    {
        _workspace.AddColdRoom();
        EmittedPlugins.RuleWithMissingDependency(Path.Combine(_workspace.PluginsFolder, "NoDep"), "NoDep");
        _workspace.WriteRules("""
            {"rules": [{"name": "bad", "rule": "needs-dependency", "plugin": "NoDep"}, {"name": "cold", "rule": "cold-room"}]}
            """);
        using var loader = _workspace.Loader();

        var result = loader.Load();

        Assert.Equal("cold", Assert.Single(result.Rules.Bindings).Name);
        Assert.Equal(1, result.PluginFailures);
        Assert.StartsWith("plugin 'NoDep': failed to load: ", result.Problems[0], StringComparison.Ordinal);
        Assert.Contains("NoDep.Base", result.Problems[0], StringComparison.Ordinal);
        Assert.All(result.Problems, p => Assert.DoesNotContain('\n', p));
        Assert.StartsWith("rules.json: rule 'bad': skipped: plugin 'NoDep' failed", result.Problems[1], StringComparison.Ordinal);
    }

    [Fact]
    public void A_plugin_folder_without_a_rule_assembly_is_a_plugin_failure()
    {
        Directory.CreateDirectory(Path.Combine(_workspace.PluginsFolder, "Empty"));
        _workspace.WriteRules("""{"rules": [{"name": "falls", "rule": "fall-detection"}]}""");
        using var loader = _workspace.Loader();

        var result = loader.Load();

        Assert.Equal(1, result.PluginFailures);
        Assert.Equal("plugin 'Empty': failed to load: no Empty.dll and no .dll with [Rule] types", Assert.Single(result.Problems));
        Assert.Single(result.Rules.Bindings);
    }

    [Fact]
    public void A_reload_with_unchanged_files_returns_the_same_bindings()
    {
        _workspace.AddColdRoom();
        _workspace.WriteRules(SchoolRules);
        using var loader = _workspace.Loader();
        var first = loader.Load();

        _workspace.WriteRules(SchoolRules.Replace("\n", "\n  // reformatted\n", StringComparison.Ordinal));
        var second = loader.Load();

        Assert.Equal(first.Rules.Bindings.Count, second.Rules.Bindings.Count);
        foreach (var (before, after) in first.Rules.Bindings.Zip(second.Rules.Bindings))
        {
            Assert.Same(before, after);
        }
    }

    [Fact]
    public void A_reload_after_changing_one_bindings_parameters_replaces_that_binding_only()
    {
        _workspace.AddColdRoom();
        _workspace.WriteRules(SchoolRules);
        using var loader = _workspace.Loader();
        var first = loader.Load();

        _workspace.WriteRules(SchoolRules.Replace("\"threshold\": 16", "\"threshold\": 17", StringComparison.Ordinal));
        var second = loader.Load();

        var before = Binding(first, "cold-rooms-skole");
        var after = Binding(second, "cold-rooms-skole");
        Assert.NotSame(before, after);
        Assert.NotSame(before.Rule, after.Rule);
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        Assert.Same(before.Rule.GetType(), after.Rule.GetType());
        Assert.Same(Binding(first, "cold-rooms-barnehage"), Binding(second, "cold-rooms-barnehage"));
        Assert.Same(Binding(first, "falls"), Binding(second, "falls"));
    }

    [Fact]
    public void Parameters_in_another_order_are_the_same_parameters()
    {
        _workspace.AddColdRoom();
        _workspace.WriteRules("""{"rules": [{"name": "a", "rule": "cold-room", "parameters": {"threshold": 16, "for": "15m"}}]}""");
        using var loader = _workspace.Loader();
        var first = loader.Load();

        _workspace.WriteRules("""{"rules": [{"name": "a", "rule": "cold-room", "parameters": {"for": "15m", "threshold": 16}}]}""");

        Assert.Same(Assert.Single(first.Rules.Bindings), Assert.Single(loader.Load().Rules.Bindings));
    }

    [Fact]
    public void A_reload_of_a_wrong_file_throws_and_changes_nothing()
    {
        _workspace.AddColdRoom();
        _workspace.WriteRules(SchoolRules);
        using var loader = _workspace.Loader();
        var first = loader.Load();

        _workspace.WriteRules(SchoolRules.Replace("\"threshold\": 16", "\"threshold\": \"ten\"", StringComparison.Ordinal));
        Assert.Throws<RulesFileException>(loader.Load);

        _workspace.WriteRules(SchoolRules);
        var second = loader.Load();
        Assert.Equal(first.Rules.Bindings, second.Rules.Bindings);
    }

    [Fact]
    public void A_replaced_plugin_gets_a_new_context_and_the_old_one_is_collected()
    {
        var folder = _workspace.AddColdRoom();
        _workspace.WriteRules("""{"rules": [{"name": "cold", "rule": "cold-room", "plugin": "ColdRoom"}, {"name": "falls", "rule": "fall-detection"}]}""");
        using var loader = _workspace.Loader();
        var unloading = new StrongBox<bool>();
        var (oldContext, falls) = LoadAndForget(loader, unloading);

        // A new build of the plugin: other bytes, same code (trailing bytes after the PE image are ignored).
        using (var dll = File.Open(Path.Combine(folder, "Kommune.Samples.ColdRoom.dll"), FileMode.Append))
        {
            dll.Write(new byte[16]);
        }

        var second = loader.Load();
        Assert.True(unloading.Value, "the replaced plugin's load context was not unloaded");
        var cold = Binding(second, "cold");
        Assert.Equal(falls, Binding(second, "falls").Fingerprint);
        var newContext = AssemblyLoadContext.GetLoadContext(cold.Rule.GetType().Assembly);
        Assert.NotNull(newContext);
        Assert.True(newContext.IsCollectible);

        for (var i = 0; oldContext.IsAlive && i < 50; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(oldContext.IsAlive, "the replaced plugin's load context was not collected");
        Assert.Empty(second.Problems);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Context, string FallsFingerprint) LoadAndForget(RuleLoader loader, StrongBox<bool> unloading)
    {
        var result = loader.Load();
        var rule = Binding(result, "cold").Rule;
        var context = AssemblyLoadContext.GetLoadContext(rule.GetType().Assembly);
        Assert.NotNull(context);
        context.Unloading += _ => unloading.Value = true;
        return (new WeakReference(context), Binding(result, "falls").Fingerprint);
    }
}

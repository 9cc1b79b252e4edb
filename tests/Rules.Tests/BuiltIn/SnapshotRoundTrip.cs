using Kommune.Rules.Api;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

/// <summary>Writes a kit's keyed state as JSON, reads it back into a fresh runner, and lets the test go on with it.</summary>
internal static class SnapshotRoundTrip
{
    public static KeyedRuleRunner Restore(KeyedState? state, string bindingName, Rule rule, EventTimeSettings? settings = null)
    {
        Assert.NotNull(state);
        return Restore(KeyedStateSnapshot.FromJson(state.ToJson()), bindingName, rule, settings);
    }

    public static KeyedRuleRunner Restore(KeyedStateSnapshot? snapshot, string bindingName, Rule rule, EventTimeSettings? settings = null)
    {
        Assert.NotNull(snapshot);
        var json = snapshot.ToJson();
        var read = KeyedStateSnapshot.FromJson(json);
        Assert.Equal(json, read.ToJson());
        var runner = new KeyedRuleRunner(read.Scope, read.Key, read.AreaId, new RuleSet([new RuleBinding(bindingName, rule)]), settings ?? new EventTimeSettings());
        Assert.Empty(runner.Restore(read));
        return runner;
    }

    public static IRuleOutputs Outputs(RuleTestKit kit) => kit;
}

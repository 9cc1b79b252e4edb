using System.Reflection;
using Kommune.Rules.Api;

namespace Kommune.Rules.Runtime;

/// <summary>
/// How a reload treats each binding's state: the one comparison the engine, <c>kommune check-rules --against</c> and
/// the test kit all use. A binding whose name and fingerprint are unchanged is <see cref="BindingChange.Unchanged"/>.
/// Otherwise its state is carried when the same rule (<see cref="RuleBinding.RuleId"/>) runs in the same scope with the
/// same <see cref="RuleBinding.StateVersion"/> (<see cref="BindingChange.Kept"/>, or
/// <see cref="BindingChange.NewParameters"/>); migrated when only the state version differs and the rule overrides
/// <see cref="Rule.MigrateState"/>; reset otherwise.
/// </summary>
internal static class RuleReload
{
    /// <summary>What applying <paramref name="next"/> over <paramref name="running"/> does to each binding: those of
    /// <paramref name="next"/> in order, then the removed ones.</summary>
    public static IReadOnlyList<BindingChangePlan> Plan(RuleSet running, RuleSet next)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(next);
        var before = running.Bindings.ToDictionary(b => b.Name, StringComparer.Ordinal);
        var plan = new List<BindingChangePlan>();
        foreach (var binding in next.Bindings)
        {
            if (!before.Remove(binding.Name, out var old))
            {
                plan.Add(new BindingChangePlan(binding.Name, BindingChange.Added, $"new binding of rule '{binding.RuleId}': starts empty"));
                continue;
            }

            var comparison = Compare(BindingOrigin.Of(old), binding);
            plan.Add(new BindingChangePlan(binding.Name, comparison.Change, comparison.Reason));
        }

        foreach (var old in running.Bindings.Where(b => before.ContainsKey(b.Name)))
        {
            plan.Add(new BindingChangePlan(old.Name, BindingChange.Removed, "no longer in the rules file (or disabled): its open alerts are closed"));
        }

        return plan;
    }

    /// <summary>Whether the rule overrides <see cref="Rule.MigrateState"/>.</summary>
    internal static bool Migrates(Rule rule) =>
        rule.GetType().GetMethod(nameof(Rule.MigrateState), BindingFlags.Public | BindingFlags.Instance, [typeof(int), typeof(IStateMigration)])?.DeclaringType != typeof(Rule);

    /// <summary>What happens to state of <paramref name="before"/> under <paramref name="after"/> (same name, fingerprints differ).</summary>
    internal static Comparison Compare(BindingOrigin before, RuleBinding after)
    {
        if (before.Fingerprint == after.Fingerprint)
        {
            return new Comparison(BindingChange.Unchanged, "unchanged", ParametersChanged: false);
        }

        if (before.RuleId is null)
        {
            return new Comparison(BindingChange.Reset, "its state was written before rules recorded their state version", ParametersChanged: false);
        }

        if (before.RuleId != after.RuleId)
        {
            return new Comparison(BindingChange.Reset, $"rule '{before.RuleId}' was replaced by rule '{after.RuleId}'", ParametersChanged: false);
        }

        if (before.Scope != after.Scope)
        {
            return new Comparison(BindingChange.Reset, $"its scope changed from {before.Scope} to {after.Scope}", ParametersChanged: false);
        }

        var parametersChanged = before.ParametersFingerprint is not null && after.ParametersFingerprint is not null
            ? before.ParametersFingerprint != after.ParametersFingerprint
            : before.Rule is null || (!ReferenceEquals(before.Rule, after.Rule) && before.Rule.GetType() == after.Rule.GetType());
        var also = parametersChanged ? " (and new parameters)" : "";
        if (before.StateVersion != after.StateVersion)
        {
            return Migrates(after.Rule)
                ? new Comparison(BindingChange.Migrated, $"state version {before.StateVersion} → {after.StateVersion}: MigrateState moves each key's state{also}", parametersChanged)
                : new Comparison(BindingChange.Reset, $"state version {before.StateVersion} → {after.StateVersion} and the rule has no MigrateState{also}", parametersChanged);
        }

        if (parametersChanged)
        {
            return new Comparison(BindingChange.NewParameters, $"new parameters, state version {after.StateVersion}{What(before, after)}", ParametersChanged: true);
        }

        return new Comparison(BindingChange.Kept, $"state version {after.StateVersion}{What(before, after)}", ParametersChanged: false);
    }

    /// <summary>What else changed, for the reason: "; a new build of the rule, other areas …".</summary>
    private static string What(BindingOrigin before, RuleBinding after)
    {
        var what = new List<string>();
        if (before.Binding is not { } old)
        {
            return "; the binding changed while the engine was stopped";
        }

        var (oldType, newType) = (old.Rule.GetType(), after.Rule.GetType());
        if (oldType.FullName != newType.FullName || oldType.Assembly.ManifestModule.ModuleVersionId != newType.Assembly.ManifestModule.ModuleVersionId)
        {
            what.Add("a new build of the rule");
        }

        if (!old.Areas.ToHashSet(StringComparer.Ordinal).SetEquals(after.Areas))
        {
            what.Add(after.CoversEveryArea ? "now every area" : "other areas (keys outside them lose it, closing their open alerts)");
        }

        if (!old.SensorTypes.ToHashSet(StringComparer.Ordinal).SetEquals(after.SensorTypes))
        {
            what.Add("other sensor types");
        }

        return what.Count == 0 ? "" : "; " + string.Join(", ", what);
    }

    /// <summary>The outcome of <see cref="Compare"/>.</summary>
    internal readonly record struct Comparison(BindingChange Change, string Reason, bool ParametersChanged);
}

/// <summary>What is known of the binding that wrote some state: a running binding, or a snapshot's record of one.</summary>
internal sealed record BindingOrigin(
    string Name,
    string Fingerprint,
    string? RuleId,
    RuleScope Scope,
    int StateVersion,
    string? ParametersFingerprint,
    Rule? Rule,
    RuleBinding? Binding)
{
    public static BindingOrigin Of(RuleBinding binding) =>
        new(binding.Name, binding.Fingerprint, binding.RuleId, binding.Scope, binding.StateVersion, binding.ParametersFingerprint, binding.Rule, binding);

    public static BindingOrigin Of(RuleStateSnapshot snapshot, RuleScope scope) =>
        new(snapshot.Name, snapshot.Fingerprint, snapshot.Rule, scope, snapshot.StateVersion, snapshot.Parameters, null, null);
}

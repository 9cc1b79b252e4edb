using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>What a reload of the rules does with one binding's state (its values, timers and open alerts).</summary>
public enum BindingChange
{
    /// <summary>The binding is the same: state and timers kept, the rule not told.</summary>
    Unchanged,

    /// <summary>A new binding: it starts empty.</summary>
    Added,

    /// <summary>
    /// The same rule with the same state version, its plugin rebuilt or its areas or sensor types changed: state, timers
    /// and open alerts kept.
    /// </summary>
    Kept,

    /// <summary>Kept, with new parameters: the rule is told (<see cref="Api.Rule.OnParametersChanged"/>) for each key.</summary>
    NewParameters,

    /// <summary>The rule's state version changed and its <see cref="Api.Rule.MigrateState"/> moved the state.</summary>
    Migrated,

    /// <summary>
    /// The state cannot be carried (another rule under the same name, another scope, or a state version the rule does
    /// not migrate): dropped, and every open alert closed as <c>rule state reset</c>.
    /// </summary>
    Reset,

    /// <summary>The binding is gone (or no longer covers the key's area): state dropped, every open alert closed as <c>rule removed</c>.</summary>
    Removed,
}

/// <summary>One binding's change between the running rules and the next, as planned before it is applied.</summary>
/// <param name="Binding">The binding's name.</param>
/// <param name="Change">What happens to its state. <see cref="BindingChange.Migrated"/> means the rule has a migration;
/// a key whose state it refuses is reset.</param>
/// <param name="Reason">Why, for people: what changed.</param>
internal sealed record BindingChangePlan(string Binding, BindingChange Change, string Reason);

/// <summary>What a reload (or a restore under other rules) did to one binding's state at one key.</summary>
/// <param name="Binding">The binding's name.</param>
/// <param name="Key">The sensor or area id.</param>
/// <param name="Change">What happened: never <see cref="BindingChange.Unchanged"/> or <see cref="BindingChange.Added"/>.</param>
/// <param name="ClosedAlerts">The <c>resolved</c> records of the open alerts it closed (reset or removed), as emitted.</param>
public sealed record BindingStateChange(string Binding, string Key, BindingChange Change, IReadOnlyList<Alert> ClosedAlerts);

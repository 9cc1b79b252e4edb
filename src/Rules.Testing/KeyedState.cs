using System.Text.Json;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Rules.Testing;

/// <summary>
/// The rule state one sensor or area holds, as the engine would snapshot it at a checkpoint: for each rule binding
/// with state, its values, open alerts and pending timers. Returned by <see cref="RuleTestKit.SensorState"/> and
/// <see cref="RuleTestKit.AreaState"/>; a copy, not changed by what the kit does afterwards.
/// </summary>
public sealed class KeyedState
{
    internal KeyedState(KeyedStateSnapshot snapshot)
    {
        Snapshot = snapshot;
        Rules = [.. snapshot.Rules.Select(r => new RuleState(r))];
    }

    /// <summary>Whether this is a sensor's state (sensor-scoped rules) or an area's (area-scoped rules).</summary>
    public RuleScope Scope => Snapshot.Scope;

    /// <summary>The sensor or area id.</summary>
    public string Key => Snapshot.Key;

    /// <summary>The key's area.</summary>
    public string AreaId => Snapshot.AreaId;

    /// <summary>Each rule binding that holds state (values, timers or open alerts) for the key; a binding without any is left out.</summary>
    public IReadOnlyList<RuleState> Rules { get; }

    /// <summary>The snapshot in the engine's format (UTF-8 JSON), as written to the state topic: its length is what one checkpoint of this key costs.</summary>
    public byte[] ToJson() => Snapshot.ToJson();

    /// <summary>The runtime's snapshot this wraps.</summary>
    internal KeyedStateSnapshot Snapshot { get; }
}

/// <summary>One rule binding's state at one sensor or area (an item of <see cref="KeyedState.Rules"/>).</summary>
public sealed class RuleState
{
    internal RuleState(RuleStateSnapshot snapshot)
    {
        Name = snapshot.Name;
        StateVersion = snapshot.StateVersion;
        Values = snapshot.Values;
        OpenAlerts = snapshot.OpenAlerts;
        Timers = snapshot.Timers;
    }

    /// <summary>The binding's name.</summary>
    public string Name { get; }

    /// <summary>The rule's <see cref="Rule.StateVersion"/> the state was written with.</summary>
    public int StateVersion { get; }

    /// <summary>The named values (<see cref="IRuleContext.State{T}"/>) as the JSON the engine stores them as.</summary>
    public IReadOnlyDictionary<string, JsonElement> Values { get; }

    /// <summary>The open alerts, by incident.</summary>
    public IReadOnlyDictionary<string, Alert> OpenAlerts { get; }

    /// <summary>The pending timers.</summary>
    public IReadOnlyList<RuleTimer> Timers { get; }
}

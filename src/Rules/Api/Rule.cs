using Kommune.Rules.Model;

namespace Kommune.Rules.Api;

/// <summary>
/// The base of every rule. A rule object holds only its parameters: everything it remembers goes into keyed state
/// through the context (<see cref="IRuleContext.State{T}"/>), so the engine can snapshot it, restore it after a
/// restart and keep it across a reload. Handlers run one at a time per key and must not block.
/// </summary>
/// <remarks>
/// A rule in a plugin is found by its <see cref="RuleAttribute"/> and made with a public constructor that takes
/// <see cref="RuleParameters"/> (or none): read and check every parameter there, so mistakes fail at start.
/// </remarks>
public abstract class Rule
{
    /// <summary>Whether state is kept per sensor (the default) or per area.</summary>
    public virtual RuleScope Scope => RuleScope.Sensor;

    /// <summary>The sensor types the rule handles; empty means any type. A rules file may narrow it, never widen it.</summary>
    public virtual IReadOnlyCollection<string> SensorTypes => [];

    /// <summary>A further filter on events of those types and the bound areas; true by default.</summary>
    public virtual bool Accepts(SensorEvent sensorEvent) => true;

    /// <summary>Handles one accepted event.</summary>
    public abstract void OnEvent(IRuleContext context, SensorEvent sensorEvent);

    /// <summary>Handles a timer this rule set, once the watermark (event time) or the clock (processing time) passes it.</summary>
    public virtual void OnTimer(IRuleContext context, RuleTimer timer)
    {
    }

    /// <summary>
    /// Handles an operations centre's command about one of this rule's open alerts (<paramref name="incident"/> is
    /// the incident the rule raised it under). By default an ack acknowledges the alert and a resolve closes it;
    /// override to also stop escalation timers and the like (and call the base or do the same).
    /// </summary>
    public virtual void OnAlertCommand(IRuleContext context, string incident, AlertCommand command)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(command);
        if (command.Action == AlertAction.Ack)
        {
            context.AcknowledgeAlert(incident, $"Acknowledged by {command.By}");
        }
        else
        {
            context.ResolveAlert(incident, $"Resolved by {command.By}");
        }
    }

    /// <summary>Handles a fact sent by a sensor-scoped rule of the same area. Only area-scoped rules get facts.</summary>
    public virtual void OnFact(IRuleContext context, Fact fact)
    {
    }

    /// <summary>
    /// The version of the shape of this rule's keyed state: the names it uses and the types it reads them as. 1 unless
    /// overridden. A reload that swaps in a new build of the rule (a rebuilt plugin) keeps every key's state, timers and
    /// open alerts when the version is the same; raise it when the new build reads its state differently, and the
    /// engine calls <see cref="MigrateState"/> for each key instead.
    /// </summary>
    public virtual int StateVersion => 1;

    /// <summary>
    /// Moves one key's state, written by a build of this rule whose <see cref="StateVersion"/> was
    /// <paramref name="fromVersion"/>, to this build's shape (also called for a rollback, when
    /// <paramref name="fromVersion"/> is the higher). Read the old values as JSON or as types of this build, write the
    /// new ones; the key's timers and open alerts are kept as they are. Return false (the default) when the state
    /// cannot be moved: the key's state and timers are then dropped and each of its open alerts is closed with a
    /// <c>resolved</c> record saying <c>rule state reset</c>. A throw counts as false and is reported as a rule failure.
    /// </summary>
    /// <param name="fromVersion">The state version of the build that wrote the state.</param>
    /// <param name="state">The key's state values, to read and rewrite.</param>
    /// <returns>Whether the state now has this build's shape.</returns>
    public virtual bool MigrateState(int fromVersion, IStateMigration state) => false;

    /// <summary>
    /// Tells the rule, once for each key that holds state of this binding (values, timers or open alerts), that a reload
    /// kept that state while the binding's parameters changed (this object has the new ones). Re-check open episodes
    /// under the new parameters here: resolve an alert the new threshold no longer supports, move a timer. Runs like a
    /// processing-time timer: <see cref="IRuleContext.EventTime"/> is the key's newest event time. Does nothing by
    /// default.
    /// </summary>
    public virtual void OnParametersChanged(IRuleContext context)
    {
    }
}

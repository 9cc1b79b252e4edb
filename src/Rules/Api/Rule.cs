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
}

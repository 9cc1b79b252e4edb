using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// The simplest fall rule (<c>fall-alert</c>): every <c>fall</c> event raises a critical level-1 <c>health/fallenPatient</c> alert (FIWARE's values) at once, one
/// incident per fall (the event time in epoch milliseconds), with no escalation. <see cref="FallEscalationRule"/>
/// (<c>fall-detection</c>) is the one operations centres use; this one is for a site without acknowledgements,
/// and the engine's tests use it to get exactly one alert per fall.
/// </summary>
[Rule(RuleName)]
public sealed class FallAlertRule : Rule
{
    /// <summary>The rule's name in alerts.</summary>
    public const string RuleName = "fall-alert";

    /// <inheritdoc />
    public override IReadOnlyCollection<string> SensorTypes { get; } = [Model.SensorTypes.Fall];

    /// <inheritdoc />
    public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sensorEvent);
        var incident = sensorEvent.Timestamp.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.RaiseAlert(incident, new AlertDraft(
            "health",
            "fallenPatient",
            AlertSeverity.Critical,
            $"Fall detected by sensor {sensorEvent.SensorId} in area {sensorEvent.AreaId}")
        {
            Evidence = sensorEvent.Values,
        });
    }
}

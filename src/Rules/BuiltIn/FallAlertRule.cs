using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Placeholder fall rule: every <c>fall</c> event raises a critical level-1 alert at once, one incident per fall
/// (the event time in epoch milliseconds). The escalation chain with acknowledgements replaces it in the municipal
/// rules.
/// </summary>
[Rule(RuleName)]
public sealed class FallAlertRule : Rule
{
    /// <summary>The rule's name in alerts.</summary>
    public const string RuleName = "fall-detection";

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
            "fall",
            AlertSeverity.Critical,
            $"Fall detected by sensor {sensorEvent.SensorId} in area {sensorEvent.AreaId}")
        {
            Evidence = sensorEvent.Values,
        });
    }
}

using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Placeholder fall rule: every <c>fall</c> event raises a critical level-1 alert at once. The escalation chain
/// with acknowledgements replaces it in the municipal rules.
/// </summary>
public sealed class FallAlertRule : IRule
{
    /// <summary>The rule's name in alerts.</summary>
    public const string RuleName = "fall-detection";

    /// <inheritdoc />
    public string Name => RuleName;

    /// <inheritdoc />
    public bool Accepts(SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        return sensorEvent.Type == SensorTypes.Fall;
    }

    /// <inheritdoc />
    public void OnEvent(SensorEvent sensorEvent, IRuleOutput output)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        ArgumentNullException.ThrowIfNull(output);
        var alertId = $"{RuleName}:{sensorEvent.SensorId}:{sensorEvent.Timestamp.ToUnixTimeMilliseconds()}";
        output.Emit(new Alert(
            AlertId: alertId,
            Rule: RuleName,
            Category: "health",
            SubCategory: "fall",
            Severity: AlertSeverity.Critical,
            Status: AlertStatus.Raised,
            Level: 1,
            SensorId: sensorEvent.SensorId,
            AreaId: sensorEvent.AreaId,
            EventTime: sensorEvent.Timestamp,
            DateIssued: sensorEvent.Timestamp,
            Description: $"Fall detected by sensor {sensorEvent.SensorId} in area {sensorEvent.AreaId}",
            Evidence: sensorEvent.Values));
    }
}

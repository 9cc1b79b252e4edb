using Kommune.Rules.Model;

namespace Kommune.Rules.Api;

/// <summary>What a rule says about an alert; the engine adds its id, rule, sensor, area and times.</summary>
/// <param name="Category">FIWARE category, for example <c>health</c>.</param>
/// <param name="SubCategory">FIWARE subCategory where one fits, for example <c>fallenPatient</c> or <c>trafficJam</c>; a value of our own where none does (docs/alerts.md).</param>
/// <param name="Severity">How serious it is.</param>
/// <param name="Description">A one-line text for people.</param>
public sealed record AlertDraft(string Category, string SubCategory, AlertSeverity Severity, string Description)
{
    /// <summary>Escalation level, from 1.</summary>
    public int Level { get; init; } = 1;

    /// <summary>Who should act on it now (for example the escalation level's team); empty when the consumer routes by rule and area.</summary>
    public IReadOnlyList<string> Recipients { get; init; } = [];

    /// <summary>The values that support it.</summary>
    public IReadOnlyDictionary<string, SensorValue> Evidence { get; init; } = new Dictionary<string, SensorValue>();
}

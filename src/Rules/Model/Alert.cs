namespace Kommune.Rules.Model;

/// <summary>How serious an alert is; the values of FIWARE's Alert.severity.</summary>
public enum AlertSeverity
{
    /// <summary>For information only.</summary>
    Informational,

    /// <summary>Low.</summary>
    Low,

    /// <summary>Medium.</summary>
    Medium,

    /// <summary>High.</summary>
    High,

    /// <summary>Critical: a life may be at risk.</summary>
    Critical,
}

/// <summary>Where an alert is in its lifecycle. Each change is one record on the alerts topic.</summary>
public enum AlertStatus
{
    /// <summary>Newly raised.</summary>
    Raised,

    /// <summary>Moved to a higher level because nobody acknowledged it in time.</summary>
    Escalated,

    /// <summary>Someone took responsibility.</summary>
    Acknowledged,

    /// <summary>Closed.</summary>
    Resolved,
}

/// <summary>
/// One state change of an alert. Field names follow FIWARE's Alert entity where they overlap (category,
/// subCategory, severity, dateIssued, description).
/// </summary>
/// <param name="AlertId">Stable for one incident: every state change of it carries the same id.</param>
/// <param name="Rule">The rule that raised it.</param>
/// <param name="Category">FIWARE category, for example <c>health</c>, <c>traffic</c>, <c>environment</c>.</param>
/// <param name="SubCategory">FIWARE subCategory where one fits, for example <c>fallenPatient</c> or <c>trafficJam</c>; a value of our own where none does (docs/alerts.md).</param>
/// <param name="Severity">How serious it is.</param>
/// <param name="Status">Its lifecycle state after this change.</param>
/// <param name="Level">Escalation level, starting at 1.</param>
/// <param name="SensorId">The sensor it concerns, or null for an area alert.</param>
/// <param name="AreaId">The area it concerns.</param>
/// <param name="EventTime">Event time of the input that caused this change.</param>
/// <param name="DateIssued">When this change was issued (derived from event time, so reprocessing is repeatable).</param>
/// <param name="Description">A one-line text for people.</param>
/// <param name="Evidence">The values that triggered it.</param>
public sealed record Alert(
    string AlertId,
    string Rule,
    string Category,
    string SubCategory,
    AlertSeverity Severity,
    AlertStatus Status,
    int Level,
    string? SensorId,
    string AreaId,
    DateTimeOffset EventTime,
    DateTimeOffset DateIssued,
    string Description,
    IReadOnlyDictionary<string, SensorValue> Evidence)
{
    /// <summary>Who should act on it now, for example the escalation level's team; empty when consumers route by rule and area.</summary>
    public IReadOnlyList<string> Recipients { get; init; } = [];

    /// <summary>
    /// The number of this state change within the alert: 1 for the raise, then one more per record. With
    /// <see cref="AlertId"/> it names the change, so a record written again after a crash is recognised as the same.
    /// </summary>
    public int Sequence { get; init; } = 1;
}

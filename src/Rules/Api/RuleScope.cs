namespace Kommune.Rules.Api;

/// <summary>What one instance of a rule's state belongs to.</summary>
public enum RuleScope
{
    /// <summary>State and timers per sensor; the rule sees that sensor's events in order.</summary>
    Sensor,

    /// <summary>State and timers per area; the rule sees every accepted event of the area and the facts its sensors send.</summary>
    Area,
}

namespace Kommune.Rules.Model;

/// <summary>What an operations centre asks of an alert.</summary>
public enum AlertAction
{
    /// <summary>Someone takes responsibility: escalation stops, the alert stays open.</summary>
    Ack,

    /// <summary>The incident is over: the alert is closed.</summary>
    Resolve,
}

/// <summary>A command from an operations centre about one alert (a record on the acks topic, key = alertId).</summary>
/// <param name="AlertId">The alert it is about.</param>
/// <param name="Action">Acknowledge or resolve.</param>
/// <param name="By">Who sent it (a person or a role).</param>
/// <param name="Timestamp">When it was sent.</param>
public sealed record AlertCommand(string AlertId, AlertAction Action, string By, DateTimeOffset Timestamp);

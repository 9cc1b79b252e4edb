namespace Kommune.Rules.Api;

/// <summary>Which clock a timer follows.</summary>
public enum TimeDomain
{
    /// <summary>Fires when the engine's watermark passes the time: deterministic on replay.</summary>
    EventTime,

    /// <summary>Fires when the wall clock passes the time, even if no events arrive (escalation deadlines).</summary>
    ProcessingTime,
}

/// <summary>A timer that fired. A rule has at most one timer per name; setting a name again moves it.</summary>
/// <param name="Name">The name the rule gave it.</param>
/// <param name="Time">When it was due.</param>
/// <param name="Domain">The clock it followed.</param>
public sealed record RuleTimer(string Name, DateTimeOffset Time, TimeDomain Domain);

namespace Kommune.Rules.Testing;

/// <summary>A rule threw; the kit, like the engine, went on with the other rules.</summary>
/// <param name="RuleName">The binding that threw.</param>
/// <param name="Handler">OnEvent, OnTimer, OnFact or Accepts.</param>
/// <param name="Exception">What it threw.</param>
public sealed record RuleFailure(string RuleName, string Handler, Exception Exception)
{
    /// <summary>
    /// The reason the engine gives the dead letter of the event the rule failed on, such as
    /// <c>rule 'night-noise' threw SensorValueException in OnEvent: value 'db' of sensor noise-7 is text 'loud', not a number</c>.
    /// </summary>
    public string Reason => $"rule '{RuleName}' threw {Exception.GetType().Name} in {Handler}: {Exception.Message.ReplaceLineEndings(" ")}";
}

/// <summary>A problem a rule reported with <see cref="Kommune.Rules.Api.IRuleContext.ReportProblem"/> (or the runtime for it, such as <c>timer-limit</c>).</summary>
/// <param name="RuleName">The binding.</param>
/// <param name="Key">The sensor or area.</param>
/// <param name="Kind">The problem's kind, such as <c>unusable-event</c>.</param>
/// <param name="Message">What was wrong.</param>
public sealed record RuleProblem(string RuleName, string Key, string Kind, string Message);

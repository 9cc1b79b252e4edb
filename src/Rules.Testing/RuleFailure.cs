namespace Kommune.Rules.Testing;

/// <summary>A rule threw; the kit, like the engine, went on with the other rules.</summary>
/// <param name="RuleName">The binding that threw.</param>
/// <param name="Handler">OnEvent, OnTimer, OnFact or Accepts.</param>
/// <param name="Exception">What it threw.</param>
public sealed record RuleFailure(string RuleName, string Handler, Exception Exception);

using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Tests.Support;

/// <summary>Rule sets the engine tests use.</summary>
internal static class TestRules
{
    /// <summary>
    /// One critical alert per fall event (the simple <see cref="FallAlertRule"/>) bound as <c>fall-detection</c>, so
    /// that <see cref="Events.AlertId"/> names each fall's alert: for tests that count events through their alerts.
    /// </summary>
    public static RuleBinding EveryFall => new("fall-detection", new FallAlertRule());

    /// <summary>Only <see cref="EveryFall"/>.</summary>
    public static RuleSet EveryFallOnly => new([EveryFall]);

    /// <summary>
    /// The escalating <see cref="FallEscalationRule"/> alone, bound as <c>fall</c> (alert ids <c>fall:&lt;sensor&gt;:&lt;ms&gt;</c>),
    /// with its parameters as rules-file JSON.
    /// </summary>
    public static RuleSet FallEscalation(string parametersJson) =>
        new([new RuleBinding("fall", new FallEscalationRule(RuleParameters.FromJson(parametersJson)))]);
}

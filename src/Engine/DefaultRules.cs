using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;

namespace Kommune.Engine;

/// <summary>The rules the engine runs when no rules file is given.</summary>
public static class DefaultRules
{
    /// <summary>The built-in fall rule, bound as <c>fall-detection</c> to every area.</summary>
    public static RuleSet Create() => new([new RuleBinding(FallAlertRule.RuleName, new FallAlertRule())]);
}

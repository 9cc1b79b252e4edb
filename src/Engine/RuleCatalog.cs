using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;

namespace Kommune.Engine;

/// <summary>The rules the engine runs: a factory per rule, called once per sensor actor so each sensor owns its state.</summary>
public sealed class RuleCatalog
{
    private readonly IReadOnlyList<Func<IRule>> _factories;

    /// <summary>A catalog of the given rule factories.</summary>
    public RuleCatalog(IEnumerable<Func<IRule>> factories)
    {
        ArgumentNullException.ThrowIfNull(factories);
        _factories = [.. factories];
    }

    /// <summary>The built-in rules.</summary>
    public static RuleCatalog BuiltIn { get; } = new([() => new FallAlertRule()]);

    /// <summary>New instances of every rule, for one sensor.</summary>
    public IReadOnlyList<IRule> CreateRules() => [.. _factories.Select(f => f())];
}

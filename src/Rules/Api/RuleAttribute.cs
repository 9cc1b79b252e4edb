namespace Kommune.Rules.Api;

/// <summary>Names a rule type so a rules file can bind it: <c>[Rule("cold-room")]</c>.</summary>
/// <param name="name">The name a rules file uses in its <c>rule</c> field.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RuleAttribute(string name) : Attribute
{
    /// <summary>The name a rules file uses in its <c>rule</c> field.</summary>
    public string Name { get; } = name;
}

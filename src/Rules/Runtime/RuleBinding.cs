using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>
/// One rule bound under a name to sensor types and areas. The fingerprint identifies the rule's code and
/// parameters: a reload keeps a binding's state only when its name and fingerprint are unchanged.
/// </summary>
public sealed class RuleBinding
{
    private readonly HashSet<string>? _sensorTypes;
    private readonly HashSet<string>? _areas;

    /// <summary>Binds <paramref name="rule"/>.</summary>
    /// <param name="name">Unique within a rule set; alerts and state carry it.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="sensorTypes">Sensor types to run for; null or empty for the rule's own (<see cref="Rule.SensorTypes"/>).</param>
    /// <param name="areas">Areas to run for; null or empty for all.</param>
    /// <param name="fingerprint">Identifies code and parameters; the rule's type name when null.</param>
    public RuleBinding(string name, Rule rule, IEnumerable<string>? sensorTypes = null, IEnumerable<string>? areas = null, string? fingerprint = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(rule);
        Name = name;
        Rule = rule;
        var types = sensorTypes?.ToHashSet(StringComparer.Ordinal);
        _sensorTypes = types is { Count: > 0 } ? types
            : rule.SensorTypes.Count > 0 ? rule.SensorTypes.ToHashSet(StringComparer.Ordinal)
            : null;
        var areaSet = areas?.ToHashSet(StringComparer.Ordinal);
        _areas = areaSet is { Count: > 0 } ? areaSet : null;
        Fingerprint = fingerprint ?? rule.GetType().AssemblyQualifiedName ?? rule.GetType().Name;
    }

    /// <summary>The binding's name.</summary>
    public string Name { get; }

    /// <summary>The rule.</summary>
    public Rule Rule { get; }

    /// <summary>The rule's scope.</summary>
    public RuleScope Scope => Rule.Scope;

    /// <summary>Identifies the rule's code and parameters.</summary>
    public string Fingerprint { get; }

    /// <summary>The sensor types it runs for; empty for any.</summary>
    public IReadOnlyCollection<string> SensorTypes => (IReadOnlyCollection<string>?)_sensorTypes ?? [];

    /// <summary>The areas it runs for; empty for all.</summary>
    public IReadOnlyCollection<string> Areas => (IReadOnlyCollection<string>?)_areas ?? [];

    /// <summary>Whether the binding wants this event (type, area, then the rule's own filter).</summary>
    public bool Matches(SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        return (_sensorTypes is null || _sensorTypes.Contains(sensorEvent.Type))
            && (_areas is null || _areas.Contains(sensorEvent.AreaId))
            && Rule.Accepts(sensorEvent);
    }

    /// <summary>Whether it is bound to this area.</summary>
    public bool CoversArea(string areaId) => _areas is null || _areas.Contains(areaId);

    /// <summary>Whether the binding runs in every area (it names none).</summary>
    public bool CoversEveryArea => _areas is null;
}

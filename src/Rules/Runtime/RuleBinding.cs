using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>
/// One rule bound under a name to sensor types and areas. The fingerprint identifies the rule's code and
/// parameters: a binding whose name and fingerprint are unchanged is the same binding. A reload carries the state of
/// a changed one when its <see cref="RuleId"/>, scope and <see cref="StateVersion"/> are the same (see
/// <see cref="BindingChange"/>).
/// </summary>
internal sealed class RuleBinding
{
    private readonly HashSet<string>? _sensorTypes;
    private readonly HashSet<string>? _areas;

    /// <summary>Binds <paramref name="rule"/>.</summary>
    /// <param name="name">Unique within a rule set; alerts and state carry it.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="sensorTypes">Sensor types to run for; null or empty for the rule's own (<see cref="Rule.SensorTypes"/>).</param>
    /// <param name="areas">Areas to run for; null or empty for all.</param>
    /// <param name="fingerprint">Identifies code and parameters; the rule's type name when null.</param>
    /// <param name="parametersFingerprint">Identifies the parameters alone (a hash of their canonical JSON), so a reload
    /// tells new parameters from a rebuilt plugin; null when unknown: then another object of the same rule type counts as
    /// new parameters, and one of another type (a new build) as the same parameters.</param>
    public RuleBinding(
        string name,
        Rule rule,
        IEnumerable<string>? sensorTypes = null,
        IEnumerable<string>? areas = null,
        string? fingerprint = null,
        string? parametersFingerprint = null)
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
        ParametersFingerprint = parametersFingerprint;
        RuleId = IdOf(rule.GetType());
        StateVersion = rule.StateVersion;
    }

    /// <summary>The binding's name.</summary>
    public string Name { get; }

    /// <summary>The rule.</summary>
    public Rule Rule { get; }

    /// <summary>The rule's scope.</summary>
    public RuleScope Scope => Rule.Scope;

    /// <summary>Identifies the rule's code and parameters.</summary>
    public string Fingerprint { get; }

    /// <summary>Identifies the parameters alone; null when unknown.</summary>
    public string? ParametersFingerprint { get; }

    /// <summary>
    /// Which rule it binds: the rule type's <see cref="RuleAttribute"/> name (<c>cold-room</c>), or its full type name
    /// when it has none. Two builds of a rule (a rebuilt plugin) have the same id.
    /// </summary>
    public string RuleId { get; }

    /// <summary>The rule's <see cref="Rule.StateVersion"/>, read when bound.</summary>
    public int StateVersion { get; }

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

    private static string IdOf(Type type) =>
        type.GetCustomAttributes(typeof(RuleAttribute), inherit: false) is [RuleAttribute attribute, ..] ? attribute.Name : type.FullName ?? type.Name;
}

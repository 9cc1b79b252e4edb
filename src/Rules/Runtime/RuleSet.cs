using Kommune.Rules.Api;

namespace Kommune.Rules.Runtime;

/// <summary>An immutable set of rule bindings, one version of the rules file. Replaced whole on reload.</summary>
internal sealed class RuleSet
{
    /// <summary>A rule set of these bindings, whose names must differ.</summary>
    /// <exception cref="ArgumentException">Two bindings share a name.</exception>
    public RuleSet(IEnumerable<RuleBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        Bindings = [.. bindings];
        var duplicate = Bindings.GroupBy(b => b.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two rules are named '{duplicate.Key}'.", nameof(bindings));
        }

        _sensor = [.. Bindings.Where(b => b.Scope == RuleScope.Sensor)];
        _area = [.. Bindings.Where(b => b.Scope == RuleScope.Area)];
        _sensorEverywhere = _sensor.All(b => b.CoversEveryArea);
        _areaEverywhere = _area.All(b => b.CoversEveryArea);
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(RuleScope Scope, string AreaId), RuleBinding[]> _byArea = new();
    private readonly RuleBinding[] _sensor;
    private readonly RuleBinding[] _area;
    private readonly bool _sensorEverywhere;
    private readonly bool _areaEverywhere;

    /// <summary>A set with no rules.</summary>
    public static RuleSet Empty { get; } = new([]);

    /// <summary>Every binding, in file order.</summary>
    public IReadOnlyList<RuleBinding> Bindings { get; }

    /// <summary>The sensor-scoped bindings.</summary>
    public IReadOnlyList<RuleBinding> SensorBindings => _sensor;

    /// <summary>The area-scoped bindings.</summary>
    public IReadOnlyList<RuleBinding> AreaBindings => _area;

    /// <summary>The bindings of one scope.</summary>
    public IReadOnlyList<RuleBinding> For(RuleScope scope) => scope == RuleScope.Sensor ? SensorBindings : AreaBindings;

    /// <summary>
    /// The bindings of one scope that cover <paramref name="areaId"/>: one array per area shared by all its keys (a
    /// million sensors need not each hold a copy), and the scope's own when every binding covers every area. An
    /// array, so a runner's loop over it per event allocates no enumerator; never to be changed by the caller.
    /// </summary>
    internal RuleBinding[] For(RuleScope scope, string areaId)
    {
        if (scope == RuleScope.Sensor ? _sensorEverywhere : _areaEverywhere)
        {
            return scope == RuleScope.Sensor ? _sensor : _area;
        }

        return _byArea.GetOrAdd((scope, areaId), static (key, set) => [.. set.For(key.Scope).Where(b => b.CoversArea(key.AreaId))], this);
    }
}

using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>Which rules an event can concern, by its area and type (the bindings' areas and sensor types say).</summary>
internal static class RuleInterest
{
    /// <summary>Whether an area-scoped rule takes events of this type in this area (they go to the area through the repartition topic).</summary>
    public static bool AreaRulesWant(RuleSet rules, SensorEvent sensorEvent) => AnyCovers(rules.AreaBindings, sensorEvent);

    /// <summary>Whether a sensor-scoped rule may take events of this type in this area (they go to the sensor's actor).</summary>
    public static bool SensorRulesMayWant(RuleSet rules, SensorEvent sensorEvent) => AnyCovers(rules.SensorBindings, sensorEvent);

    /// <summary>Whether any rule, of either scope, takes the event: one no rule takes needs no actor at all.</summary>
    public static bool AnyRuleWants(RuleSet rules, SensorEvent sensorEvent) => AnyRuleWants(rules, sensorEvent.AreaId, sensorEvent.Type);

    /// <summary>Whether any rule, of either scope, takes events of <paramref name="type"/> in <paramref name="areaId"/>.</summary>
    public static bool AnyRuleWants(RuleSet rules, string areaId, string type) =>
        AnyCovers(rules.AreaBindings, areaId, type) || AnyCovers(rules.SensorBindings, areaId, type);

    private static bool AnyCovers(IReadOnlyList<RuleBinding> bindings, SensorEvent sensorEvent) => AnyCovers(bindings, sensorEvent.AreaId, sensorEvent.Type);

    private static bool AnyCovers(IReadOnlyList<RuleBinding> bindings, string areaId, string type)
    {
        for (var i = 0; i < bindings.Count; i++)
        {
            var binding = bindings[i];
            if (binding.CoversArea(areaId) && (binding.SensorTypes.Count == 0 || binding.SensorTypes.Contains(type)))
            {
                return true;
            }
        }

        return false;
    }
}

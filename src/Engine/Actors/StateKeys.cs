using System.Text;
using Kommune.Rules.Api;

namespace Kommune.Engine.Actors;

/// <summary>Keys and partitions of the state topic.</summary>
internal static class StateKeys
{
    /// <summary><c>sensor:&lt;id&gt;</c> or <c>area:&lt;id&gt;</c>.</summary>
    public static string Of(RuleScope scope, string key) => (scope == RuleScope.Area ? "area:" : "sensor:") + key;

    /// <summary>
    /// An area's state partition: a stable hash (FNV-1a of the UTF-8 id), the same on every node and run. (A sensor's
    /// is the partition of its input events.)
    /// </summary>
    public static int AreaPartition(string areaId, int partitions)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(areaId))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)partitions);
    }
}

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
        // Called for most events (each area event's repartition partition): the UTF-8 bytes on the stack, not in an array.
        const int OnStack = 256;
        var most = Encoding.UTF8.GetMaxByteCount(areaId.Length);
        Span<byte> utf8 = most <= OnStack ? stackalloc byte[OnStack] : new byte[most];
        var hash = 2166136261u;
        foreach (var b in utf8[..Encoding.UTF8.GetBytes(areaId, utf8)])
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)partitions);
    }
}

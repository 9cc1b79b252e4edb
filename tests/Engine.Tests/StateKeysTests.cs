using Kommune.Engine.Actors;

namespace Kommune.Engine.Tests;

/// <summary>
/// An area's partition (of the state and repartition topics) is FNV-1a of its id's UTF-8 bytes, the same on every node,
/// build and run: nodes of one group, and a state topic written before an upgrade, must agree on it. The expected values
/// were computed outside the engine (Python: FNV-1a 32-bit over <c>id.encode("utf-8")</c>, modulo the partitions).
/// </summary>
public sealed class StateKeysTests
{
    [Theory]
    [InlineData("area-1", 12, 2)]
    [InlineData("area-1", 256, 14)]
    [InlineData("oslo-sentrum", 12, 5)]
    [InlineData("oslo-sentrum", 256, 241)]
    [InlineData("Tromsø", 12, 7)] // two bytes for the ø
    [InlineData("Tromsø", 256, 203)]
    [InlineData("", 7, 2)]
    public void An_areas_partition_is_fnv1a_of_its_utf8_id(string areaId, int partitions, int expected) =>
        Assert.Equal(expected, StateKeys.AreaPartition(areaId, partitions));

    [Fact]
    public void An_area_id_too_long_for_the_stack_hashes_the_same_way()
    {
        var id = new string('x', 300); // more bytes than the hash keeps on the stack

        Assert.Equal(9, StateKeys.AreaPartition(id, 12));
        Assert.Equal(245, StateKeys.AreaPartition(id, 256));
    }
}

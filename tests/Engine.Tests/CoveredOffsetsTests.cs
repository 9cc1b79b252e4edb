using Kommune.Engine.Actors;

namespace Kommune.Engine.Tests;

/// <summary>The offsets a key's state covers: one partition in fields, others in a map, in the order first noted.</summary>
public sealed class CoveredOffsetsTests
{
    [Fact]
    public void Offsets_of_one_partition_and_of_others_are_kept_and_given_back_in_the_order_first_noted()
    {
        var covers = default(CoveredOffsets);
        Assert.Equal(0, covers.Count);
        Assert.False(covers.TryGet(0, out _));

        covers.Set(7, 100);
        covers.Set(7, 101); // the same partition: the newer offset
        covers.Set(2, 50);
        covers.Set(0, 9);
        covers.Set(2, 51);

        Assert.Equal(3, covers.Count);
        Assert.True(covers.TryGet(7, out var seven));
        Assert.Equal(101, seven);
        Assert.True(covers.TryGet(0, out var zero));
        Assert.Equal(9, zero);
        Assert.False(covers.TryGet(3, out _));
        Assert.Equal([new(7, 101), new(2, 51), new(0, 9)], covers.ToDictionary().ToList<KeyValuePair<int, long>>());
    }

    [Fact]
    public void Offsets_read_back_from_a_state_record_keep_its_order()
    {
        var record = new Dictionary<int, long> { [3] = 12, [0] = 4 };

        var covers = CoveredOffsets.From(record);

        Assert.Equal(record.ToList(), covers.ToDictionary().ToList());
        Assert.Equal(0, CoveredOffsets.From(new Dictionary<int, long>()).Count);
    }
}

using System.Text;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Api;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Tests;

/// <summary>What a state read back from the state topic is to the engine: a partition's time at its hand-over, or a key's rule state.</summary>
public sealed class RestoredStateDecoderTests
{
    private static readonly DateTimeOffset Time = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_partition_time_record_goes_to_the_partition_times_with_its_next_offset_and_is_never_a_keys_state()
    {
        var state = new RestoredState(PartitionTimeRecord.Key(3), PartitionTimeRecord.Encode(3, Time), 1, new Dictionary<int, long> { [3] = 42 }, 0);
        var times = new Dictionary<int, PartitionTime>();

        var taken = RestoredStateDecoder.Take(state, (_, _, _) => throw new InvalidOperationException("not a key's state"), (p, t) => times.Add(p, t));

        Assert.False(taken);
        Assert.Equal(new PartitionTime(Time, 42), Assert.Single(times).Value);
        Assert.Equal(3, times.Keys.Single());
    }

    [Fact]
    public void A_partition_time_record_without_its_offset_has_next_unknown()
    {
        var state = new RestoredState(PartitionTimeRecord.Key(0), PartitionTimeRecord.Encode(0, Time), 0, new Dictionary<int, long>(), 0);
        PartitionTime? time = null;

        RestoredStateDecoder.Take(state, (_, _, _) => true, (_, t) => time = t);

        Assert.Equal(-1, time!.Value.Next);
    }

    [Fact]
    public void A_sensors_state_is_handed_to_restore_with_its_header_only_and_restore_says_whether_it_was_taken()
    {
        var snapshot = new KeyedStateSnapshot(RuleScope.Sensor, "s-1", "sagene", Time, Time, []);
        var state = new RestoredState("sensor:s-1", snapshot.ToJson(), 0, new Dictionary<int, long> { [0] = 7 }, 0);
        KeyedStateHeader? handed = null;
        KeyedStateSnapshot? whole = snapshot;

        Assert.True(RestoredStateDecoder.Take(state, (h, s, _) =>
        {
            (handed, whole) = (h, s);
            return true;
        }, (_, _) => throw new InvalidOperationException("not a partition time")));
        Assert.False(RestoredStateDecoder.Take(state, (_, _, _) => false, (_, _) => { }));

        Assert.Equal("s-1", handed!.Key);
        Assert.Equal(RuleScope.Sensor, handed.Scope);
        Assert.Equal("sagene", handed.AreaId);
        Assert.Null(whole); // its rule values are read when the sensor is restored
    }

    [Fact]
    public void A_state_whose_header_cannot_be_read_on_its_own_is_handed_to_restore_read_whole()
    {
        // An area's state written by ToJson with its properties in another order than the persisted state's: a whole
        // read takes it, and the header of what it read goes with it.
        var json = """{"rules":[],"lastEventTime":"2025-03-01T12:00:00+00:00","watermark":"2025-03-01T12:00:00+00:00","areaId":"sagene","key":"sagene","scope":1}""";
        var state = new RestoredState("area:sagene", Encoding.UTF8.GetBytes(json), 0, new Dictionary<int, long>(), 0);
        KeyedStateSnapshot? whole = null;
        KeyedStateHeader? header = null;

        Assert.True(RestoredStateDecoder.Take(state, (h, s, _) => (header = h) is not null && (whole = s) is not null, (_, _) => { }));

        Assert.Equal(RuleScope.Area, whole!.Scope);
        Assert.Equal((RuleScope.Area, "sagene"), (header!.Scope, header.Key));
    }

    [Theory]
    [InlineData("sensor:s-1", "{not json")]
    [InlineData("partition-time:2", "{\"watermark\":\"2025-03-01T12:00:00Z\"}")]
    public void An_unreadable_state_is_an_InvalidDataException_with_the_reason(string key, string value)
    {
        var state = new RestoredState(key, Encoding.UTF8.GetBytes(value), 0, new Dictionary<int, long>(), 0);

        var e = Assert.Throws<InvalidDataException>(() => RestoredStateDecoder.Take(state, (_, _, _) => true, (_, _) => { }));

        Assert.False(string.IsNullOrEmpty(e.Message));
    }
}

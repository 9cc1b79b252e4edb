using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

public sealed class ConsumedRecordTests
{
    private static ConsumedEvent Consumed(out PartitionOffsetTracker tracker)
    {
        tracker = new PartitionOffsetTracker("kommune.sensor-events", 0, 7);
        var sensorEvent = new SensorEvent("fall-000001", "area-001", SensorTypes.Fall, DateTimeOffset.FromUnixTimeMilliseconds(0),
            new Dictionary<string, SensorValue> { ["confidence"] = 0.9 });
        return new ConsumedEvent(sensorEvent, tracker, 7, "fall-000001"u8.ToArray(), "{}"u8.ToArray());
    }

    [Fact]
    public void A_released_event_lets_go_of_its_payload_and_keeps_what_its_completion_needs()
    {
        var consumed = Consumed(out _);
        Assert.Equal(SensorTypes.Fall, consumed.Event.Type);
        Assert.NotNull(consumed.Source.Value);

        consumed.Release(); // processed: only its state may still wait to be written

        Assert.Throws<InvalidOperationException>(() => consumed.Event);
        Assert.Equal(("kommune.sensor-events", 0, 7L), (consumed.Source.Topic, consumed.Source.Partition, consumed.Source.Offset));
        Assert.Null(consumed.Source.Key);
        Assert.Null(consumed.Source.Value);
        Assert.Equal(SensorTypes.Fall, consumed.Label);
    }

    [Fact]
    public void A_released_event_still_completes_its_offset()
    {
        var consumed = Consumed(out var tracker);
        tracker.Start(7);
        consumed.Release();
        consumed.Complete();
        Assert.Equal(8L, tracker.Committable);
    }
}

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
    public void A_released_repartition_record_keeps_its_label_its_events_type_or_internal()
    {
        var tracker = new PartitionOffsetTracker("kommune.repartition", 0, 0);
        var sensorEvent = new SensorEvent("fall-000001", "area-001", SensorTypes.Fall, DateTimeOffset.FromUnixTimeMilliseconds(0),
            new Dictionary<string, SensorValue>());
        var carried = new ConsumedRepartitionRecord(new RepartitionRecord(RepartitionKind.Event, Event: sensorEvent), tracker, 0, null, null);
        var watermark = new ConsumedRepartitionRecord(new RepartitionRecord(RepartitionKind.Watermark), tracker, 1, null, null);

        carried.Release();
        watermark.Release();

        Assert.Throws<InvalidOperationException>(() => carried.Record);
        Assert.Equal(SensorTypes.Fall, carried.Label);
        Assert.Equal("internal", watermark.Label);
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

    private static ConsumedEvent Counted(out PartitionOffsetTracker tracker, List<string> completed)
    {
        tracker = new PartitionOffsetTracker("kommune.sensor-events", 0, 7, onRecordCompleted: () => completed.Add("completed"));
        tracker.Start(7);
        var sensorEvent = new SensorEvent("fall-000001", "area-001", SensorTypes.Fall, DateTimeOffset.FromUnixTimeMilliseconds(0),
            new Dictionary<string, SensorValue> { ["confidence"] = 0.9 });
        return new ConsumedEvent(sensorEvent, tracker, 7, null, null);
    }

    [Fact]
    public void A_record_that_waits_for_state_completes_when_its_last_state_record_is_done_not_before()
    {
        var told = new List<string>();
        var consumed = Counted(out var tracker, told);
        var first = consumed.AwaitState();
        var second = consumed.AwaitState();

        consumed.Complete(label => told.Add("processed " + label));
        Assert.Empty(told);
        Assert.Equal(7L, tracker.Committable);

        first.Done();
        Assert.Empty(told);
        Assert.Equal(7L, tracker.Committable);

        second.Done();
        Assert.Equal(["processed " + SensorTypes.Fall, "completed"], told);
        Assert.Equal(8L, tracker.Committable);
    }

    [Fact]
    public void State_written_before_the_record_is_done_lets_it_complete_at_once()
    {
        var told = new List<string>();
        var consumed = Counted(out var tracker, told);
        consumed.AwaitState().Done();

        consumed.Complete(label => told.Add("processed " + label));

        Assert.Equal(["processed " + SensorTypes.Fall, "completed"], told);
        Assert.Equal(8L, tracker.Committable);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_state_wait_given_up_abandons_the_record_whichever_finishes_first(bool recordDoneFirst)
    {
        var told = new List<string>();
        var consumed = Counted(out var tracker, told);
        var given = consumed.AwaitState();
        var written = consumed.AwaitState();

        if (recordDoneFirst)
        {
            consumed.Complete(label => told.Add("processed " + label));
        }

        given.Abandon();
        written.Done();
        if (!recordDoneFirst)
        {
            Assert.Empty(told);
            consumed.Complete(label => told.Add("processed " + label));
        }

        Assert.Equal(["completed"], told); // counted done once, not processed, offset not marked
        Assert.Equal(7L, tracker.Committable);
        Assert.Equal(1, tracker.AwaitingCommit);
    }

    [Fact]
    public void An_abandoned_record_ignores_its_state_waits()
    {
        var told = new List<string>();
        var consumed = Counted(out var tracker, told);
        var wait = consumed.AwaitState();

        consumed.Abandon();
        wait.Abandon();
        consumed.Complete(label => told.Add("processed " + label));

        Assert.Equal(["completed"], told);
        Assert.Equal(7L, tracker.Committable);
    }
}

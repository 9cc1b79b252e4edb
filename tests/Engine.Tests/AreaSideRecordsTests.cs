using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Actors;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// What the router sends to the repartition topic for a dispatch batch (<see cref="AreaSideRecords"/>): one record per
/// partition with that partition's events in the batch's order, each event done only once the broker has its record.
/// Pure logic: a sink that holds what it is sent, no actors, no broker.
/// </summary>
public sealed class AreaSideRecordsTests
{
    private readonly HoldingSink _sink = new();
    private readonly EngineCounters _counters = new();
    private readonly EngineContext _engine;
    private long _completed;

    public AreaSideRecordsTests()
    {
        var rules = new RuleSet([new RuleBinding("area-traffic", new AreaTrafficRule())]);
        _engine = new EngineContext(_sink, _counters, new EngineOptions { BootstrapServers = "unused:9092" }, TimeProvider.System, rules, NullLogger.Instance)
        {
            TaskPartitions = 2,
        };
    }

    [Fact]
    public void A_batch_goes_out_as_one_record_per_partition_in_batch_order_and_events_no_area_rule_wants_stay_behind()
    {
        // Two areas of one partition (of two) and one of the other.
        var areas = Enumerable.Range(1, 20).Select(i => $"a-{i}").ToList();
        var (a, b) = (areas[0], areas.First(x => x != areas[0] && _engine.AreaTask(x) == _engine.AreaTask(areas[0])));
        var c = areas.First(x => _engine.AreaTask(x) != _engine.AreaTask(a));
        var batch = new[]
        {
            Routed(Events.Traffic("s-1", a, 0), 10),
            Routed(Events.Traffic("s-2", c, 0), 11),
            Routed(Events.Traffic("s-3", b, 0), 12),
            Routed(Events.Fall("s-4", a, 0), 13), // a type the area rule does not take
            Routed(Events.Traffic("s-5", b, 0), 14, withBytes: false), // made in this process: its area encodes it
            Routed(Events.Traffic("s-1", a, 1), 15),
        };

        new AreaSideRecords(_engine).Send(batch);

        Assert.Equal(2, _sink.Records.Count);
        var (sharedPartition, shared, _) = _sink.Records[0];
        Assert.Equal(_engine.AreaTask(a), sharedPartition);
        var several = Decode(shared);
        Assert.Equal(RepartitionKind.Events, several.Kind);
        var parts = several.Parts!;
        Assert.Equal(["e:0:10:-1", "e:0:12:-1", "e:0:15:-1"], parts.Select(p => p.Origin));
        Assert.Equal([a, b, a], parts.Select(p => p.Event!.AreaId));
        Assert.Equal(batch[2].Consumed.Source.Value, parts[1].ContractJson);

        var (onePartition, one, _) = _sink.Records[1];
        Assert.Equal(_engine.AreaTask(c), onePartition);
        var single = Decode(one); // a single event as its own record, keyed by its area, as an area sends it
        Assert.Equal(RepartitionKind.Event, single.Kind);
        Assert.Equal("e:0:11:-1", single.Origin);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(c), one.Key);

        Assert.Equal([true, true, true, false, false, true], batch.Select(e => e.SentToAreaSide));
    }

    [Fact]
    public void Each_event_is_done_only_once_the_broker_has_its_record_and_the_next_batch_starts_afresh()
    {
        var first = new[] { Routed(Events.Traffic("s-1", "a-1", 0), 0), Routed(Events.Traffic("s-3", "a-1", 0), 1) };
        var sender = new AreaSideRecords(_engine);
        sender.Send(first);
        foreach (var routed in first)
        {
            routed.Completion.Done(); // the routing's own part: the record's acknowledgement still holds each
        }

        Assert.Equal(0, Interlocked.Read(ref _completed));
        _sink.Records[0].Acknowledge();
        Assert.Equal(2, Interlocked.Read(ref _completed));

        var second = new[] { Routed(Events.Traffic("s-2", "a-2", 1), 2) };
        sender.Send(second);
        Assert.Equal(2, _sink.Records.Count);
        Assert.Equal("e:0:2:-1", Decode(_sink.Records[1].Record).Origin);
    }

    [Fact]
    public void Large_events_go_out_in_records_of_at_most_the_cap_and_one_larger_than_it_alone()
    {
        SensorEvent Large(string sensorId, int second, int size) => Events.Traffic(sensorId, "a-1", second) with
        {
            Values = new Dictionary<string, SensorValue> { ["speed"] = 40.0, ["note"] = SensorValue.FromText(new string('x', size)) },
        };
        var batch = new[]
        {
            Routed(Large("s-1", 0, 100_000), 0),
            Routed(Large("s-2", 0, 100_000), 1),
            Routed(Large("s-3", 0, 100_000), 2), // would make the first record over the cap: starts the next
            Routed(Large("s-4", 0, 300_000), 3), // over the cap on its own
            Routed(Events.Traffic("s-5", "a-1", 0), 4),
        };

        new AreaSideRecords(_engine).Send(batch);

        Assert.Equal([["e:0:0:-1", "e:0:1:-1"], ["e:0:2:-1"], ["e:0:3:-1"], ["e:0:4:-1"]], _sink.Records.Select(r => Origins(Decode(r.Record))));
        Assert.All(_sink.Records, r => Assert.True(r.Record.Value!.Length <= AreaSideRecords.MaxRecordBytes + 1_000 || Decode(r.Record).Kind == RepartitionKind.Event));
        Assert.All(batch, e => Assert.True(e.SentToAreaSide));
    }

    [Fact]
    public void On_the_area_side_a_record_of_several_areas_completes_after_every_areas_part_and_each_event_is_its_own_dead_letter()
    {
        var message = RepartitionCodec.Events([(SensorEventEncoder.Encode(Events.Traffic("s-1", "a-1", 0)), "e:0:1:-1"), (SensorEventEncoder.Encode(Events.Traffic("s-2", "a-2", 0)), "e:0:2:-1")]);
        var record = Decode(message);
        var tracker = new PartitionOffsetTracker("kommune.repartition", 3, 0, () => Interlocked.Increment(ref _completed));
        tracker.Start(7);
        var consumed = new ConsumedRepartitionRecord(record, tracker, 7, null, message.Value);

        var parent = new EventCompletion(consumed, _counters);
        var parts = record.Parts!.Select(p =>
        {
            parent.Add();
            return new AreaRecord(consumed, DateTimeOffset.MinValue, _counters, new Dictionary<int, long>(), [p], parent);
        }).ToList();
        parent.Done();

        Assert.Equal(["a-1", "a-2"], parts.Select(p => p.AreaId));
        var source = AreaRecord.SourceOf(consumed.Source, parts[1].Parts![0]);
        Assert.Equal(("kommune.repartition", 3, 7L), (source.Topic, source.Partition, source.Offset));
        Assert.Equal(record.Parts![1].ContractJson, source.Value); // the event, not the whole record
        Assert.Equal("a-2"u8.ToArray(), source.Key);

        parts[0].Completion.Done();
        Assert.Equal(0, Interlocked.Read(ref _completed));
        parts[1].Completion.Done();
        Assert.Equal(1, Interlocked.Read(ref _completed));
    }

    private RoutedEvent Routed(SensorEvent e, long offset, bool withBytes = true)
    {
        var tracker = new PartitionOffsetTracker("kommune.sensor-events", 0, 0, () => Interlocked.Increment(ref _completed));
        tracker.Start(offset);
        return new RoutedEvent(new ConsumedEvent(e, tracker, offset, null, withBytes ? SensorEventEncoder.Encode(e) : null), DateTimeOffset.MinValue, _counters);
    }

    private static string[] Origins(RepartitionRecord record) =>
        record.Kind == RepartitionKind.Events ? [.. record.Parts!.Select(p => p.Origin!)] : [record.Origin!];

    private static RepartitionRecord Decode(Confluent.Kafka.Message<byte[]?, byte[]?> message)
    {
        Assert.True(RepartitionCodec.TryDecode(message.Key, message.Value, message.Headers, out var record, out var failure), failure.Text);
        return record!;
    }

    /// <summary>An area rule that takes traffic events and does nothing with them.</summary>
    private sealed class AreaTrafficRule : Rule
    {
        public override RuleScope Scope => RuleScope.Area;

        public override IReadOnlyCollection<string> SensorTypes { get; } = [Kommune.Rules.Model.SensorTypes.Traffic];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
        }
    }

    /// <summary>Holds every record sent to a partition with its acknowledgement, for the test to give.</summary>
    private sealed class HoldingSink : IOutputSink
    {
        public List<(int Partition, Confluent.Kafka.Message<byte[]?, byte[]?> Record, Action Acknowledge)> Records { get; } = [];

        public void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged) => Records.Add((partition, record, onAcknowledged));

        public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged) => onAcknowledged();

        public void Send(Aggregate aggregate, Action onAcknowledged) => onAcknowledged();

        public void Send(StateRecord state, Action onAcknowledged) => onAcknowledged();

        public void Send(DeadLetter deadLetter, Action onAcknowledged) => onAcknowledged();
    }
}

using System.Text.Json;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Actors;
using Kommune.Engine.Tests.ScaleOut;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A watermark record of the repartition topic that closes an area's window is committed, as an event is, only once
/// what the area sent on it is acknowledged: a node killed before then reads it again and closes the window again,
/// and a group whose committed offsets have reached what was written has its outputs out.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class AreaWatermarkCommitTests(ITestOutputHelper output)
{
    private const string Area = "zone";

    [Fact]
    public async Task A_watermark_record_that_closed_a_window_is_committed_only_once_the_windows_aggregate_is_acknowledged()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var areaPartition = StateKeys.AreaPartition(Area, 2);
        var otherPartition = 1 - areaPartition;
        var repartitionGroup = KafkaTestBed.RepartitionGroup(bed.Options.GroupId);
        var repartition = bed.Options.Topics.Repartition;
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rules = new RuleSet([new RuleBinding("seen", new FactPerEventRule()), new RuleBinding("window", new MinuteWindowAreaRule(closed))]);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        // An event on each sensor partition (each must report before the area side has a watermark); their facts are
        // applied and the area's state with them written, so the records are committed.
        ProduceOnEachPartition(bed, "probe", second: 1);
        await KafkaTestBed.WaitUntilAsync(() => bed.Committed(bed.Options.GroupId, bed.Options.Topics.SensorEvents).All(c => c >= 1)); // their facts are written
        var ends = bed.Ends(repartition);
        await KafkaTestBed.WaitUntilAsync(() => bed.Committed(repartitionGroup, repartition)[areaPartition] >= ends[areaPartition]);

        // Now every produce to the aggregates topic fails for a while, with an error the producer retries; and an event
        // on each sensor partition two minutes later, of a type no rule takes (so no record of the area comes before the
        // watermark's), moves the watermark past the first minute's window.
        for (var p = 0; p < 2; p++)
        {
            // 30 refusals: with the client's retry backoff (at most a second) about half a minute, ample for what follows.
            bed.Cluster.PushPartitionRequestErrors(bed.Options.Topics.Aggregates, p, KafkaApi.Produce, Enumerable.Repeat(ErrorCode.NotEnoughReplicas, 30).ToArray());
        }

        ProduceOnEachPartition(bed, "tick", second: 120);
        await closed.Task.WaitAsync(KafkaTestBed.DefaultWait);

        // The other repartition partition holds no area, so its watermark records complete at once. Once its records
        // written up to now are committed, so would the area's partition's be, had its record not waited.
        ends = bed.Ends(repartition);
        await KafkaTestBed.WaitUntilAsync(() => bed.Committed(repartitionGroup, repartition)[otherPartition] >= ends[otherPartition]);
        var waiting = bed.Committed(repartitionGroup, repartition)[areaPartition];
        var outBefore = TopicReader.ReadAll(bed.BootstrapServers, bed.Options.Topics.Aggregates, 2).Count;
        output.WriteLine($"area partition committed {waiting} of {ends[areaPartition]}, other {ends[otherPartition]}; aggregates out: {outBefore}");
        Assert.Equal(0, outBefore); // the broker still refuses them
        Assert.True(waiting < ends[areaPartition], $"committed {waiting} of {ends[areaPartition]} while the window's aggregate waits");

        // Once the broker takes the aggregate, the record completes and is committed.
        await KafkaTestBed.WaitUntilAsync(() => bed.Committed(repartitionGroup, repartition)[areaPartition] >= ends[areaPartition]);
        using var aggregate = JsonDocument.Parse(Assert.Single(TopicReader.ReadAll(bed.BootstrapServers, bed.Options.Topics.Aggregates, 2)).Message.Value);
        Assert.Equal(2, aggregate.RootElement.GetProperty("count").GetInt64());
        await engine.StopAsync();
        Assert.Equal(0, engine.Statistics.RuleFailures);
    }

    private static void ProduceOnEachPartition(KafkaTestBed bed, string type, int second)
    {
        for (var p = 0; p < 2; p++)
        {
            var e = new SensorEvent($"s-{p}", Area, type, Events.T0.AddSeconds(second), new Dictionary<string, SensorValue> { ["level"] = 1.0 });
            bed.Produce(new TopicPartition(bed.Options.Topics.SensorEvents, p), System.Text.Encoding.UTF8.GetBytes(e.SensorId), SensorEventEncoder.Encode(e));
        }

        bed.Flush();
    }

    /// <summary>Tells the area each event as a fact.</summary>
    private sealed class FactPerEventRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["probe"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) => context.SendFact("seen", sensorEvent.Values);
    }

    /// <summary>Counts an area's facts per minute of event time; emits the count when the minute's window closes.</summary>
    private sealed class MinuteWindowAreaRule(TaskCompletionSource closed) : Rule
    {
        public override RuleScope Scope => RuleScope.Area;

        public override IReadOnlyCollection<string> SensorTypes { get; } = ["none"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
        }

        public override void OnFact(IRuleContext context, Fact fact)
        {
            var start = new DateTimeOffset(fact.EventTime.Ticks - (fact.EventTime.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
            var count = context.State<int>($"count:{start.ToUnixTimeMilliseconds()}");
            count.Update(count.Value + 1);
            context.SetEventTimeTimer($"close:{start.ToUnixTimeMilliseconds()}", start.AddMinutes(1));
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer)
        {
            var start = timer.Time.AddMinutes(-1);
            var count = context.State<int>($"count:{start.ToUnixTimeMilliseconds()}");
            context.EmitAggregate("zone.facts", start, timer.Time, count.Value, count.Value);
            count.Clear();
            closed.TrySetResult();
        }
    }
}

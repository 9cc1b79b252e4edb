using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A partition handed over after its last event keeps its event time: the node that takes it, and gets no new event
/// of it, starts from how far event time had come on it (docs/architecture.md, "Scale-out"). Without that, a node holding
/// only such partitions never moves its watermark: its restored keys' event-time timers wait, and the area time of every
/// node waits for its report.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed class PartitionTimeHandOverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_that_takes_partitions_over_after_their_last_event_starts_from_how_far_event_time_had_come_on_them()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var t = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddHours(-3).ToUnixTimeMilliseconds());
        // Partition 0 gets readings up to t + 5 min, partition 1 up to t + 3 min: the engine's watermark is partition 1's.
        var falls = new List<SensorEvent>();
        for (var s = 0; s <= 300; s += 30)
        {
            falls.Add(Produce(bed, 0, new SensorEvent($"wearable-0-{s}", "sagene", SensorTypes.Fall, t.AddSeconds(s), Values)));
            if (s <= 180)
            {
                falls.Add(Produce(bed, 1, new SensorEvent($"wearable-1-{s}", "sagene", SensorTypes.Fall, t.AddSeconds(s), Values)));
            }
        }

        bed.Flush();
        static void Quiet(EngineOptions o) => o.IdlePartitionTimeout = TimeSpan.FromMinutes(10); // no partition goes idle in the test
        var first = await bed.StartEngineAsync(Quiet, TestRules.EveryFallOnly);
        bed.ReadAlertIds([.. falls.Select(Events.AlertId)]);
        await KafkaTestBed.WaitUntilAsync(() => first.Statistics.Watermark > DateTimeOffset.MinValue);
        await first.StopAsync(); // a clean stop hands every partition over
        var handedOver = first.Statistics.Watermark;
        var outOfOrderness = new EngineOptions().OutOfOrderness;
        Assert.Equal(t.AddMinutes(3) - outOfOrderness, handedOver);
        await first.DisposeAsync();

        // Written with the commits while it ran and at the hand-over: one of each partition at least.
        var times = bed.ReadUntil(bed.Options.Topics.State, r => r.Where(IsPartitionTime).Select(t => Encoding.UTF8.GetString(t.Message.Key!)).Distinct().Count() >= 2)
            .Where(IsPartitionTime)
            .Select(r => Encoding.UTF8.GetString(r.Message.Value!))
            .ToList();
        output.WriteLine(string.Join(Environment.NewLine, times));
        Assert.Contains(times, v => v.Contains("\"partition\":0", StringComparison.Ordinal));
        Assert.Contains(times, v => v.Contains("\"partition\":1", StringComparison.Ordinal));

        // The next node gets no event at all, and starts where the first left off.
        await using var second = await bed.StartEngineAsync(Quiet, TestRules.EveryFallOnly);
        await second.Assigned;
        await KafkaTestBed.WaitUntilAsync(() => second.Statistics.Watermark >= handedOver);
        Assert.Equal(handedOver, second.Statistics.Watermark);
        Assert.Equal(0, second.Statistics.Consumed);

        // Its partitions' next events are judged as they would have been on the first node: on time from where it left off.
        var next = Produce(bed, 1, new SensorEvent("wearable-1-next", "sagene", SensorTypes.Fall, t.AddMinutes(3), Values));
        bed.Flush();
        bed.ReadAlertIds([Events.AlertId(next)]);
        Assert.Equal(0, second.Statistics.LateEvents);
    }

    /// <summary>
    /// A node killed (SIGKILL) after it committed its partitions' last events, before it could hand anything over or
    /// report their time: the node that takes them reads nothing, and still starts from how far event time had come on
    /// them, because the time is written before each commit. The events belong to no rule, so no restored key holds it
    /// (the input's last events in the twenty-crash scale-out test are such: without this, its area results waited).
    /// Exactly-once: the time is written in the epoch's transaction with the offsets.
    /// </summary>
    [Theory]
    [InlineData(ProcessingGuarantee.AtLeastOnce)]
    [InlineData(ProcessingGuarantee.ExactlyOnce)]
    public async Task A_node_that_takes_partitions_after_a_crash_past_their_last_event_starts_from_their_time_as_committed(ProcessingGuarantee guarantee)
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var t = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddHours(-3).ToUnixTimeMilliseconds());
        for (var s = 0; s <= 300; s += 30)
        {
            Produce(bed, 0, new SensorEvent($"counter-0-{s}", "sagene", "test.unwatched", t.AddSeconds(s), Values));
            Produce(bed, 1, new SensorEvent($"counter-1-{s}", "sagene", "test.unwatched", t.AddSeconds(s / 2), Values));
        }

        bed.Flush();
        var environment = new Dictionary<string, string>
        {
            ["KOMMUNE_SessionTimeout"] = "00:00:03",
            ["KOMMUNE_StaticMembership"] = "false",
            ["KOMMUNE_CommitInterval"] = "00:00:00.200",
            ["KOMMUNE_IdlePartitionTimeout"] = "00:10:00",
            ["KOMMUNE_ProcessingGuarantee"] = guarantee.ToString(),
            ["KOMMUNE_TransactionalId"] = "crashing-node", // its successor's, so that it fences the open transaction
        };
        using (var crashing = KommuneProcess.Start(environment, "run", "--bootstrap-servers", bed.BootstrapServers, "--group-id", bed.Options.GroupId))
        {
            try
            {
                await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (committed, end) && committed == end);
                await crashing.SignalAsync("KILL");
                await crashing.WaitForExitAsync(KafkaTestBed.DefaultWait);
            }
            finally
            {
                output.WriteLine(crashing.Output);
            }
        }

        var outOfOrderness = new EngineOptions().OutOfOrderness;
        var slowest = t.AddSeconds(150) - outOfOrderness; // partition 1's
        await using var next = await bed.StartEngineAsync(
            o =>
            {
                o.IdlePartitionTimeout = TimeSpan.FromMinutes(10);
                o.ProcessingGuarantee = guarantee;
                o.TransactionalId = "crashing-node";
            },
            TestRules.EveryFallOnly);
        await next.Assigned;
        await KafkaTestBed.WaitUntilAsync(() => next.Statistics.Watermark >= slowest);
        Assert.Equal(slowest, next.Statistics.Watermark);
        Assert.Equal(0, next.Statistics.Consumed);

        // What comes next is judged as on a node that never stopped: more than the allowed lateness behind the time, late.
        var late = t.AddSeconds(150) - outOfOrderness - new EngineOptions().AllowedLateness - TimeSpan.FromSeconds(1);
        Produce(bed, 1, new SensorEvent("wearable-late", "sagene", SensorTypes.Fall, late, Values));
        var onTime = Produce(bed, 1, new SensorEvent("wearable-on-time", "sagene", SensorTypes.Fall, t.AddSeconds(150), Values));
        bed.Flush();
        bed.ReadAlertIds([Events.AlertId(onTime)]);
        await KafkaTestBed.WaitUntilAsync(() => next.Statistics.LateEvents == 1);
    }

    private static readonly Dictionary<string, SensorValue> Values = new() { ["confidence"] = 0.97, ["posture"] = "lying" };

    private static bool IsPartitionTime(ConsumeResult<byte[]?, byte[]?> record) =>
        record.Message.Key is { } key && Encoding.UTF8.GetString(key).StartsWith("partition-time:", StringComparison.Ordinal);

    private static SensorEvent Produce(KafkaTestBed bed, int partition, SensorEvent fall)
    {
        bed.Produce(new TopicPartition(bed.Options.Topics.SensorEvents, partition), Encoding.UTF8.GetBytes(fall.SensorId), SensorEventEncoder.Encode(fall));
        return fall;
    }
}

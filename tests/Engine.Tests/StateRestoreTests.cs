using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;
using Prometheus;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>Rule state on the state topic: written with the offsets it covers, restored before processing after a restart.</summary>
[Collection(KafkaLanes.First)]
public sealed class StateRestoreTests(ITestOutputHelper output)
{
    private static RuleSet FallRules() => TestRules.FallEscalation("""
        { "levels": ["care team", "nurse on call", "emergency"], "timeouts": ["6s", "1h"] }
        """);

    private static void Fast(EngineOptions options)
    {
        options.PersistState = true;
        options.StateInterval = TimeSpan.FromMilliseconds(200);
    }

    /// <summary>Runs an engine with <see cref="FallRules"/> until <paramref name="fall"/>'s alert is out and its state written, then stops it.</summary>
    private static Task<EngineStatistics> RaiseFallAndStopAsync(KafkaTestBed bed, SensorEvent fall, string alertId) =>
        RaiseFallsAndStopAsync(bed, Fast, [fall], [alertId]);

    /// <summary>
    /// Runs an engine with <see cref="FallRules"/> until the falls' alerts are out and their state written, does
    /// <paramref name="beforeStop"/>, then stops it gracefully.
    /// </summary>
    private static async Task<EngineStatistics> RaiseFallsAndStopAsync(KafkaTestBed bed, Action<EngineOptions> options, IReadOnlyList<SensorEvent> falls, IReadOnlyCollection<string> alertIds, Action? beforeStop = null)
    {
        await using var first = await bed.StartEngineAsync(options, FallRules());
        foreach (var fall in falls)
        {
            bed.ProduceEvent(fall);
        }

        bed.Flush();
        bed.ReadAlertIds(alertIds);
        // A fall's offset is committed only once the state holding its open alert is acknowledged.
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
        beforeStop?.Invoke();
        await first.StopAsync();
        return first.Statistics;
    }

    private static string AlertIdOf(SensorEvent fall) => $"fall:{fall.SensorId}:{fall.Timestamp.ToUnixTimeMilliseconds()}";

    [Fact]
    public async Task An_open_fall_escalation_continues_on_schedule_after_a_restart_and_an_ack_reaches_it()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var fall = Events.Fall("wearable-9", "sagene", 0);
        var alertId = $"fall:wearable-9:{fall.Timestamp.ToUnixTimeMilliseconds()}";

        var first = await RaiseFallAndStopAsync(bed, fall, alertId);
        Assert.True(first.StateWritten >= 1);

        // Stopped before the 6 s deadline: only the raise is on the topic.
        Assert.Single(bed.ReadAtLeast(bed.Options.Topics.Alerts, 1));

        await using var second = await bed.StartEngineAsync(Fast, FallRules());
        var records = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 2);
        Assert.Equal(1, second.Statistics.StateRestored);
        var escalated = JsonDocument.Parse(records[1].Message.Value).RootElement;
        Assert.Equal(alertId, escalated.GetProperty("alertId").GetString());
        Assert.Equal("escalated", escalated.GetProperty("status").GetString());
        Assert.Equal(2, escalated.GetProperty("level").GetInt32());
        Assert.Equal(2, escalated.GetProperty("sequence").GetInt32());
        Assert.Equal("nurse on call", escalated.GetProperty("recipients")[0].GetString());

        // The restored alert is open on the new engine: an ack reaches it.
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(alertId),
            Encoding.UTF8.GetBytes($$"""{"alertId":"{{alertId}}","action":"ack","by":"nurse Kari","ts":1795766400000}"""));
        bed.Flush();
        var acked = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 3);
        Assert.Equal("acknowledged", JsonDocument.Parse(acked[2].Message.Value).RootElement.GetProperty("status").GetString());
        Assert.Equal(3, JsonDocument.Parse(acked[2].Message.Value).RootElement.GetProperty("sequence").GetInt32());
        await second.StopAsync();
        Assert.Equal(0, second.Statistics.CommandsRefused);
    }

    [Fact]
    public async Task An_open_alert_of_a_binding_removed_while_the_engine_was_stopped_is_closed_when_its_state_is_restored()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var fall = Events.Fall("wearable-4", "sagene", 0);
        var alertId = $"fall:wearable-4:{fall.Timestamp.ToUnixTimeMilliseconds()}";
        await RaiseFallAndStopAsync(bed, fall, alertId);

        // Restarted without the "fall" binding: the restored state's open alert is closed, not left open forever.
        await using var second = await bed.StartEngineAsync(Fast, TestRules.EveryFallOnly);
        var closed = JsonDocument.Parse(bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 2)[1].Message.Value).RootElement;
        Assert.Equal(
            (alertId, "resolved", 2, "rule removed"),
            (closed.GetProperty("alertId").GetString(), closed.GetProperty("status").GetString(), closed.GetProperty("sequence").GetInt32(),
                closed.GetProperty("evidence").GetProperty("closedBy").GetString()));
        await KafkaTestBed.WaitUntilAsync(async () =>
        {
            using var scrape = new MemoryStream();
            await second.Metrics.Registry.CollectAndExportAsTextAsync(scrape);
            return new PrometheusText(Encoding.UTF8.GetString(scrape.ToArray())).Sum("kommune_open_alerts") == 0;
        });
        await second.StopAsync();
        Assert.Equal(1, second.Statistics.StateRestored);
    }

    [Fact]
    public async Task The_state_of_100000_sensors_is_restored_in_full_and_its_restore_time_is_reported()
    {
        // 100,000 fall sensors, each with an open escalation (about 0.8 KB of state), on 24 state partitions (the
        // embedded broker keeps 5 MiB per partition). The time is reported, not asserted (docs/reliability.md).
        const int sensors = 100_000;
        using var bed = new KafkaTestBed(output, partitions: 24);
        // The kit's clock is the wall clock, so the escalation deadlines (an hour on) lie ahead after the restore.
        var kit = new RuleTestKit(start: DateTimeOffset.UtcNow).Bind(new FallEscalationRule(RuleParameters.FromJson("""{ "t1": "1h", "t2": "1h" }""")), "fall");
        kit.Send("w-template", SensorTypes.Fall, Events.T0, new Dictionary<string, SensorValue> { ["confidence"] = 0.9 }, "area-template");
        var template = Encoding.UTF8.GetString(kit.SensorState("w-template")!.ToJson());
        output.WriteLine($"one sensor's state: {template.Length} bytes");
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bed.BootstrapServers, LingerMs = 20, BatchSize = 1_000_000 })
            .SetLogHandler((_, _) => { }).Build())
        {
            for (var i = 0; i < sensors; i++)
            {
                var id = $"w-{i:D6}";
                var json = template.Replace("w-template", id, StringComparison.Ordinal).Replace("area-template", $"area-{i % 100:D3}", StringComparison.Ordinal);
                producer.Produce(new TopicPartition(bed.Options.Topics.State, i % 24), new Message<byte[], byte[]>
                {
                    Key = Encoding.UTF8.GetBytes("sensor:" + id),
                    Value = Encoding.UTF8.GetBytes(json),
                });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }

        var rules = TestRules.FallEscalation("""{ "t1": "1h", "t2": "1h" }""");
        var started = Stopwatch.StartNew();
        await using var engine = await bed.StartEngineAsync(o => o.PersistState = true, rules);
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { StateRestored: sensors, ActiveSensors: sensors });
        output.WriteLine($"restored {engine.Statistics.StateRestored} sensors; {started.Elapsed.TotalSeconds:F1} s from start until every sensor actor holds its state");
        Assert.Equal(sensors, engine.Statistics.StateRestored);

        // A restored alert is open: an ack for one of them reaches it.
        var alertId = $"fall:w-042000:{Events.T0.ToUnixTimeMilliseconds()}";
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(alertId),
            Encoding.UTF8.GetBytes($$"""{"alertId":"{{alertId}}","action":"ack","by":"x","ts":1795766400000}"""));
        bed.Flush();
        var acked = bed.ReadAtLeast(bed.Options.Topics.Alerts, 1);
        Assert.Single(acked); // no deadline had passed: nothing escalated
        Assert.Equal("acknowledged", JsonDocument.Parse(acked[0].Message.Value).RootElement.GetProperty("status").GetString());
        await engine.StopAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_a_graceful_stop_each_state_partition_ends_with_a_hand_over_mark_and_the_next_engine_restores_from_it(bool exactlyOnce)
    {
        const int sensors = 20;
        using var bed = new KafkaTestBed(output, partitions: 2);
        void Options(EngineOptions options)
        {
            Fast(options);
            if (exactlyOnce)
            {
                options.ProcessingGuarantee = ProcessingGuarantee.ExactlyOnce;
                options.TransactionalId = "mark-node";
            }
        }

        var falls = Enumerable.Range(0, sensors).Select(i => Events.Fall($"wearable-{i}", "sagene", i)).ToList();
        var alertIds = falls.Select(AlertIdOf).ToList();
        var raised = DateTimeOffset.UtcNow;
        await RaiseFallsAndStopAsync(bed, Options, falls, alertIds);

        // Every partition's last record is its mark; the records from where it says restore the same states as all of them.
        // Each mark also names the earliest escalation deadline of its keys' open alerts, none of which has passed.
        var state = bed.Options.Topics.State;
        // A partition's records are read in order: once its mark is read, all of them are.
        var records = bed.ReadUntil(state, r => Enumerable.Range(0, bed.Partitions).All(p => r.Any(x => x.Partition.Value == p && StateHandOverMark.IsMark(x.Message.Key))));
        var skipped = 0L;
        for (var partition = 0; partition < bed.Partitions; partition++)
        {
            var ofPartition = records.Where(r => r.Partition.Value == partition).ToList();
            var mark = ofPartition[^1];
            Assert.True(StateHandOverMark.IsMark(mark.Message.Key), $"partition {partition}'s last record is {Encoding.UTF8.GetString(mark.Message.Key!)}");
            Assert.True(StateHandOverMark.TryRead(mark.Message.Value, out var from, out var firstTimer));
            Assert.InRange(from, 1, mark.Offset.Value);
            Assert.NotNull(firstTimer);
            Assert.True(firstTimer > raised, $"partition {partition}'s mark names {firstTimer:O}, before the falls were raised at {raised:O}");
            skipped += from;
            Assert.Equal(States(ofPartition), States(ofPartition.Where(r => r.Offset.Value >= from)));
        }

        await using var second = await bed.StartEngineAsync(Options, FallRules());
        await KafkaTestBed.WaitUntilAsync(() => second.Statistics.StateRestored == sensors);
        Assert.Contains(bed.Logs.Lines, l => l.Contains("end with a hand-over mark", StringComparison.Ordinal) && l.Contains($"passing over {skipped} earlier records", StringComparison.Ordinal));

        // A restored alert is open: an ack reaches it and continues its sequence.
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(alertIds[7]),
            Encoding.UTF8.GetBytes($$"""{"alertId":"{{alertIds[7]}}","action":"ack","by":"nurse Kari","ts":1795766400000}"""));
        bed.Flush();
        var acked = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Any(a => JsonDocument.Parse(a.Message.Value!).RootElement.GetProperty("status").GetString() == "acknowledged"));
        var ack = JsonDocument.Parse(acked.Single(a => JsonDocument.Parse(a.Message.Value!).RootElement.GetProperty("status").GetString() == "acknowledged").Message.Value!).RootElement;
        Assert.Equal(alertIds[7], ack.GetProperty("alertId").GetString());
        Assert.Equal(2, ack.GetProperty("sequence").GetInt32());
        await second.StopAsync();
    }

    [Fact]
    public async Task A_node_with_more_actors_than_its_whole_hand_over_allows_writes_what_changed_marks_nothing_and_is_restored_in_full()
    {
        const int sensors = 5;
        using var bed = new KafkaTestBed(output, partitions: 2);
        void Options(EngineOptions options)
        {
            Fast(options);
            options.HandOverWholeStateMaxActors = sensors - 1;
        }

        var falls = Enumerable.Range(0, sensors).Select(i => Events.Fall($"wearable-{i}", "sagene", i)).ToList();
        await RaiseFallsAndStopAsync(bed, Options, falls, [.. falls.Select(AlertIdOf)]);

        Assert.Contains(bed.Logs.Lines, l => l.Contains($"more than HandOverWholeStateMaxActors ({sensors - 1})", StringComparison.Ordinal));
        var written = bed.Ends(bed.Options.Topics.State).Sum();
        var records = bed.ReadUntil(bed.Options.Topics.State, r => r.Count >= written);
        Assert.DoesNotContain(records, r => StateHandOverMark.IsMark(r.Message.Key));

        await using var second = await bed.StartEngineAsync(Options, FallRules());
        await KafkaTestBed.WaitUntilAsync(() => second.Statistics.StateRestored == sensors);
        Assert.DoesNotContain(bed.Logs.Lines, l => l.Contains("end with a hand-over mark", StringComparison.Ordinal));
        await second.StopAsync();
    }

    [Fact]
    public async Task A_state_the_broker_refuses_during_a_graceful_hand_over_leaves_no_mark_and_the_next_engine_reads_the_partitions_whole()
    {
        const int sensors = 6;
        using var bed = new KafkaTestBed(output, partitions: 2);
        var falls = Enumerable.Range(0, sensors).Select(i => Events.Fall($"wearable-{i}", "sagene", i)).ToList();
        var alertIds = falls.Select(AlertIdOf).ToList();
        await RaiseFallsAndStopAsync(bed, Fast, falls, alertIds, () =>
        {
            // Nothing is left to write: the next write to each state partition is the hand-over's, and the broker refuses it.
            for (var partition = 0; partition < bed.Partitions; partition++)
            {
                bed.Cluster.PushPartitionRequestErrors(bed.Options.Topics.State, partition, KafkaApi.Produce, ErrorCode.InvalidRecord);
            }
        });

        Assert.Contains(bed.Logs.Lines, l => l.Contains("was refused by the broker for good", StringComparison.Ordinal));

        var written = bed.Ends(bed.Options.Topics.State).Sum();
        Assert.DoesNotContain(bed.ReadUntil(bed.Options.Topics.State, r => r.Count >= written), r => StateHandOverMark.IsMark(r.Message.Key));

        // Read whole, the partitions give back every key's last written state: a restored alert takes an ack.
        await using var second = await bed.StartEngineAsync(Fast, FallRules());
        await KafkaTestBed.WaitUntilAsync(() => second.Statistics.StateRestored == sensors);
        Assert.DoesNotContain(bed.Logs.Lines, l => l.Contains("end with a hand-over mark", StringComparison.Ordinal));
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(alertIds[3]),
            Encoding.UTF8.GetBytes($$"""{"alertId":"{{alertIds[3]}}","action":"ack","by":"nurse Kari","ts":1795766400000}"""));
        bed.Flush();
        var acked = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Any(a => JsonDocument.Parse(a.Message.Value!).RootElement.GetProperty("status").GetString() == "acknowledged"));
        Assert.Contains(acked, a => JsonDocument.Parse(a.Message.Value!).RootElement is var ack
            && ack.GetProperty("alertId").GetString() == alertIds[3] && ack.GetProperty("sequence").GetInt32() == 2);
        await second.StopAsync();
    }

    /// <summary>The states the records restore, by key: each one's value and the offsets it covers.</summary>
    private static Dictionary<string, string> States(IEnumerable<ConsumeResult<byte[]?, byte[]?>> records) =>
        StateTopicRecords.Restore(records).ToDictionary(s => s.Key, s => Encoding.UTF8.GetString(s.Value.Value) + " covers " + StateRecord.FormatCovers(s.Value.Covers));
}

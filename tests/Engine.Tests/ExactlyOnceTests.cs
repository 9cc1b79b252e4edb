using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Exactly-once mode on the embedded broker: every epoch's outputs, state records and offsets commit in one Kafka
/// transaction; a failed epoch is aborted and redone from the last committed state and offsets; a fenced producer
/// stops the node. (The embedded broker does not hide aborted records from read_committed readers, so isolation itself
/// is checked on a real Kafka by scripts/check-exactly-once.sh; here the protocol and the recovery are.)
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class ExactlyOnceTests(ITestOutputHelper output)
{
    private static RuleSet FallRules() => TestRules.FallEscalation("""
        { "levels": ["care team", "nurse on call"], "timeouts": ["2s"] }
        """);

    private static void ExactlyOnce(EngineOptions options)
    {
        options.ProcessingGuarantee = ProcessingGuarantee.ExactlyOnce;
        options.TransactionalId = "eos-node-1";
        options.CommitInterval = TimeSpan.FromMilliseconds(200);
    }

    [Fact]
    public async Task Outputs_state_offsets_and_acks_commit_in_transactions_and_a_timer_escalation_commits_without_new_events()
    {
        using var bed = new KafkaTestBed(output, partitions: 4);
        await using var engine = await bed.StartEngineAsync(ExactlyOnce, FallRules());
        await engine.Assigned;
        var falls = Enumerable.Range(0, 20).Select(i => Events.Fall($"wearable-{i}", "sagene", i)).ToList();
        falls.ForEach(bed.ProduceEvent);
        bed.Flush();

        // Raised by the events, escalated 2 s later by processing-time timers alone: both committed.
        var records = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 40);
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);

        var changes = records.Select(r => JsonDocument.Parse(r.Message.Value).RootElement)
            .Select(a => (Id: a.GetProperty("alertId").GetString(), Sequence: a.GetProperty("sequence").GetInt32(), Status: a.GetProperty("status").GetString()))
            .ToList();
        Assert.Equal(40, changes.Distinct().Count());
        Assert.Equal(20, changes.Count(c => c.Status == "escalated"));
        // An operations centre's ack: its state change commits in a transaction, then its command offset.
        var acked = changes[0].Id!;
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(acked),
            Encoding.UTF8.GetBytes($$"""{"alertId":"{{acked}}","action":"ack","by":"nurse Kari","ts":1795766400000}"""));
        bed.Flush();
        var afterAck = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 41);
        Assert.Contains(afterAck, r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("status").GetString() == "acknowledged");
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId + "-acks", bed.Options.Topics.Acks) is var (c, e) && c == e);

        var statistics = engine.Statistics;
        Assert.Equal(1, statistics.Commands);
        Assert.True(statistics.EpochsCommitted >= 2, $"{statistics.EpochsCommitted} transactions committed");
        Assert.Equal(0, statistics.Restarts);
        // Each committed transaction leaves a commit marker in every partition it wrote: offsets beyond the records.
        var alertOffsets = Enumerable.Range(0, bed.Partitions).Sum(p => bed.Watermarks(bed.Options.Topics.Alerts, p).High.Value);
        Assert.True(alertOffsets > records.Count, $"{alertOffsets} offsets for {records.Count} alert records: no transaction markers");
        var stateOffsets = Enumerable.Range(0, bed.Partitions).Sum(p => bed.Watermarks(bed.Options.Topics.State, p).High.Value);
        Assert.True(stateOffsets > 0, "state records are written in the transactions");
    }

    [Fact]
    public async Task An_aborted_epoch_is_redone_from_the_committed_state_and_offsets_and_the_node_keeps_running()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        await using var engine = await bed.StartEngineAsync(ExactlyOnce, FallRules());
        await engine.Assigned;
        var first = Enumerable.Range(0, 10).Select(i => Events.Fall($"wearable-{i}", "sagene", i)).ToList();
        first.ForEach(bed.ProduceEvent);
        bed.Flush();
        bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 10);
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);

        // The broker refuses to add the next partitions to the engine's transaction: it must abort. (Only transactional
        // producers send AddPartitionsToTxn, so the test's own producer is not hit.)
        bed.Cluster.PushRequestErrors(KafkaApi.AddPartitionsToTxn, ErrorCode.TopicAuthorizationFailed);
        var second = Enumerable.Range(10, 10).Select(i => Events.Fall($"wearable-{i}", "sagene", i)).ToList();
        second.ForEach(bed.ProduceEvent);
        bed.Flush();

        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics.Restarts >= 1);
        // After the restart: state restored, the uncommitted falls processed again, every alert there.
        var ids = first.Concat(second).Select(f => $"fall:{f.SensorId}:{f.Timestamp.ToUnixTimeMilliseconds()}").ToList();
        bed.ReadAlertIds(ids);
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
        var records = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 40);

        Assert.False(engine.ConsumerCompletion.IsCompleted, "the node keeps running after an aborted epoch");
        // The same state changes as a fault-free run; any copy (an aborted transaction's, visible on this broker) is identical.
        var byChange = records.GroupBy(r => AlertKey(r.Message.Value)).ToList();
        Assert.Equal(40, byChange.Count);
        Assert.All(byChange, g => Assert.Single(g.Select(r => Convert.ToBase64String(r.Message.Value!)).Distinct()));
        output.WriteLine($"{records.Count} alert records for 40 state changes; restarts {engine.Statistics.Restarts}, epochs {engine.Statistics.EpochsCommitted}");
    }

    [Fact]
    public async Task A_fenced_producer_stops_the_node_instead_of_writing_as_a_zombie()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var engine = await bed.StartEngineAsync(ExactlyOnce, FallRules());
        await using (engine)
        {
            await engine.Assigned;
            // A newer producer with this node's transactional.id took over: the broker fences this one's commit.
            bed.Cluster.PushRequestErrors(KafkaApi.EndTxn, ErrorCode.ProducerFenced);
            bed.ProduceEvent(Events.Fall("wearable-1", "sagene", 0));
            bed.Flush();

            var failure = await Assert.ThrowsAnyAsync<Exception>(() => engine.ConsumerCompletion.WaitAsync(KafkaTestBed.DefaultWait));
            output.WriteLine(failure.ToString());
            Assert.Contains("fenced", failure.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(0, engine.Statistics.Restarts);
        }

        var (committed, _) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(0, committed);
    }

    private static (string?, int) AlertKey(byte[]? value)
    {
        var alert = JsonDocument.Parse(Encoding.UTF8.GetString(value!)).RootElement;
        return (alert.GetProperty("alertId").GetString(), alert.GetProperty("sequence").GetInt32());
    }
}

using System.Net;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Engine.Hosting;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Nothing stalls without being seen: a partition whose committed offset stops moving while records wait, and an
/// exactly-once node whose epochs keep aborting, make /readyz fail with the reason, raise a metric and log a line,
/// and all of that clears once the node moves again.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class StallTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_partition_whose_outputs_keep_failing_is_reported_stalled_by_readyz_the_metric_and_the_log_then_recovers()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync(
            o =>
            {
                o.StallTimeout = TimeSpan.FromSeconds(3);
                o.StateInterval = TimeSpan.FromMilliseconds(200);
            },
            TestRules.EveryFallOnly);
        await using var endpoint = await EngineHttpEndpoint.StartAsync(engine, "127.0.0.1", 0, bed.LoggerFactory);
        var first = Events.Fall("wearable-1", "sagene", 1);
        bed.ProduceEvent(first);
        bed.Flush();
        bed.ReadAlertIds([Events.AlertId(first)]);
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
        await KafkaTestBed.WaitUntilAsync(async () => (await ReadyAsync(endpoint)).Status == HttpStatusCode.OK);

        // The broker refuses the next writes to the alerts partition for a while (a retriable error: the producer
        // keeps trying), so the next fall cannot complete and its offset cannot be committed.
        bed.Cluster.PushPartitionRequestErrors(bed.Options.Topics.Alerts, 0, KafkaApi.Produce, [.. Enumerable.Repeat(ErrorCode.NotEnoughReplicas, 40)]);
        var second = Events.Fall("wearable-2", "sagene", 2);
        bed.ProduceEvent(second);
        bed.Flush();

        var stalled = await WaitForReadinessAsync(endpoint, HttpStatusCode.ServiceUnavailable);
        output.WriteLine($"/readyz: {stalled.Reason}");
        Assert.Contains("partition kommune.sensor-events[0] is stalled", stalled.Reason, StringComparison.Ordinal);
        Assert.Contains("stayed at 1", stalled.Reason, StringComparison.Ordinal);
        Assert.Equal(1, (await ScrapeAsync(endpoint)).Sum("kommune_partition_stalled", ("partition", "0")));
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Partition kommune.sensor-events[0] is stalled", StringComparison.Ordinal) && l.Contains("offset has stayed at 1", StringComparison.Ordinal));

        // The errors run out, the alert is written, the offset moves: ready again, the metric back at 0.
        var recovered = await WaitForReadinessAsync(endpoint, HttpStatusCode.OK);
        Assert.StartsWith("consuming", recovered.Reason, StringComparison.Ordinal);
        Assert.Contains(Events.AlertId(second), bed.ReadAlertIds([Events.AlertId(second)]));
        Assert.Equal(0, (await ScrapeAsync(endpoint)).Sum("kommune_partition_stalled", ("partition", "0")));
        Assert.Contains(bed.Logs.Lines, l => l.Contains("Partition kommune.sensor-events[0] is moving again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_exactly_once_node_whose_epochs_keep_aborting_is_not_ready_until_one_commits()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync(
            o =>
            {
                o.ProcessingGuarantee = ProcessingGuarantee.ExactlyOnce;
                o.TransactionalId = "aborting-node";
                o.AbortedEpochsBeforeNotReady = 2;
            },
            TestRules.EveryFallOnly);
        await using var endpoint = await EngineHttpEndpoint.StartAsync(engine, "127.0.0.1", 0, bed.LoggerFactory);
        await engine.Assigned;

        // Every epoch's first transaction step is refused, twice: two epochs abort in a row.
        bed.Cluster.PushRequestErrors(KafkaApi.AddPartitionsToTxn, ErrorCode.TopicAuthorizationFailed, ErrorCode.TopicAuthorizationFailed);
        var fall = Events.Fall("wearable-3", "sagene", 3);
        bed.ProduceEvent(fall);
        bed.Flush();

        var notReady = await WaitForReadinessAsync(endpoint, HttpStatusCode.ServiceUnavailable, r => r.Contains("epochs in a row", StringComparison.Ordinal));
        output.WriteLine($"/readyz: {notReady.Reason}");
        Assert.Contains("2 exactly-once epochs in a row were aborted", notReady.Reason, StringComparison.Ordinal);
        Assert.True((await ScrapeAsync(endpoint)).Sum("kommune_transactions_aborted_total") >= 2);

        // The refusals run out; the redone epoch commits and the node is ready again.
        bed.ReadAlertIds([Events.AlertId(fall)]);
        await WaitForReadinessAsync(endpoint, HttpStatusCode.OK);
        Assert.Equal(0, (await ScrapeAsync(endpoint)).Sum("kommune_transaction_aborts_in_a_row"));
    }

    private static async Task<(HttpStatusCode Status, string Reason)> WaitForReadinessAsync(EngineHttpEndpoint endpoint, HttpStatusCode status, Func<string, bool>? reason = null)
    {
        (HttpStatusCode Status, string Reason) last = default;
        await KafkaTestBed.WaitUntilAsync(
            async () =>
            {
                last = await ReadyAsync(endpoint);
                return last.Status == status && (reason?.Invoke(last.Reason) ?? true);
            },
            () => $"/readyz stayed {last.Status}: {last.Reason}");
        return last;
    }

    private static async Task<(HttpStatusCode Status, string Reason)> ReadyAsync(EngineHttpEndpoint endpoint)
    {
        var (status, _, reason) = await EndpointClient.ProbeAsync(endpoint, "readyz");
        return (status, reason);
    }

    private static Task<PrometheusText> ScrapeAsync(EngineHttpEndpoint endpoint) => EndpointClient.ScrapeAsync(endpoint);
}

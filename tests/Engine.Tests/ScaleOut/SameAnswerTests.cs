using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// Many nodes, one answer (docs/architecture.md, "Scale-out"): the same input through one <c>kommune run</c> process and
/// through several, also while nodes join, stop, are killed and restarted, and while partition leaders move, gives the
/// same alert records and aggregates. Compared as sets; a record written twice must be byte-identical.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed class SameAnswerTests(ITestOutputHelper output)
{
    private const int Partitions = 12;

    /// <summary>Every built-in rule family; falls escalate only after an hour, so no wall-clock timer fires in a run.</summary>
    internal const string Rules = """
        { "rules": [
          { "name": "fall-detection", "rule": "fall-detection", "parameters": { "t1": "1h", "t2": "1h" } },
          { "name": "congestion", "rule": "congestion", "parameters": { "raiseAfter": 2 } },
          { "name": "congestion-area", "rule": "congestion-area", "parameters": { "raiseAfter": 2 } },
          { "name": "parking", "rule": "parking", "parameters": { "for": "2m" } },
          { "name": "energy-area", "rule": "energy-area" },
          { "name": "energy-anomaly", "rule": "energy-anomaly" }
        ] }
        """;

    private static readonly SemaphoreSlim ReferenceLock = new(1, 1);
    private static (ScaleOutInput Input, OutputSets Output)? _reference;

    [Fact]
    public async Task Three_nodes_write_the_same_alerts_and_aggregates_as_one()
    {
        var (input, reference) = await ReferenceAsync();
        using var bed = new KafkaTestBed(output, Partitions);
        using var nodes = new EngineNodes(bed, "same-answer", Rules);
        try
        {
            input.ProduceAll(bed);
            await nodes.StartAllAsync("node-1", "node-2", "node-3");
            var run = await FinishAsync(bed, nodes, input);
            output.WriteLine(nodes.Ownership());
            run.AssertSameAs(reference, "three nodes");
        }
        catch
        {
            nodes.WriteLogs(output);
            throw;
        }
    }

    /// <summary>
    /// Three nodes; during the stream a fourth joins, one is stopped with SIGTERM, one is killed with SIGKILL and
    /// started again. At-least-once runs on three brokers whose partition leaders move during the stream.
    /// </summary>
    [Theory]
    [InlineData("at-least-once", 3)]
    [InlineData("exactly-once", 1)]
    public async Task Nodes_joining_stopping_and_crashing_during_the_stream_change_nothing(string guarantee, int brokers)
    {
        var (input, reference) = await ReferenceAsync();
        using var bed = new KafkaTestBed(output, Partitions, brokers);
        using var nodes = new EngineNodes(bed, "rebalancing", Rules, guarantee);
        try
        {
            await nodes.StartAllAsync("node-1", "node-2", "node-3");
            var total = input.Events.Count;
            var quarter = total / 4;

            input.Produce(bed, 0, quarter);
            await WaitProcessedAsync(bed, nodes, quarter / 2);
            var joined = nodes.Start("node-4");
            await joined.WaitForOutputAsync("taken", EngineNodes.Wait);
            MoveLeaders(bed, brokers, 1);

            input.Produce(bed, quarter, 2 * quarter);
            await WaitProcessedAsync(bed, nodes, quarter + (quarter / 2));
            await nodes.StopAsync("node-2");
            MoveLeaders(bed, brokers, 2);

            input.Produce(bed, 2 * quarter, 3 * quarter);
            await WaitProcessedAsync(bed, nodes, (2 * quarter) + (quarter / 2));
            await nodes.KillAsync("node-3");
            var restarted = nodes.Start("node-3");
            await restarted.WaitForOutputAsync("taken", EngineNodes.Wait);

            input.Produce(bed, 3 * quarter, total);
            var run = await FinishAsync(bed, nodes, input);
            output.WriteLine(nodes.Ownership());
            output.WriteLine($"dead letters: {TopicReader.DeadLetterReasons(bed.BootstrapServers, bed.Options.Topics.DeadLetters, Partitions)}");
            run.AssertSameAs(reference, $"{guarantee}, {brokers} broker(s), nodes joining, stopping and crashing");
        }
        catch
        {
            nodes.WriteLogs(output);
            throw;
        }
    }

    /// <summary>
    /// Three nodes; one freezes (SIGSTOP, as in a long GC pause or a stalled VM) until the others have taken its partitions,
    /// then goes on (SIGCONT) with events of them still in its actors, finds its partitions lost and rejoins.
    /// </summary>
    [Theory]
    [InlineData("at-least-once")]
    [InlineData("exactly-once")]
    public Task A_node_frozen_past_its_session_loses_its_partitions_and_changes_nothing(string guarantee) =>
        ThreeNodesWithAFaultAsync("frozen", guarantee, "a node frozen past its session", async (bed, nodes, input, quarter) =>
        {
            // The group settles first, with partitions on node-2: a rebalance still going on when it freezes could end in
            // a "taken" line of another node's that is not its partitions, and a freeze shorter than its session.
            await KafkaTestBed.WaitUntilAsync(() => nodes.Holds("node-1").Count > 0 && nodes.Holds("node-2").Count > 0 && nodes.Holds("node-3").Count > 0);
            var held = nodes.Holds("node-2");
            var others = new[] { nodes["node-1"], nodes["node-3"] };
            var printed = others.Select(p => p.LineCount).ToList();
            await nodes["node-2"].SignalAsync("STOP");
            try
            {
                // Its session expires and the others take its partitions.
                await await Task.WhenAny(others.Select((p, i) => p.WaitForLineAsync(
                    l => EngineNodes.TasksLine(l) is ({ } taken, "taken") && taken.Overlaps(held), EngineNodes.Wait, printed[i])));
                input.Produce(bed, 2 * quarter, 3 * quarter);
            }
            finally
            {
                await nodes["node-2"].SignalAsync("CONT");
            }

            await nodes["node-2"].WaitForLineAsync(l => l.Contains("lost", StringComparison.Ordinal), EngineNodes.Wait);
            if (guarantee == "exactly-once")
            {
                await nodes["node-2"].WaitForOutputAsync("were lost; the epoch holds work of them", EngineNodes.Wait);
            }

            return "node-2 froze";
        });

    /// <summary>
    /// Three nodes whose group memberships the broker forgets during the stream (heartbeats answered with
    /// UNKNOWN_MEMBER_ID): they find their partitions lost, with events of them still in their actors, rejoin and get
    /// partitions back, often the same ones.
    /// </summary>
    [Fact]
    public Task Exactly_once_nodes_whose_partitions_are_lost_and_given_back_change_nothing() =>
        LostAndGivenBackAsync("exactly-once");

    /// <summary>
    /// The same in at-least-once mode. It failed in about one run of eight until the origin ledger kept the line it
    /// forgot origins at: a meter's reading written again by a sensor partition's new owner was applied a second time
    /// by a node that had restored the area's state, whose ledger had forgotten that reading's origin.
    /// </summary>
    [Fact]
    public Task At_least_once_nodes_whose_partitions_are_lost_and_given_back_change_nothing() =>
        LostAndGivenBackAsync("at-least-once");

    private Task LostAndGivenBackAsync(string guarantee) =>
        ThreeNodesWithAFaultAsync("lost-and-back", guarantee, "partitions lost and given back", async (bed, nodes, input, quarter) =>
        {
            var first = await LosePartitionsAsync(bed, nodes, guarantee);
            input.Produce(bed, 2 * quarter, 3 * quarter);
            await WaitProcessedAsync(bed, nodes, 2 * quarter);
            var second = await LosePartitionsAsync(bed, nodes, guarantee);
            return $"partitions lost by {first}, then by {second}";
        });

    /// <summary>
    /// Three nodes take the input: the first half is produced and a quarter processed, then <paramref name="fault"/>
    /// runs (it produces the third quarter, and says what it did), then the rest is produced; the outputs must be the
    /// one-node run's. On failure the nodes' logs are written.
    /// </summary>
    private async Task ThreeNodesWithAFaultAsync(
        string group, string guarantee, string what, Func<KafkaTestBed, EngineNodes, ScaleOutInput, int, Task<string>> fault)
    {
        var (input, reference) = await ReferenceAsync();
        using var bed = new KafkaTestBed(output, Partitions);
        using var nodes = new EngineNodes(bed, group, Rules, guarantee);
        try
        {
            await nodes.StartAllAsync("node-1", "node-2", "node-3");
            var total = input.Events.Count;
            var quarter = total / 4;
            input.Produce(bed, 0, 2 * quarter);
            await WaitProcessedAsync(bed, nodes, quarter);
            output.WriteLine(await fault(bed, nodes, input, quarter));
            input.Produce(bed, 3 * quarter, total);
            var run = await FinishAsync(bed, nodes, input);
            output.WriteLine(nodes.Ownership());
            run.AssertSameAs(reference, $"{guarantee}, {what}");
        }
        catch
        {
            nodes.WriteLogs(output);
            throw;
        }
    }

    /// <summary>
    /// Answers heartbeats with UNKNOWN_MEMBER_ID until a node that owns partitions finds them lost (a node without
    /// partitions just rejoins); in exactly-once mode that node's epoch must then abort at once, not after its settle
    /// timeout. Returns the node.
    /// </summary>
    private async Task<string> LosePartitionsAsync(KafkaTestBed bed, EngineNodes nodes, string guarantee)
    {
        string[] names = ["node-1", "node-2", "node-3"];
        var printed = names.Select(n => nodes[n].LineCount).ToArray();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            bed.Cluster.PushRequestErrors(KafkaApi.Heartbeat, [.. Enumerable.Repeat(ErrorCode.UnknownMemberId, 4 * names.Length)]);
            var seen = names.Select((n, i) => nodes[n].WaitForLineAsync(IsLost, TimeSpan.FromSeconds(5), printed[i])).ToArray();
            var first = await Task.WhenAny(seen);
            if (first.IsCompletedSuccessfully)
            {
                output.WriteLine($"partitions lost after {attempt + 1} round(s) of heartbeat errors");
                var index = Array.IndexOf(seen, first);
                var node = names[index];
                if (guarantee == "exactly-once")
                {
                    await nodes[node].WaitForLineAsync(
                        l => l.Contains("were lost; the epoch holds work of them", StringComparison.Ordinal), EngineNodes.Wait, printed[index]);
                }

                return node;
            }
        }

        throw new TimeoutException("no node found partitions lost after ten rounds of heartbeat errors");

        static bool IsLost(string line) => line.Contains("Partitions (tasks) ", StringComparison.Ordinal) && line.EndsWith(" lost", StringComparison.Ordinal);
    }

    /// <summary>The one-node run of the input, made once for the tests of this class.</summary>
    private async Task<(ScaleOutInput, OutputSets)> ReferenceAsync()
    {
        await ReferenceLock.WaitAsync();
        try
        {
            if (_reference is { } made)
            {
                return made;
            }

            var input = new ScaleOutInput(Partitions, sensors: 2_000, duration: TimeSpan.FromMinutes(12), spacing: TimeSpan.FromMilliseconds(30), fallsPerMinute: 12);
            using var bed = new KafkaTestBed(output, Partitions);
            using var nodes = new EngineNodes(bed, "reference", Rules);
            try
            {
                input.ProduceAll(bed);
                await nodes.StartAllAsync("only-node");
                var reference = await FinishAsync(bed, nodes, input);
                output.WriteLine($"one node: {reference.Alerts.Count} alert records ({input.Falls} falls), {reference.Aggregates.Count} aggregates, {reference.DeadLetters.Count} dead letters");
                foreach (var rule in reference.Alerts.GroupBy(OutputSets.Rule))
                {
                    output.WriteLine($"  {rule.Key}: {rule.Count()}");
                }

                Assert.Empty(reference.Conflicts);
                Assert.Empty(reference.DeadLetters);
                Assert.Contains(reference.Alerts, a => OutputSets.Rule(a) == "congestion-area");
                Assert.Contains(reference.Alerts, a => OutputSets.Rule(a) == "parking");
                Assert.True(input.Falls >= 100, $"{input.Falls} falls");
                _reference = (input, reference);
                return (input, reference);
            }
            catch
            {
                nodes.WriteLogs(output);
                throw;
            }
        }
        finally
        {
            ReferenceLock.Release();
        }
    }

    /// <summary>Waits for the marker areas' output (everything before it is out), stops the nodes, reads what they wrote.</summary>
    internal static async Task<OutputSets> FinishAsync(KafkaTestBed bed, EngineNodes nodes, ScaleOutInput input)
    {
        var topics = bed.Options.Topics;
        await TopicReader.WaitForAsync(bed.BootstrapServers, topics.Aggregates, bed.Partitions, input.MarkersOut,
            values => $"the marker areas' aggregates did not appear ({values.Count} aggregates)");
        // The markers' aggregates can be out while others that a killed node sent were never acknowledged: they are made
        // again from the committed offsets, which pass a record only once what it caused is acknowledged. So, at least
        // once, everything written so far must be committed, on both sides, before the nodes stop. Exactly-once, the
        // embedded broker keeps a transaction's offsets apart: every node must have caught up with what it holds.
        if (nodes.ExactlyOnce)
        {
            await KafkaTestBed.WaitUntilAsync(nodes.CaughtUpAsync, () => "the nodes did not catch up");
        }
        else
        {
            var ends = (Events: bed.Ends(topics.SensorEvents), Repartition: bed.Ends(topics.Repartition));
            await KafkaTestBed.WaitUntilAsync(
                () => Task.FromResult(CommittedUpTo(bed.Committed(nodes.GroupId, topics.SensorEvents), ends.Events)
                    && CommittedUpTo(bed.Committed(KafkaTestBed.RepartitionGroup(nodes.GroupId), topics.Repartition), ends.Repartition)),
                () => $"not everything read is committed: sensor events {string.Join(",", bed.Committed(nodes.GroupId, topics.SensorEvents))} of {string.Join(",", ends.Events)}, "
                    + $"repartition {string.Join(",", bed.Committed(KafkaTestBed.RepartitionGroup(nodes.GroupId), topics.Repartition))} of {string.Join(",", ends.Repartition)}");
        }

        // A stop drains: every area that had the last watermark's work in its mailbox finishes it and it is flushed.
        await nodes.StopAllAsync();
        return new OutputSets(
            TopicReader.Values(bed.BootstrapServers, topics.Alerts, bed.Partitions),
            TopicReader.Values(bed.BootstrapServers, topics.Aggregates, bed.Partitions),
            TopicReader.Values(bed.BootstrapServers, topics.DeadLetters, bed.Partitions));
    }

    private static bool CommittedUpTo(long[] committed, long[] ends) => committed.Zip(ends).All(p => p.First >= p.Second);

    /// <summary>Waits until the group has committed at least <paramref name="events"/> sensor events, or the nodes have processed every one produced.</summary>
    private static Task WaitProcessedAsync(KafkaTestBed bed, EngineNodes nodes, int events) =>
        KafkaTestBed.WaitUntilAsync(async () => bed.CommittedAndEnd(nodes.GroupId, bed.Options.Topics.SensorEvents).Committed >= events || await nodes.CaughtUpAsync());

    /// <summary>Moves the leaders of every partition of the engine's topics to another broker (when there are several).</summary>
    private static void MoveLeaders(KafkaTestBed bed, int brokers, int shift)
    {
        if (brokers < 2)
        {
            return;
        }

        foreach (var topic in bed.Options.ToKafkaTopics().All)
        {
            for (var p = 0; p < bed.Partitions; p++)
            {
                bed.Cluster.SetPartitionLeader(topic, p, 1 + ((p + shift) % brokers));
            }
        }
    }
}

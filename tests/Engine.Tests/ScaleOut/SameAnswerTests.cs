using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// Many nodes, one answer (docs/architecture.md, "Scale-out"): the same input through one <c>kommune run</c> process and
/// through several, also while nodes join, stop, are killed and restarted, and while partition leaders move, gives the
/// same alert records and aggregates. Compared as sets; a record written twice must be byte-identical.
/// </summary>
[Collection(ScaleOutTests.Name)]
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
        // A stop drains: every area that had the last watermark's work in its mailbox finishes it and it is flushed.
        await nodes.StopAllAsync();
        return new OutputSets(
            TopicReader.Values(bed.BootstrapServers, topics.Alerts, bed.Partitions),
            TopicReader.Values(bed.BootstrapServers, topics.Aggregates, bed.Partitions),
            TopicReader.Values(bed.BootstrapServers, topics.DeadLetters, bed.Partitions));
    }

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

/// <summary>The scale-out tests run one at a time (each starts several engine processes), beside the other tests.</summary>
[CollectionDefinition(Name)]
public sealed class ScaleOutTests
{
    public const string Name = "Scale-out";
}

using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>A node's identity in the group (static membership) and what happens when two nodes share one.</summary>
[Collection(KafkaLanes.First)]
public sealed class NodeIdentityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_fenced_by_another_with_its_node_id_stops_and_says_to_give_each_node_its_own()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        await using var engine = await bed.StartEngineAsync(o =>
        {
            o.StaticMembership = true;
            o.NodeId = "node-7";
        });
        await engine.Assigned;

        // What the group coordinator answers once another consumer joined with group.instance.id "node-7": to every
        // heartbeat of this node's (the acks reader heartbeats too, and may be first to be told).
        bed.Cluster.PushRequestErrors(KafkaApi.Heartbeat, [.. Enumerable.Repeat(ErrorCode.FencedInstanceId, 6)]);

        var failed = await Assert.ThrowsAnyAsync<KafkaException>(() => engine.ConsumerCompletion.WaitAsync(KafkaTestBed.DefaultWait));
        output.WriteLine(failed.Message);
        Assert.Contains("with this node's id 'node-7'", failed.Message, StringComparison.Ordinal);
        Assert.Contains("--node-id", failed.Message, StringComparison.Ordinal);
        Assert.False(engine.Readiness.Ready);
    }

    [Theory]
    [InlineData("node 1")]
    [InlineData("node/1")]
    [InlineData("nøde-1")]
    public void A_node_id_kafka_would_refuse_is_refused_at_start_by_name(string nodeId)
    {
        var options = new EngineOptions { BootstrapServers = "127.0.0.1:9092", NodeId = nodeId };

        var refused = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("NodeId must be 1 to 249 letters, digits", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_node_id_defaults_to_the_host_name_and_names_the_transactional_id()
    {
        var options = new EngineOptions { BootstrapServers = "127.0.0.1:9092", GroupId = "oslo" };
        Assert.Equal(Environment.MachineName, options.EffectiveNodeId);
        Assert.Equal($"oslo-{Environment.MachineName}", options.EffectiveTransactionalId);
        Assert.True(options.StaticMembership);

        options.NodeId = "engine-2";
        Assert.Equal("oslo-engine-2", options.EffectiveTransactionalId);
    }
}

using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

/// <summary><see cref="KafkaTopicMetadata"/> against the embedded broker: a start's lookups through one client.</summary>
public sealed class KafkaTopicMetadataTests
{
    [Fact]
    public void It_asks_several_topics_through_one_client_and_says_why_when_the_cluster_refuses_one()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("events", partitions: 12);
        cluster.CreateTopic("state", partitions: 3);
        cluster.CreateTopic("forbidden", partitions: 2);
        cluster.SetTopicError("forbidden", ErrorCode.TopicAuthorizationFailed);
        using var metadata = new KafkaTopicMetadata(cluster.BootstrapServers, KafkaClientSettings.None);

        Assert.Equal(12, metadata.PartitionCount("events"));
        Assert.Equal(3, metadata.PartitionCount("state", out var none));
        Assert.Null(none);
        Assert.Null(metadata.PartitionCount("forbidden", out var why));
        Assert.Contains("authoriz", why, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(12, metadata.PartitionCount("events")); // the same client, still asking
    }

    [Fact]
    public void Once_disposed_it_refuses_to_ask_and_a_second_dispose_does_nothing()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("events", partitions: 2);
        var metadata = new KafkaTopicMetadata(cluster.BootstrapServers, KafkaClientSettings.None);
        Assert.Equal(2, metadata.PartitionCount("events"));

        metadata.Dispose();
        metadata.Dispose();

        Assert.Throws<ObjectDisposedException>(() => metadata.PartitionCount("events"));
    }
}

using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Engine;

/// <summary>What the cluster says of a topic.</summary>
internal static class TopicMetadata
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The topic's partition count, or null when it does not exist or the cluster cannot be asked.</summary>
    public static int? PartitionCount(string bootstrapServers, KafkaClientSettings clientSettings, string topic)
    {
        try
        {
            using var admin = new AdminClientBuilder(clientSettings.ApplyTo(new AdminClientConfig { BootstrapServers = bootstrapServers, ClientId = "kommune-metadata" }))
                .SetLogHandler((_, _) => { }).Build();
            var metadata = admin.GetMetadata(topic, Timeout).Topics.SingleOrDefault(t => t.Topic == topic);
            return metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0 ? null : metadata.Partitions.Count;
        }
        catch (KafkaException)
        {
            return null;
        }
    }
}

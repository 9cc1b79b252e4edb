using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>What the cluster says of a topic, asked with a short-lived admin client.</summary>
public static class KafkaTopicMetadata
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The topic's partition count, or null when it does not exist or the cluster cannot be asked.</summary>
    /// <param name="bootstrapServers">The cluster.</param>
    /// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the admin client's own.</param>
    /// <param name="topic">The topic.</param>
    public static int? PartitionCount(string bootstrapServers, KafkaClientSettings clientSettings, string topic)
    {
        ArgumentNullException.ThrowIfNull(clientSettings);
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

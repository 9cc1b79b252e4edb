using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// What the cluster says of topics (their partition counts), asked through one admin client for as many topics as a
/// start needs. Disposing it lets its client go without waiting for it: a client's disposal waits for its threads to
/// end (about 200 ms, whatever it asked), and an engine that asked three topics with three clients started 0.6 s later
/// for it (bench/README.md, issue 18 round thirty-two). Not thread-safe.
/// </summary>
/// <param name="bootstrapServers">The cluster.</param>
/// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the admin client's own.</param>
public sealed class KafkaTopicMetadata(string bootstrapServers, KafkaClientSettings clientSettings) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private IAdminClient? _admin;
    private bool _disposed;

    /// <summary>The topic's partition count, or null when it does not exist or the cluster cannot be asked.</summary>
    /// <param name="topic">The topic.</param>
    public int? PartitionCount(string topic) => PartitionCount(topic, out _);

    /// <summary>The topic's partition count, or null (and why not) when it does not exist or the cluster cannot be asked.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="whyNot">The cluster's reason when the count is null.</param>
    /// <exception cref="ObjectDisposedException">After <see cref="Dispose"/>.</exception>
    public int? PartitionCount(string topic, out string? whyNot)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            _admin ??= new AdminClientBuilder(clientSettings.ApplyTo(new AdminClientConfig { BootstrapServers = bootstrapServers, ClientId = "kommune-metadata" }))
                .SetLogHandler((_, _) => { }).Build();
            var metadata = _admin.GetMetadata(topic, Timeout).Topics.SingleOrDefault(t => t.Topic == topic);
            if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
            {
                whyNot = metadata is { Error.IsError: true } ? metadata.Error.Reason : "not found";
                return null;
            }

            whyNot = null;
            return metadata.Partitions.Count;
        }
        catch (KafkaException e)
        {
            whyNot = e.Error.Reason;
            return null;
        }
    }

    /// <summary>Lets the admin client go: its disposal runs on the thread pool, so the caller does not wait for it.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_admin is { } admin)
        {
            _admin = null;
            ThreadPool.UnsafeQueueUserWorkItem(static client => client.Dispose(), admin, preferLocal: false);
        }
    }
}

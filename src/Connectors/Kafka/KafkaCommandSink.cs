using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Writes operations centres' commands (ack, resolve) to the acks topic in the documented form, keyed by alertId, through
/// an idempotent producer (acks=all). <see cref="SendAsync"/> completes once the broker holds the command.
/// </summary>
public sealed class KafkaCommandSink : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _topic;

    /// <summary>A sink writing to <paramref name="topic"/> on the cluster at <paramref name="bootstrapServers"/>.</summary>
    /// <param name="bootstrapServers">The cluster.</param>
    /// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the producer's own.</param>
    /// <param name="topic">The acks topic.</param>
    public KafkaCommandSink(string bootstrapServers, KafkaClientSettings clientSettings, string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(bootstrapServers);
        ArgumentNullException.ThrowIfNull(clientSettings);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        _topic = topic;
        _producer = new ProducerBuilder<byte[], byte[]>(clientSettings.ApplyTo(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 0,
            MessageTimeoutMs = 10_000,
            SocketNagleDisable = true,
            ClientId = "kommune-commands",
        })).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>Writes one command and completes when the broker acknowledged it.</summary>
    /// <exception cref="KafkaCommandException">The broker did not take it (the message says why).</exception>
    public async Task SendAsync(AlertCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        try
        {
            await _producer.ProduceAsync(
                _topic,
                new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(command.AlertId), Value = AlertCommandEncoder.Encode(command) },
                cancellationToken);
        }
        catch (ProduceException<byte[], byte[]> e)
        {
            throw new KafkaCommandException($"The command was not written to {_topic}: {e.Error.Reason}", e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
    }
}

/// <summary>A command could not be written to Kafka.</summary>
public sealed class KafkaCommandException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KafkaCommandException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public KafkaCommandException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public KafkaCommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>Settings of the reader of operations centres' commands (<see cref="KafkaCommandSource"/>).</summary>
public sealed record KafkaCommandSourceOptions
{
    /// <summary>host:port list of the cluster.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The librdkafka settings from configuration (TLS, SASL), applied over the consumer's own.</summary>
    public KafkaClientSettings ClientSettings { get; init; } = KafkaClientSettings.None;

    /// <summary>The reader's consumer group: the engine's nodes share the acks topic's partitions in it.</summary>
    public required string GroupId { get; init; }

    /// <summary>The acks topic.</summary>
    public required string Topic { get; init; }

    /// <summary>
    /// Handles one command (with where it was read); completes with null once it is handled (or forwarded to the node
    /// that holds its alert) and what that wrote acknowledged, or with the reason to dead-letter it. An exception from
    /// it is the reader's failure: the command is read again by a new consumer (see <see cref="RestartDelay"/>).
    /// </summary>
    public required Func<AlertCommand, RecordSource, CancellationToken, Task<string?>> Handle { get; init; }

    /// <summary>The group session timeout (the broker's default when null): how long a node that died holds its share of the acks.</summary>
    public TimeSpan? SessionTimeout { get; init; }

    /// <summary>
    /// How long the reader waits, after it failed, before it starts a new consumer; doubled at each further failure
    /// before a command is done again, up to 30 s.
    /// </summary>
    public TimeSpan RestartDelay { get; init; } = TimeSpan.FromSeconds(1);
}

using Kommune.Connectors.Codecs;

namespace Kommune.Connectors.Kafka;

/// <summary>Settings of the sensor-event consumer.</summary>
public sealed record KafkaSourceOptions
{
    /// <summary>host:port list of the cluster.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>Consumer group: engines in one group share the partitions.</summary>
    public string GroupId { get; init; } = "kommune-engine";

    /// <summary>
    /// The consumer's <c>group.instance.id</c> for static membership (KIP-345): stable across this node's restarts and
    /// unique in the group; null for a dynamic member.
    /// </summary>
    public string? GroupInstanceId { get; init; }

    /// <summary>Topic names.</summary>
    public KafkaTopics Topics { get; init; } = new();

    /// <summary>
    /// Most events taken from Kafka and not yet done (processed with outputs acknowledged). At this bound the
    /// consumer pauses its partitions; it resumes when half of them are done. This bounds the engine's memory.
    /// </summary>
    public int MaxInFlightEvents { get; init; } = 10_000;

    /// <summary>
    /// Most events taken and not yet complete (being processed, or waiting for their state to be acknowledged) before
    /// the consumer pauses; at least <see cref="MaxInFlightEvents"/>. Null: four times <see cref="MaxInFlightEvents"/>.
    /// </summary>
    public int? MaxEventsAwaitingCommit { get; init; }

    /// <summary>
    /// Whether some rule reads the values of events of an area (first argument) and type (second), or null (always
    /// read them): the values of other events are checked but not made into objects (see
    /// <see cref="Codecs.SensorEventDecoder.ValuesWanted"/>).
    /// </summary>
    public Func<string, string, bool>? ValuesWanted { get; init; }

    /// <summary>How often completed offsets are committed.</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the group coordinator waits for a silent consumer before giving its partitions to others. Shorter
    /// means faster takeover after a crash, longer means fewer needless rebalances on a slow network.
    /// </summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A partition whose committed offset has not moved for this long while records wait beyond it is reported as
    /// stalled (<see cref="PartitionProgress.Stalled"/>, logged once when it stalls and once when it recovers).
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The engine's idle time for the watermark: when a partition gets records after a silence, the ends of partitions
    /// never read or silent this long are confirmed with the broker before the record is handed on, so none whose
    /// records have just arrived is taken for idle.
    /// </summary>
    public TimeSpan IdlePartitionTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>What an event must respect to be accepted.</summary>
    public SensorEventLimits Limits { get; init; } = SensorEventLimits.Default;

    /// <summary>
    /// Called on the consume thread with the partitions just assigned, each with the offset its consumption starts
    /// from, before any of their records is taken (the engine's watermark waits for a new partition until it reports
    /// events or goes idle). None of them is read until the handler names it through <see cref="AssignedPartitions.Ready"/>
    /// (then, or later from any thread: once its state is restored). Without a handler every partition is read at once.
    /// </summary>
    public Action<AssignedPartitions>? OnPartitionsAssigned { get; init; }

    /// <summary>
    /// Called on the consume thread with the partition numbers revoked (false) or lost (true), before they go: the engine
    /// hands over what it holds of them (writes their state and stops their actors; for lost partitions, only stops).
    /// </summary>
    public Action<IReadOnlyList<int>, bool>? OnPartitionsRevoked { get; init; }

    /// <summary>
    /// Asks the engine to write its changed state now rather than at its next checkpoint, or null (no event waits for
    /// state). Called on the consume thread, so it must only start the work, whenever the source waits for events that
    /// may wait for their state:
    /// <list type="bullet">
    /// <item>the consumer is paused and the events awaiting their commit keep it from resuming: at a high rate they reach
    /// the pause before their checkpoint comes, and the pause would last until it came
    /// (<see cref="BackpressureGate.StateWriteDue"/>);</item>
    /// <item>partitions are revoked: the hand-over waits for their events before they go;</item>
    /// <item>the source stops: it waits for the events in flight before it commits;</item>
    /// <item>exactly-once mode, while an epoch waits to settle (every 100 ms).</item>
    /// </list>
    /// </summary>
    public Action? WriteStateNow { get; init; }

    /// <summary>
    /// Called on the consume thread before an offset of a sensor-events partition is committed, with the partition, the
    /// offset and a continuation. It writes what must be durable with that commit (the engine: how far event time had
    /// come on the partition at that offset, as Kafka Streams keeps a task's stream time in its commit). At-least-once:
    /// it calls the continuation, on any thread, once that is written, and the offset is stored only then, so a node
    /// killed right after the commit leaves both; one write per partition at a time; a partition handed over commits
    /// without it (the hand-over writes its own). Exactly-once: called once per epoch, when every record taken is
    /// processed (their outputs perhaps not yet acknowledged), for each partition whose commit point moves; what it
    /// sends joins the epoch's transaction (the engine must count it as unsettled until acknowledged), and the
    /// continuation is not needed. Null: offsets are committed as soon as they are done.
    /// </summary>
    public Action<int, long, Action>? WriteBeforeCommit { get; init; }

    /// <summary>How long a revocation waits for the records of the revoked partitions in flight to finish.</summary>
    public TimeSpan HandOverTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The consumer group under which the repartition topic's offsets are committed (its consumer never joins it: its
    /// partitions follow this node's share of the sensor-events topic). Defaults to <see cref="GroupId"/> + <c>-repartition</c>.
    /// </summary>
    public string RepartitionGroupId
    {
        get => _repartitionGroupId ?? GroupId + "-repartition";
        init => _repartitionGroupId = value;
    }

    private readonly string? _repartitionGroupId;

    /// <summary>Exactly-once mode: offsets are committed in the sink's transaction once per epoch; null for at-least-once.</summary>
    public SourceTransactions? Transactions { get; init; }

    /// <summary>The librdkafka settings from configuration (TLS, SASL and the like), applied over the consumers' own.</summary>
    public required KafkaClientSettings ClientSettings { get; init; }
}

/// <summary>
/// How the source commits in exactly-once mode. Every <see cref="KafkaSourceOptions.CommitInterval"/> it stops taking
/// records, asks the engine to write its changed state (<see cref="KafkaSourceOptions.WriteStateNow"/>), waits until every event taken is
/// complete and the engine is <see cref="Settled"/>, and commits the epoch: outputs, state records and the offsets, in
/// one transaction of <see cref="Committer"/>.
/// </summary>
public sealed record SourceTransactions
{
    /// <summary>The transactional sink.</summary>
    public required IEpochCommitter Committer { get; init; }

    /// <summary>Whether the engine has nothing unwritten: no changed state waiting for a checkpoint, no output unacknowledged.</summary>
    public required Func<bool> Settled { get; init; }

    /// <summary>How long an epoch may take to settle before its transaction is aborted.</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Told how long each epoch's transaction commit took (for the engine's metrics), or null.</summary>
    public Action<TimeSpan>? Committed { get; init; }

    /// <summary>
    /// Told how long each epoch held intake while it waited for every taken record to complete and the engine to
    /// settle, before its commit (for the engine's metrics), or null.
    /// </summary>
    public Action<TimeSpan>? HeldIntake { get; init; }
}

using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Runtime;

namespace Kommune.Engine;

/// <summary>
/// The engine's settings, bound from configuration (appsettings.json, KOMMUNE_ environment variables, the command
/// line). Keys are these property names, for example <c>KOMMUNE_BootstrapServers</c> or <c>KOMMUNE_Topics__Alerts</c>.
/// </summary>
public sealed class EngineOptions
{
    /// <summary>host:port list of the Kafka cluster.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>Consumer group of the engine nodes.</summary>
    public string GroupId { get; set; } = "kommune-engine";

    /// <summary>
    /// This node's identity: stable across its restarts, unique among the nodes of the group (a StatefulSet pod's name,
    /// a host name). It is the consumer's <c>group.instance.id</c> (static membership, KIP-345: a node that restarts
    /// within <see cref="SessionTimeout"/> gets its partitions back without a rebalance) and names its default
    /// transactional.id. Defaults to the host name. A second node with the same id fences the first, which then stops
    /// with an error that says so.
    /// </summary>
    public string? NodeId { get; set; }

    /// <summary>The node id this node uses: <see cref="NodeId"/>, or the host name with any character Kafka refuses in a group.instance.id made '-'.</summary>
    public string EffectiveNodeId => string.IsNullOrWhiteSpace(NodeId)
        ? new string([.. Environment.MachineName.Take(249).Select(c => IsNodeIdCharacter(c) ? c : '-')])
        : NodeId;

    private static bool IsNodeIdCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-';

    /// <summary>
    /// Whether the consumer joins the group as a static member with <see cref="EffectiveNodeId"/> (default). A static
    /// member that stops is not replaced until its session expires: its partitions wait that long for it (or for a
    /// rebalance) rather than move at once. Turn it off for brokers older than Kafka 2.3, or where nodes come and go for
    /// good more often than they restart.
    /// </summary>
    public bool StaticMembership { get; set; } = true;

    /// <summary>Topic names.</summary>
    public TopicNames Topics { get; set; } = new();

    /// <summary>
    /// librdkafka properties for the engine's Kafka clients (TLS, SASL and the like): <c>Kafka:Common</c> for every
    /// client, <c>Kafka:Consumer</c> and <c>Kafka:Producer</c> over it, for example
    /// <c>KOMMUNE_Kafka__Common__security.protocol=SASL_SSL</c> or <c>KOMMUNE_Kafka__Common__SASL_PASSWORD</c>
    /// (an underscore in a key is read as a dot). See <see cref="KafkaClientSettings"/>.
    /// </summary>
    public KafkaSections Kafka { get; set; } = new();

    /// <summary>Most events in flight before the consumer pauses (bounds memory).</summary>
    public int MaxInFlightEvents { get; set; } = 10_000;

    /// <summary>
    /// Most events taken and not yet complete before the consumer pauses: being processed, or processed and waiting
    /// for the state they changed to be written and acknowledged. Events wait for their key's next checkpoint by
    /// design, so at a steady rate about rate × <see cref="StateInterval"/> of them wait; this bound is for state writes
    /// that fall behind (a slow broker), not for that. Null (the default): 160,000 or four times
    /// <see cref="MaxInFlightEvents"/>, whichever is more: 160,000 events a second at the default interval, for roughly
    /// 20 MB (a processed event waiting for its state keeps only its offset and completion, about 130 bytes).
    /// </summary>
    public int? MaxEventsAwaitingCommit { get; set; }

    /// <summary>What <see cref="MaxEventsAwaitingCommit"/> comes to.</summary>
    internal int EffectiveMaxEventsAwaitingCommit => MaxEventsAwaitingCommit ?? (int)Math.Max(DefaultMaxEventsAwaitingCommit, Math.Min(int.MaxValue, 4L * MaxInFlightEvents));

    /// <summary>The default floor of <see cref="MaxEventsAwaitingCommit"/>.</summary>
    internal const int DefaultMaxEventsAwaitingCommit = 160_000;

    /// <summary>How often done offsets are committed.</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the group waits for a silent engine node before moving its partitions.</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A sensor actor with no message for this long is stopped (passivated; its area checks every half of it, so within
    /// one and a half); one whose rules hold state falls asleep (its area keeps the state's bytes) when it has no open
    /// alert and no processing-time timer; its next event starts it again.
    /// </summary>
    public TimeSpan SensorIdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>An area actor with no sensors and no event for this long is stopped.</summary>
    public TimeSpan AreaIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Largest accepted event, in bytes.</summary>
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>How far in the future of the engine's clock an event time may lie.</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Events stamped before this are dead-lettered: a sensor whose clock was reset sends 1970-01-01 (default
    /// 2000-01-01T00:00:00Z; set it earlier to replay older history).
    /// </summary>
    public DateTimeOffset EarliestEventTime { get; set; } = SensorEventLimits.DefaultEarliestEventTime;

    /// <summary>
    /// A partition whose committed offset has not moved for this long while records wait beyond it is stalled:
    /// <c>/readyz</c> fails naming it, <c>kommune_partition_stalled</c> is 1 for it, and a warning names its offset.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Exactly-once mode: after this many epochs aborted in a row (each redone from the last committed state), the node
    /// is not ready (<c>/readyz</c>) until an epoch commits again.
    /// </summary>
    public int AbortedEpochsBeforeNotReady { get; set; } = 3;

    /// <summary>
    /// When partitions go to another node: how long the records of them in flight may take to finish, and then how long
    /// their actors may take to write their state and stop, before the partitions go anyway.
    /// </summary>
    public TimeSpan HandOverTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most sensor and area actors a node may hold for its graceful hand-overs to write every key's state whole and
    /// mark the state partitions handed over, so that their next owner reads them only from there (docs/reliability.md,
    /// "Restoring after a graceful stop"). A node with more writes only what changed and marks nothing: writing every
    /// state must fit in <see cref="HandOverTimeout"/> (measured: 1–6 s for the 61,000 states of 100,000 sensor actors on
    /// 2 cores). 0 turns the marks off.
    /// </summary>
    public int HandOverWholeStateMaxActors { get; set; } = 150_000;

    /// <summary>How long a graceful stop waits for events in flight.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether rule state (keyed state, timers, open alerts) is written to the state topic and restored from it when
    /// partitions are assigned, so that a restart continues where the committed offsets are. On by default; off
    /// (KOMMUNE_PersistState=false) trades that for throughput: a restart then starts the rules with empty state.
    /// </summary>
    public bool PersistState { get; set; } = true;

    /// <summary>
    /// How long changed state may wait before it is written (the checkpoint interval). An event that changed state is
    /// committed only after it; while it waits it does not count against MaxInFlightEvents (up to 4 × that many).
    /// At-least-once only: in exactly-once mode changed state is written once per epoch (<see cref="CommitInterval"/>),
    /// when the epoch asks for it.
    /// </summary>
    public TimeSpan StateInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether a key's state of 2 KB to 64 KB (an energy meter's detector, an area's parking sensors) is written as what
    /// changed since a whole copy of it, the key's base, with a new base once the changes reach half the state
    /// (docs/reliability.md, "State records"). Off by default (KOMMUNE_StateDeltas=true turns it on): it cuts a meter's
    /// state record from about 5 KB to about 600 B at the same CPU per event, but on the embedded broker the engine kept
    /// up with fewer events per second with it (bench/README.md, round nine); it pays where the state topic's bytes
    /// (stored, replicated, sent over a network) cost more than that.
    /// </summary>
    public bool StateDeltas { get; set; }

    /// <summary>
    /// At-least-once (the default): an offset is committed once its event's outputs and state are acknowledged; after a
    /// crash some outputs may be written again, byte-identical (docs/alerts.md). Exactly-once (configuration value
    /// <c>exactly-once</c>, needs <see cref="PersistState"/>): outputs, state records and offsets commit in one Kafka
    /// transaction per epoch (<see cref="CommitInterval"/>), so read_committed consumers see each output once.
    /// </summary>
    public ProcessingGuarantee ProcessingGuarantee { get; set; } = ProcessingGuarantee.AtLeastOnce;

    /// <summary>
    /// Exactly-once mode: this node's transactional.id, stable across its restarts and unique among the nodes (a restarted
    /// node fences its predecessor with it). Defaults to the group id and the node id.
    /// </summary>
    public string? TransactionalId { get; set; }

    /// <summary>The transactional.id this node uses in exactly-once mode.</summary>
    public string EffectiveTransactionalId => string.IsNullOrWhiteSpace(TransactionalId) ? $"{GroupId}-{EffectiveNodeId}" : TransactionalId;

    /// <summary>How long restoring the state of newly assigned partitions may take before the engine goes on without the rest.</summary>
    public TimeSpan StateRestoreTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Producer linger: batching delay for output records.</summary>
    public TimeSpan ProducerLinger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How far out of order events may arrive: a partition's watermark is its newest event time minus this.</summary>
    public TimeSpan OutOfOrderness { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How far behind the watermark an event may still be used; older events go to the dead-letter topic as late.</summary>
    public TimeSpan AllowedLateness { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A partition with no event for this long stops holding the watermark back.</summary>
    public TimeSpan IdlePartitionTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most event-time timers one sensor or area may hold over all its rules (each open window has one or two). Beyond
    /// this (a watermark held far behind a key's events), the earliest fire ahead of the watermark, closing their windows
    /// early, and each is counted and logged as the rule problem <c>timer-limit</c>.
    /// </summary>
    public int MaxEventTimeTimersPerKey { get; set; } = 10_000;

    /// <summary>The rules file (JSON) binding rules to sensor types and areas; every built-in municipal rule with its defaults when empty.</summary>
    public string? RulesFile { get; set; }

    /// <summary>The folder of rule plugins, one subfolder per plugin; none when empty.</summary>
    public string? PluginsFolder { get; set; }

    /// <summary>Whether to reload the rules when the rules file or a plugin changes.</summary>
    public bool WatchRules { get; set; } = true;

    /// <summary>Partitions per topic when the embedded broker creates the topics.</summary>
    public int Partitions { get; set; } = 12;

    /// <summary>
    /// Port of the HTTP endpoint for SREs: <c>/metrics</c> (Prometheus), <c>/healthz</c> and <c>/readyz</c>. Default
    /// 9464 (the port Prometheus exporters conventionally use); 0 takes any free port; -1 serves nothing.
    /// </summary>
    public int MetricsPort { get; set; } = 9464;

    /// <summary>The address that endpoint listens on: 0.0.0.0 (every interface, so Prometheus can reach it), or one address.</summary>
    public string MetricsHost { get; set; } = "0.0.0.0";

    /// <summary>Log format on standard output: <c>json</c> (one JSON object per line, for log collectors) or <c>text</c>; the demo defaults to text.</summary>
    public string? LogFormat { get; set; }

    /// <summary>Topic names, bindable from configuration.</summary>
    public sealed class TopicNames
    {
        /// <summary>Sensor events in.</summary>
        public string SensorEvents { get; set; } = new KafkaTopics().SensorEvents;

        /// <summary>Acknowledgements in.</summary>
        public string Acks { get; set; } = new KafkaTopics().Acks;

        /// <summary>Alerts out.</summary>
        public string Alerts { get; set; } = new KafkaTopics().Alerts;

        /// <summary>Aggregates out.</summary>
        public string Aggregates { get; set; } = new KafkaTopics().Aggregates;

        /// <summary>Dead letters out.</summary>
        public string DeadLetters { get; set; } = new KafkaTopics().DeadLetters;

        /// <summary>Rule state snapshots.</summary>
        public string State { get; set; } = new KafkaTopics().State;

        /// <summary>The engine's internal topic (area work, watermarks, forwarded commands); as many partitions as SensorEvents.</summary>
        public string Repartition { get; set; } = new KafkaTopics().Repartition;
    }

    /// <summary>librdkafka properties by section, bindable from configuration; keys are librdkafka's property names.</summary>
    public sealed class KafkaSections
    {
        /// <summary>For every Kafka client the engine makes.</summary>
        public Dictionary<string, string?> Common { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>For its consumers, over <see cref="Common"/>.</summary>
        public Dictionary<string, string?> Consumer { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>For its producers, over <see cref="Common"/>.</summary>
        public Dictionary<string, string?> Producer { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The librdkafka settings as every Kafka client of the engine takes them.</summary>
    public KafkaClientSettings ToKafkaClientSettings() => new(Kafka.Common, Kafka.Consumer, Kafka.Producer);

    /// <summary>The topic names as the connectors take them.</summary>
    public KafkaTopics ToKafkaTopics() => new()
    {
        SensorEvents = Topics.SensorEvents,
        Acks = Topics.Acks,
        Alerts = Topics.Alerts,
        Aggregates = Topics.Aggregates,
        DeadLetters = Topics.DeadLetters,
        State = Topics.State,
        Repartition = Topics.Repartition,
    };

    /// <summary>The event-time settings as the rule runtime takes them.</summary>
    public EventTimeSettings ToEventTimeSettings() => new()
    {
        OutOfOrderness = OutOfOrderness,
        AllowedLateness = AllowedLateness,
        IdlePartitionTimeout = IdlePartitionTimeout,
        MaxEventTimeTimersPerKey = MaxEventTimeTimersPerKey,
    };

    /// <summary>The decoder's limits.</summary>
    public SensorEventLimits ToLimits() => new(MaxEventBytes, MaxFutureSkew) { EarliestEventTime = EarliestEventTime };

    /// <summary>Checks the settings and names every wrong one.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            errors.Add("BootstrapServers is required (--bootstrap-servers or KOMMUNE_BootstrapServers)");
        }

        if (string.IsNullOrWhiteSpace(GroupId))
        {
            errors.Add("GroupId must not be empty");
        }

        // Kafka's rule for group.instance.id: at most 249 of letters, digits, '.', '_' and '-'.
        if (EffectiveNodeId is { Length: 0 or > 249 } || !EffectiveNodeId.All(IsNodeIdCharacter))
        {
            errors.Add($"NodeId must be 1 to 249 letters, digits, '.', '_' or '-' (Kafka's rule for group.instance.id), not '{EffectiveNodeId}'");
        }

        if (MaxInFlightEvents < 1)
        {
            errors.Add($"MaxInFlightEvents must be at least 1, not {MaxInFlightEvents}");
        }

        if (MaxEventsAwaitingCommit is { } awaiting && awaiting < MaxInFlightEvents)
        {
            errors.Add($"MaxEventsAwaitingCommit must be at least MaxInFlightEvents ({MaxInFlightEvents}), not {awaiting}: events being processed await their commit too");
        }

        if (CommitInterval <= TimeSpan.Zero)
        {
            errors.Add($"CommitInterval must be positive, not {CommitInterval}");
        }

        if (StallTimeout <= TimeSpan.Zero)
        {
            errors.Add($"StallTimeout must be positive, not {StallTimeout}");
        }

        if (AbortedEpochsBeforeNotReady < 1)
        {
            errors.Add($"AbortedEpochsBeforeNotReady must be at least 1, not {AbortedEpochsBeforeNotReady}");
        }

        if (StateInterval <= TimeSpan.Zero || StateRestoreTimeout <= TimeSpan.Zero)
        {
            errors.Add("StateInterval and StateRestoreTimeout must be positive");
        }

        if (SensorIdleTimeout <= TimeSpan.Zero || AreaIdleTimeout <= TimeSpan.Zero)
        {
            errors.Add("SensorIdleTimeout and AreaIdleTimeout must be positive");
        }

        if (OutOfOrderness < TimeSpan.Zero || AllowedLateness < TimeSpan.Zero)
        {
            errors.Add("OutOfOrderness and AllowedLateness must not be negative");
        }

        if (IdlePartitionTimeout <= TimeSpan.Zero)
        {
            errors.Add($"IdlePartitionTimeout must be positive, not {IdlePartitionTimeout}");
        }

        if (MaxEventTimeTimersPerKey < 1)
        {
            errors.Add($"MaxEventTimeTimersPerKey must be at least 1, not {MaxEventTimeTimersPerKey}");
        }

        if (MaxEventBytes < 64)
        {
            errors.Add($"MaxEventBytes must be at least 64, not {MaxEventBytes}");
        }

        if (ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce && !PersistState)
        {
            errors.Add("ProcessingGuarantee exactly-once needs PersistState: state records commit in the same transaction as the offsets");
        }

        if (MetricsPort is < -1 or > 65535)
        {
            errors.Add($"MetricsPort must be a port (0 for any free one, -1 for none), not {MetricsPort}");
        }

        if (MetricsHost is not ("" or "*" or "+" or "localhost") && !System.Net.IPAddress.TryParse(MetricsHost, out _))
        {
            errors.Add($"MetricsHost must be an IP address (0.0.0.0 for every interface), not '{MetricsHost}'");
        }

        if (LogFormat is not (null or "json" or "text"))
        {
            errors.Add($"LogFormat must be json or text, not '{LogFormat}'");
        }

        if (EarliestEventTime < DateTimeOffset.UnixEpoch)
        {
            errors.Add($"EarliestEventTime must not be before 1970-01-01T00:00:00Z, not {EarliestEventTime:O}");
        }

        if (Partitions < 1)
        {
            errors.Add($"Partitions must be at least 1, not {Partitions}");
        }

        var names = new[] { Topics.SensorEvents, Topics.Acks, Topics.Alerts, Topics.Aggregates, Topics.DeadLetters, Topics.State, Topics.Repartition };
        if (names.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("every topic name under Topics must be set");
        }
        else if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            errors.Add("topic names under Topics must differ from each other");
        }

        errors.AddRange(ToKafkaClientSettings().Problems());

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid engine configuration: " + string.Join("; ", errors));
        }
    }
}

/// <summary>What a crash or a broker fault may do to the outputs.</summary>
public enum ProcessingGuarantee
{
    /// <summary>Nothing is lost; an output may be written again (byte-identical, same alertId and sequence).</summary>
    AtLeastOnce,

    /// <summary>Outputs, state and offsets commit in one Kafka transaction per epoch: read_committed consumers see each output once.</summary>
    ExactlyOnce,
}

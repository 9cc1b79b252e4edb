using System.Collections.Frozen;
using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// librdkafka properties from configuration for every Kafka client the engine makes: <see cref="Common"/> for all of
/// them, then <see cref="Consumer"/> for consumers or <see cref="Producer"/> for producers (admin clients take the
/// common ones only). This is how TLS and SASL reach the clients, for example <c>security.protocol=SASL_SSL</c>,
/// <c>sasl.mechanism=SCRAM-SHA-512</c>, <c>sasl.username</c> and <c>sasl.password</c>. They are applied over the
/// engine's own settings of each client; the keys the engine must set itself (<see cref="EngineControlledKeys"/>) are
/// refused by <see cref="Problems"/>. Keys are librdkafka's property names; an underscore is read as a dot and case is
/// ignored, so an environment variable can spell <c>sasl.password</c> as <c>SASL_PASSWORD</c>.
/// </summary>
public sealed class KafkaClientSettings
{
    /// <summary>No settings beyond the engine's own.</summary>
    public static KafkaClientSettings None { get; } = new();

    /// <summary>
    /// The keys the engine sets itself because its guarantees or its own options depend on them, each with the reason
    /// it gives when one is configured. Every <c>dotnet.</c> key (the .NET client's own settings, such as delivery
    /// reports) is refused too.
    /// </summary>
    public static IReadOnlyDictionary<string, string> EngineControlledKeys { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["bootstrap.servers"] = "use BootstrapServers (--bootstrap-servers)",
        ["metadata.broker.list"] = "use BootstrapServers (--bootstrap-servers)",
        ["group.id"] = "the engine names its consumer groups after GroupId (--group-id)",
        ["group.instance.id"] = "use NodeId (--node-id) and StaticMembership",
        ["group.protocol"] = "the engine's incremental rebalancing is built on the classic group protocol",
        ["partition.assignment.strategy"] = "the engine's hand-over of partitions needs cooperative-sticky assignment",
        ["session.timeout.ms"] = "use SessionTimeout",
        ["enable.auto.commit"] = "the engine commits an offset only once its event's outputs and state are written",
        ["enable.auto.offset.store"] = "the engine commits an offset only once its event's outputs and state are written",
        ["auto.commit.interval.ms"] = "use CommitInterval",
        ["auto.offset.reset"] = "the engine reads a partition without committed offsets from its start",
        ["isolation.level"] = "the engine reads committed records only, so aborted exactly-once epochs are never seen",
        ["enable.partition.eof"] = "the engine's watermark and state restore need to know where each partition ends",
        ["enable.idempotence"] = "outputs must be neither lost nor duplicated by producer retries",
        ["acks"] = "outputs must be acknowledged by every in-sync replica (acks=all)",
        ["request.required.acks"] = "outputs must be acknowledged by every in-sync replica (acks=all)",
        ["transactional.id"] = "use TransactionalId (--transactional-id) with ProcessingGuarantee exactly-once",
        ["transaction.timeout.ms"] = "the engine times its transactions' commits and aborts with it",
        ["linger.ms"] = "use ProducerLinger (the engine sets each producer's own)",
        ["queue.buffering.max.ms"] = "use ProducerLinger (the engine sets each producer's own)",
        ["partitioner"] = "every record of one key must go to the same partition, as the engine chooses it",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Parts of a key that mark its value as secret: such values are shown as <c>***</c>.</summary>
    private static readonly string[] SecretKeyParts = ["password", "passphrase", "secret", "private.key", "ssl.key", "sasl.oauthbearer.config", "jaas"];

    private const string Masked = "***";

    private readonly List<string> _problems = [];

    /// <summary>Settings from the three sections; a null section is empty.</summary>
    /// <param name="common">For every client (configuration section <c>Kafka:Common</c>).</param>
    /// <param name="consumer">For consumers, over the common ones (<c>Kafka:Consumer</c>).</param>
    /// <param name="producer">For producers, over the common ones (<c>Kafka:Producer</c>).</param>
    public KafkaClientSettings(
        IEnumerable<KeyValuePair<string, string?>>? common = null,
        IEnumerable<KeyValuePair<string, string?>>? consumer = null,
        IEnumerable<KeyValuePair<string, string?>>? producer = null)
    {
        Common = Read("Kafka:Common", common);
        Consumer = Read("Kafka:Consumer", consumer);
        Producer = Read("Kafka:Producer", producer);
    }

    private KafkaClientSettings(KafkaClientSettings settings, Action<ClientConfig> observer)
    {
        Common = settings.Common;
        Consumer = settings.Consumer;
        Producer = settings.Producer;
        _problems = settings._problems;
        _observer = observer;
    }

    private readonly Action<ClientConfig>? _observer;

    /// <summary>Properties for every client, by librdkafka name.</summary>
    public IReadOnlyDictionary<string, string> Common { get; }

    /// <summary>Properties for consumers, applied after <see cref="Common"/>.</summary>
    public IReadOnlyDictionary<string, string> Consumer { get; }

    /// <summary>Properties for producers, applied after <see cref="Common"/>.</summary>
    public IReadOnlyDictionary<string, string> Producer { get; }

    /// <summary>Whether there is any setting at all.</summary>
    public bool IsEmpty => Common.Count == 0 && Consumer.Count == 0 && Producer.Count == 0;

    /// <summary>
    /// What is wrong with the settings, each naming its key: a key the engine sets itself, an empty value, or a key
    /// given twice in one section in different spellings. Empty when they can be used. Whether librdkafka accepts them
    /// is <see cref="ThrowIfRefusedByClient"/>'s to say.
    /// </summary>
    public IReadOnlyList<string> Problems() => _problems;

    /// <summary>The consumer's configuration: <paramref name="config"/> (the engine's settings) with the common, then the consumer settings over it.</summary>
    public ConsumerConfig ApplyTo(ConsumerConfig config) => Apply(config, Common, Consumer);

    /// <summary>The producer's configuration: <paramref name="config"/> (the engine's settings) with the common, then the producer settings over it.</summary>
    public ProducerConfig ApplyTo(ProducerConfig config) => Apply(config, Common, Producer);

    /// <summary>An admin client's configuration: <paramref name="config"/> with the common settings over it.</summary>
    public AdminClientConfig ApplyTo(AdminClientConfig config) => Apply(config, Common, null);

    /// <summary>Whether a key's value is secret (a password, a private key, an OAuth secret): it is logged as <c>***</c>.</summary>
    public static bool IsSecret(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var normalized = Normalize(key);
        return SecretKeyParts.Any(part => normalized.Contains(part, StringComparison.Ordinal));
    }

    /// <summary>
    /// Checks that librdkafka accepts these settings by building a consumer and a producer with them (each is disposed at
    /// once; neither subscribes or sends). librdkafka checks property names, values and combinations (a SASL mechanism
    /// it does not know, SCRAM without a user name) when a client is built.
    /// </summary>
    /// <param name="bootstrapServers">The cluster the clients would connect to.</param>
    /// <exception cref="ArgumentException">The client refused the settings; the message says which section and why.</exception>
    public void ThrowIfRefusedByClient(string bootstrapServers)
    {
        ArgumentException.ThrowIfNullOrEmpty(bootstrapServers);
        Build("Kafka:Common with Kafka:Consumer", Merged(Consumer), () =>
        {
            using var consumer = new ConsumerBuilder<byte[], byte[]>(ApplyTo(new ConsumerConfig
            {
                BootstrapServers = bootstrapServers,
                GroupId = "kommune-settings-check", // never joined
                ClientId = "kommune-settings-check",
            })).SetLogHandler((_, _) => { }).Build();
        });
        Build("Kafka:Common with Kafka:Producer", Merged(Producer), () =>
        {
            using var producer = new ProducerBuilder<byte[], byte[]>(ApplyTo(new ProducerConfig
            {
                BootstrapServers = bootstrapServers,
                EnableIdempotence = true,
                Acks = Acks.All,
                ClientId = "kommune-settings-check",
            })).SetLogHandler((_, _) => { }).Build();
        });
    }

    /// <summary>The settings by section, secrets as <c>***</c>: safe to log.</summary>
    public override string ToString() => IsEmpty
        ? "none"
        : string.Join("; ", new[] { ("Common", Common), ("Consumer", Consumer), ("Producer", Producer) }
            .Where(s => s.Item2.Count > 0)
            .Select(s => $"{s.Item1}: {Describe(s.Item2)}"));

    /// <summary>These settings, also calling <paramref name="observer"/> with every client's final configuration (tests see what each client got).</summary>
    internal KafkaClientSettings Observed(Action<ClientConfig> observer) => new(this, observer);

    private Dictionary<string, string> Merged(IReadOnlyDictionary<string, string> specific)
    {
        var merged = new Dictionary<string, string>(Common, StringComparer.Ordinal);
        foreach (var (key, value) in specific)
        {
            merged[key] = value;
        }

        return merged;
    }

    private static string Describe(IEnumerable<KeyValuePair<string, string>> settings) =>
        string.Join(", ", settings.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={(IsSecret(s.Key) ? Masked : s.Value)}"));

    private static void Build(string sections, IEnumerable<KeyValuePair<string, string>> settings, Action build)
    {
        try
        {
            build();
        }
        catch (Exception e) when (e is ArgumentException or KafkaException or InvalidOperationException)
        {
            // librdkafka names the property in most of its messages; the settings are listed (masked) for the rest.
            throw new ArgumentException($"Invalid Kafka client settings: librdkafka refused {sections} ({Describe(settings)}): {e.Message}", e);
        }
    }

    private T Apply<T>(T config, IReadOnlyDictionary<string, string> common, IReadOnlyDictionary<string, string>? specific)
        where T : ClientConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (var (key, value) in common)
        {
            config.Set(key, value);
        }

        foreach (var (key, value) in specific ?? FrozenDictionary<string, string>.Empty)
        {
            config.Set(key, value);
        }

        _observer?.Invoke(config);
        return config;
    }

    private static string Normalize(string key) => key.Trim().Replace('_', '.').ToLowerInvariant();

    private FrozenDictionary<string, string> Read(string section, IEnumerable<KeyValuePair<string, string?>>? settings)
    {
        var read = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (given, value) in settings ?? [])
        {
            var key = Normalize(given);
            if (EngineControlledKeys.TryGetValue(key, out var reason))
            {
                _problems.Add($"{section}:{key} is set by the engine and cannot be configured: {reason}");
            }
            else if (key.StartsWith("dotnet.", StringComparison.Ordinal))
            {
                _problems.Add($"{section}:{key} is set by the engine and cannot be configured: the engine relies on the .NET client's own settings");
            }
            else if (string.IsNullOrWhiteSpace(value))
            {
                _problems.Add($"{section}:{key} is empty (is the environment variable that should set it missing?)");
            }
            else if (!read.TryAdd(key, value))
            {
                _problems.Add($"{section}:{key} is given twice, in two spellings");
            }
        }

        return read.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

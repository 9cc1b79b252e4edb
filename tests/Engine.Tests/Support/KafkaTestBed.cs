using System.Text;
using Confluent.Kafka;
using Kommune.Rules.Runtime;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Support;

/// <summary>
/// A fresh embedded Kafka cluster (the real wire protocol) with the engine's topics, plus helpers to produce
/// input, start engines and read output topics. Every wait is bounded and waits on data, never on a sleep.
/// </summary>
internal sealed class KafkaTestBed : IDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(60);

    private readonly IProducer<byte[]?, byte[]?> _producer;

    public KafkaTestBed(ITestOutputHelper output, int partitions = 4, int brokers = 1)
    {
        Output = output;
        Partitions = partitions;
        Cluster = EmbeddedKafkaCluster.Start(brokers);
        Options = new EngineOptions { BootstrapServers = Cluster.BootstrapServers, CommitInterval = TimeSpan.FromMilliseconds(200) };
        foreach (var topic in Options.ToKafkaTopics().All)
        {
            Cluster.CreateTopic(topic, partitions, replicationFactor: brokers);
        }

        _producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = Cluster.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = 1,
            // Large enough for the largest record the embedded broker keeps (its partitions hold about 5 MiB).
            MessageMaxBytes = 6_000_000,
        }).SetLogHandler((_, _) => { }).Build();
        Logs = new TestOutputLoggerProvider(output);
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b
            .AddProvider(Logs)
            .SetMinimumLevel(LogLevel.Information));
    }

    public EmbeddedKafkaCluster Cluster { get; }

    public int Partitions { get; }

    public EngineOptions Options { get; }

    public ITestOutputHelper Output { get; }

    public ILoggerFactory LoggerFactory { get; }

    /// <summary>What the engines of this bed logged (their errors kept for assertions).</summary>
    public TestOutputLoggerProvider Logs { get; }

    public string BootstrapServers => Cluster.BootstrapServers;

    /// <summary>Starts an engine on this cluster with the bed's options, adjusted by <paramref name="configure"/>.</summary>
    public async Task<KommuneEngine> StartEngineAsync(Action<EngineOptions>? configure = null, RuleSet? rules = null, TimeProvider? clock = null)
    {
        var engine = CreateEngine(configure, rules, clock);
        await engine.StartAsync();
        return engine;
    }

    /// <summary>An engine on this cluster with the bed's options, adjusted by <paramref name="configure"/>; not started.</summary>
    public KommuneEngine CreateEngine(Action<EngineOptions>? configure = null, RuleSet? rules = null, TimeProvider? clock = null)
    {
        var options = new EngineOptions
        {
            BootstrapServers = Options.BootstrapServers,
            CommitInterval = Options.CommitInterval,
            GroupId = Options.GroupId,
            ShutdownTimeout = TimeSpan.FromSeconds(20),
            ProducerLinger = TimeSpan.FromMilliseconds(1),
            // The embedded broker keeps a closed consumer in its group until the session times out.
            SessionTimeout = TimeSpan.FromSeconds(3),
            // The embedded broker does not implement KIP-345: it never hands a restarted static member its old place,
            // and keeps a static member that stopped (which sends no LeaveGroup) until its session expires, so engines
            // stopped and started within a test would each wait for that. RestartTimeTests measure both kinds.
            StaticMembership = false,
        };
        configure?.Invoke(options);
        return new KommuneEngine(options, LoggerFactory, rules, clock);
    }

    public void Produce(string topic, byte[]? key, byte[]? value, Headers? headers = null) =>
        _producer.Produce(topic, new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = headers });

    public void Produce(TopicPartition destination, byte[]? key, byte[]? value) =>
        _producer.Produce(destination, new Message<byte[]?, byte[]?> { Key = key, Value = value });

    public void ProduceEvent(SensorEvent e) =>
        Produce(Options.Topics.SensorEvents, Encoding.UTF8.GetBytes(e.SensorId), SensorEventEncoder.Encode(e));

    public void ProduceRaw(string? key, string? json) =>
        Produce(Options.Topics.SensorEvents, key is null ? null : Encoding.UTF8.GetBytes(key), json is null ? null : Encoding.UTF8.GetBytes(json));

    /// <summary>
    /// Produces one fall event into every partition of the sensor-events topic and returns their alert ids. Once
    /// all those alerts are read, every record produced before was consumed; a graceful stop then drains them.
    /// </summary>
    public List<string> ProduceBarrier()
    {
        var ids = new List<string>();
        for (var p = 0; p < Partitions; p++)
        {
            var fall = Events.Fall($"barrier-{p}", "barrier", 6_000 + p);
            _producer.Produce(new TopicPartition(Options.Topics.SensorEvents, p), new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(fall.SensorId),
                Value = SensorEventEncoder.Encode(fall),
            });
            ids.Add(Events.AlertId(fall));
        }

        Flush();
        return ids;
    }

    public void Flush()
    {
        var left = _producer.Flush(TimeSpan.FromSeconds(30));
        if (left != 0)
        {
            throw new InvalidOperationException($"{left} test records were not delivered to the embedded broker");
        }
    }

    /// <summary>
    /// Reads <paramref name="topic"/> from the beginning of every partition (no consumer group) until
    /// <paramref name="done"/> holds for what was read, or the wait runs out.
    /// </summary>
    public List<ConsumeResult<byte[]?, byte[]?>> ReadUntil(string topic, Func<List<ConsumeResult<byte[]?, byte[]?>>, bool> done, TimeSpan? wait = null)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = "test-reader",
            EnableAutoCommit = false,
        }).SetLogHandler((_, _) => { }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)).ToList();
        consumer.Assign(partitions);
        var records = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (!done(records) && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is not null && !r.IsPartitionEOF)
            {
                records.Add(r);
            }
        }

        return records;
    }

    /// <summary>Waits (polling every 20 ms, at most <see cref="DefaultWait"/>) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(DefaultWait);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>
    /// Waits (polling every 50 ms, at most <see cref="DefaultWait"/>) until an asynchronous <paramref name="condition"/>
    /// holds, such as an HTTP answer; <paramref name="explain"/> says what was seen when it never did.
    /// </summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<string>? explain = null)
    {
        var deadline = DateTime.UtcNow + DefaultWait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(explain?.Invoke() ?? "The condition did not hold within the wait.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Reads until at least <paramref name="count"/> records are there.</summary>
    public List<ConsumeResult<byte[]?, byte[]?>> ReadAtLeast(string topic, int count, TimeSpan? wait = null) =>
        ReadUntil(topic, r => r.Count >= count, wait);

    /// <summary>Reads alerts until every id in <paramref name="expectedAlertIds"/> was seen.</summary>
    public HashSet<string> ReadAlertIds(IReadOnlyCollection<string> expectedAlertIds, TimeSpan? wait = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var read = 0;
        ReadUntil(Options.Topics.Alerts, records =>
        {
            for (; read < records.Count; read++)
            {
                seen.Add(Encoding.UTF8.GetString(records[read].Message.Key!));
            }

            return expectedAlertIds.All(seen.Contains);
        }, wait);
        return seen;
    }

    /// <summary>The group's committed offsets against each partition's end, summed over the partitions.</summary>
    public (long Committed, long End) CommittedAndEnd(string groupId, string topic) => (Committed(groupId, topic).Sum(), Ends(topic).Sum());

    /// <summary>The group the engine commits the repartition topic's offsets under (<c>KafkaSourceOptions.RepartitionGroupId</c>'s default).</summary>
    public static string RepartitionGroup(string groupId) => groupId + "-repartition";

    /// <summary>The end offset of each partition of the topic, now.</summary>
    public long[] Ends(string topic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = BootstrapServers, GroupId = "test-watermarks" })
            .SetLogHandler((_, _) => { }).Build();
        return Enumerable.Range(0, Partitions).Select(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value).ToArray();
    }

    /// <summary>The group's committed offset of each partition of the topic (0 where none is).</summary>
    public long[] Committed(string groupId, string topic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = groupId,
            EnableAutoCommit = false,
        }).SetLogHandler((_, _) => { }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(topic, p)).ToList();
        return consumer.Committed(partitions, TimeSpan.FromSeconds(10)).OrderBy(c => c.Partition.Value).Select(c => Math.Max(0, c.Offset.Value)).ToArray();
    }

    public WatermarkOffsets Watermarks(string topic, int partition)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = BootstrapServers, GroupId = "test-watermarks" })
            .SetLogHandler((_, _) => { }).Build();
        return consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(10));
    }

    public void Dispose()
    {
        _producer.Dispose();
        LoggerFactory.Dispose();
        Cluster.Dispose();
    }
}

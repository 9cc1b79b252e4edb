using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Reads topics from the start of every partition and then follows them, on its own thread, handing each record to
/// a callback: how a view (the operations console) builds the latest state per key and keeps it current. It joins no
/// consumer group and commits nothing, so every follower sees the whole topic; partitions added later, and topics
/// created after it started, are picked up within <see cref="MetadataInterval"/>. <see cref="CaughtUp"/> completes
/// once every partition was read to the end it had at start.
/// </summary>
public sealed partial class KafkaTopicFollower : IDisposable
{
    /// <summary>How often the topics' partitions are looked up again.</summary>
    public static readonly TimeSpan MetadataInterval = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(100);
    private readonly string _bootstrapServers;
    private readonly KafkaClientSettings _clientSettings;
    private readonly IReadOnlyList<string> _topics;
    private readonly Action<TopicRecord> _onRecord;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<TopicPartition> _assigned = [];
    private readonly HashSet<TopicPartition> _behind = [];
    private readonly Dictionary<string, DateTimeOffset> _lastRecord = new(StringComparer.Ordinal);
    private Thread? _thread;
    private long _records;

    /// <summary>A follower that is not yet reading.</summary>
    /// <param name="bootstrapServers">The cluster.</param>
    /// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the consumer's own.</param>
    /// <param name="topics">The topics to read.</param>
    /// <param name="onRecord">Called for every record, in order within a partition, on the follower's thread; it must not block for long.</param>
    /// <param name="logger">Where the follower logs.</param>
    public KafkaTopicFollower(string bootstrapServers, KafkaClientSettings clientSettings, IReadOnlyList<string> topics, Action<TopicRecord> onRecord, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(bootstrapServers);
        ArgumentNullException.ThrowIfNull(clientSettings);
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(onRecord);
        ArgumentNullException.ThrowIfNull(logger);
        _bootstrapServers = bootstrapServers;
        _clientSettings = clientSettings;
        _topics = topics;
        _onRecord = onRecord;
        _logger = logger;
    }

    /// <summary>Completes once every partition that existed at start was read to the end it had then.</summary>
    public Task CaughtUp => _caughtUp.Task;

    /// <summary>Records handed over so far.</summary>
    public long Records => Interlocked.Read(ref _records);

    /// <summary>The timestamp of the newest record read per topic (topics with none are absent).</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> LastRecordTimes
    {
        get
        {
            lock (_lastRecord)
            {
                return new Dictionary<string, DateTimeOffset>(_lastRecord, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Starts reading on its own thread.</summary>
    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "kommune-follower" };
        _thread.Start();
    }

    /// <summary>Stops reading and waits for the thread.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _thread?.Join();
        _thread = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private void Run()
    {
        try
        {
            using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(_clientSettings.ApplyTo(new ConsumerConfig
            {
                BootstrapServers = _bootstrapServers,
                // Required by the client even though no group is joined (Assign, no commits).
                GroupId = $"kommune-follower-{Guid.NewGuid():N}",
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
                EnablePartitionEof = true,
                // A view people watch: a record waits at most this long in an idle fetch.
                FetchWaitMaxMs = 10,
                SocketNagleDisable = true,
                ClientId = "kommune-follower",
            })).SetLogHandler((_, _) => { }).Build();
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var nextLookup = DateTime.MinValue;
            var first = true;
            while (!_stop.IsCancellationRequested)
            {
                if (DateTime.UtcNow >= nextLookup)
                {
                    AssignNewPartitions(consumer, admin, atStart: first);
                    first = false;
                    nextLookup = DateTime.UtcNow + MetadataInterval;
                }

                ConsumeOne(consumer);
            }

            consumer.Close();
        }
        catch (Exception e) when (e is KafkaException or ObjectDisposedException)
        {
            LogFailed(_logger, e);
            _caughtUp.TrySetException(e);
        }
    }

    private void ConsumeOne(IConsumer<byte[]?, byte[]?> consumer)
    {
        ConsumeResult<byte[]?, byte[]?>? result;
        try
        {
            result = consumer.Consume(PollTimeout);
        }
        catch (ConsumeException e)
        {
            LogConsumeError(_logger, e.Error.Reason);
            return;
        }

        if (result is null)
        {
            return;
        }

        if (result.IsPartitionEOF)
        {
            if (_behind.Remove(result.TopicPartition) && _behind.Count == 0)
            {
                _caughtUp.TrySetResult();
            }

            return;
        }

        var headers = result.Message.Headers is { Count: > 0 } h
            ? h.Select(x => new KeyValuePair<string, byte[]>(x.Key, x.GetValueBytes())).ToList()
            : (IReadOnlyList<KeyValuePair<string, byte[]>>)[];
        var timestamp = result.Message.Timestamp.Type == TimestampType.NotAvailable
            ? DateTimeOffset.UtcNow
            : new DateTimeOffset(result.Message.Timestamp.UtcDateTime, TimeSpan.Zero);
        lock (_lastRecord)
        {
            _lastRecord[result.Topic] = timestamp;
        }

        Interlocked.Increment(ref _records);
        _onRecord(new TopicRecord(result.Topic, result.Partition.Value, result.Offset.Value, result.Message.Key, result.Message.Value, headers, timestamp));
    }

    /// <summary>Assigns, from their beginning, the partitions of the topics not yet assigned (all of them the first time).</summary>
    private void AssignNewPartitions(IConsumer<byte[]?, byte[]?> consumer, IAdminClient admin, bool atStart)
    {
        var added = new List<TopicPartitionOffset>();
        foreach (var topic in _topics)
        {
            Metadata metadata;
            try
            {
                metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(5));
            }
            catch (KafkaException e)
            {
                LogMetadataFailed(_logger, topic, e.Error.Reason);
                continue;
            }

            foreach (var partition in metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).SelectMany(t => t.Partitions))
            {
                var tp = new TopicPartition(topic, partition.PartitionId);
                if (_assigned.Add(tp))
                {
                    added.Add(new TopicPartitionOffset(tp, Offset.Beginning));
                    if (atStart)
                    {
                        _behind.Add(tp);
                    }
                }
            }

            if (atStart && !metadata.Topics.Any(t => t.Topic == topic && t.Error.Code == ErrorCode.NoError && t.Partitions.Count > 0))
            {
                LogTopicMissing(_logger, topic);
            }
        }

        if (added.Count > 0)
        {
            consumer.IncrementalAssign(added);
        }

        if (atStart && _behind.Count == 0)
        {
            _caughtUp.TrySetResult();
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Topic {Topic} does not exist yet; it is read once it does")]
    private static partial void LogTopicMissing(ILogger logger, string topic);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Looking up the partitions of {Topic} failed: {Reason}")]
    private static partial void LogMetadataFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Reading failed: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Error, Message = "The topic follower stopped")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>Settings of the output producer.</summary>
public sealed record KafkaSinkOptions
{
    /// <summary>host:port list of the cluster.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>Topic names.</summary>
    public KafkaTopics Topics { get; init; } = new();

    /// <summary>How long the producer waits to fill a batch: more is higher throughput, less is lower latency.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How long to wait before producing a record again after its delivery failed.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// When set, the sink is transactional (exactly-once mode): every record goes into the open transaction, which
    /// the source commits with its offsets once per epoch (<see cref="IEpochCommitter"/>). One id per engine node, stable
    /// across its restarts: a restarted node fences its predecessor's producer and aborts its open transaction.
    /// </summary>
    public string? TransactionalId { get; init; }

    /// <summary>How long a transaction may stay open before the broker aborts it; also the timeout of commit and abort calls.</summary>
    public TimeSpan TransactionTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Extra librdkafka settings, applied last.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Writes alerts, aggregates and dead letters through one idempotent producer (acks=all, no duplicates from
/// producer retries, order kept per partition). Each send takes a callback that runs once the broker acknowledged
/// the record; a record whose delivery failed is produced again after a back-off, so an acknowledgement is never
/// reported for a record the broker does not hold. With a <see cref="KafkaSinkOptions.TransactionalId"/> the producer is
/// transactional: records go into the open transaction, a failed delivery aborts it instead of being retried, and
/// while an epoch commits, new records are held (never blocking the sender) and go into the next transaction.
/// </summary>
public sealed partial class KafkaOutputSink : IOutputSink, IEpochCommitter, IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<(TopicPartition Destination, Message<byte[]?, byte[]?> Message, Action OnAcknowledged)> _held = [];
    private bool _holding;
    private bool _aborted;
    private long _sentInTransaction;
    private string? _transactionError;
    private TaskCompletionSource _transactionEnd = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly KafkaSinkOptions _options;
    private readonly ILogger _logger;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly CancellationTokenSource _disposed = new();
    private long _acknowledged;
    private long _failedDeliveries;
    private long _queued;

    /// <summary>Creates the producer; it connects lazily on the first send.</summary>
    public KafkaOutputSink(KafkaSinkOptions options, ILogger<KafkaOutputSink> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        var config = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = options.Linger.TotalMilliseconds,
            CompressionType = CompressionType.None,
            // Delivery is retried by the producer until this timeout, then by this class.
            MessageTimeoutMs = 60_000,
            ClientId = "kommune-sink",
            // Small records, latency first: without this, Nagle's algorithm holds small writes for the peer's ACK
            // (tens of milliseconds on loopback, measured with bench/Kommune.LoadTest).
            SocketNagleDisable = true,
        };
        if (options.TransactionalId is { } transactionalId)
        {
            config.TransactionalId = transactionalId;
            config.TransactionTimeoutMs = (int)options.TransactionTimeout.TotalMilliseconds;
            // A record's delivery must not outlive its transaction.
            config.MessageTimeoutMs = (int)options.TransactionTimeout.TotalMilliseconds;
        }

        foreach (var (key, value) in options.Extra)
        {
            config.Set(key, value);
        }

        _producer = new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, m) => LogClient(_logger, m.Facility, m.Message))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code, e.Reason))
            .Build();
        if (options.TransactionalId is not null)
        {
            try
            {
                // Fences any earlier producer with this id and aborts the transaction it left open.
                _producer.InitTransactions(options.TransactionTimeout);
                _producer.BeginTransaction();
            }
            catch
            {
                _producer.Dispose();
                throw;
            }
        }
    }

    /// <summary>Whether records go into Kafka transactions (exactly-once mode).</summary>
    public bool IsTransactional => _options.TransactionalId is not null;

    /// <inheritdoc />
    public bool HasSends => Interlocked.Read(ref _sentInTransaction) > 0;

    /// <summary>
    /// Transactional: completes when the open transaction commits (every record acknowledged so far is then visible to
    /// read_committed consumers), cancelled if it aborts.
    /// </summary>
    public Task OpenTransaction => Volatile.Read(ref _transactionEnd).Task;

    /// <inheritdoc />
    public bool TryHold(Func<bool> settled)
    {
        ArgumentNullException.ThrowIfNull(settled);
        RequireTransactional();
        lock (_gate)
        {
            _holding = true;
        }

        if (Volatile.Read(ref _transactionError) is { } error)
        {
            Abort($"a record of the transaction was not delivered: {error}");
        }

        if (settled())
        {
            return true;
        }

        ReleaseHeld();
        return false;
    }

    /// <inheritdoc />
    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets, IConsumerGroupMetadata group)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        RequireTransactional();
        var timeout = _options.TransactionTimeout;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (offsets.Count > 0)
                {
                    _producer.SendOffsetsToTransaction(offsets, group, timeout);
                }

                _producer.CommitTransaction(timeout);
                break;
            }
            catch (KafkaRetriableException e) when (attempt < 3)
            {
                // librdkafka: a retriable error means "call it again"; the transaction is still open.
                LogCommitRetried(_logger, attempt, e.Error.Code, e.Error.Reason);
            }
            catch (KafkaTxnRequiresAbortException e)
            {
                Abort($"the commit failed ({e.Error.Code}: {e.Error.Reason})", e);
            }
            catch (KafkaRetriableException e)
            {
                Abort($"the commit kept failing ({e.Error.Code}: {e.Error.Reason})", e);
            }
        }

        Interlocked.Exchange(ref _sentInTransaction, 0);
        Interlocked.Exchange(ref _transactionEnd, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        _producer.BeginTransaction();
        ReleaseHeld();
    }

    /// <inheritdoc />
    public void Abort(string reason) => Abort(reason, null);

    private void Abort(string reason, Exception? cause)
    {
        lock (_gate)
        {
            _aborted = true;
            _held.Clear(); // their causes are redone after the restore
        }

        Volatile.Read(ref _transactionEnd).TrySetCanceled();

        LogAborting(_logger, reason);
        try
        {
            _producer.AbortTransaction(_options.TransactionTimeout);
        }
        catch (KafkaException e)
        {
            // The broker aborts it by itself when the transaction times out, or when this node's next producer
            // initialises with the same transactional.id.
            LogAbortFailed(_logger, e.Error.Code, e.Error.Reason);
        }

        throw cause is null ? new EpochAbortedException(reason) : new EpochAbortedException(reason, cause);
    }

    private void ReleaseHeld()
    {
        lock (_gate)
        {
            _holding = false;
            foreach (var (destination, message, onAcknowledged) in _held)
            {
                ProduceNow(destination, message, onAcknowledged);
            }

            _held.Clear();
        }
    }

    private void RequireTransactional()
    {
        if (!IsTransactional)
        {
            throw new InvalidOperationException("This sink is not transactional (no TransactionalId).");
        }
    }

    /// <summary>Records the broker has acknowledged.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Deliveries that failed and were retried.</summary>
    public long FailedDeliveries => Interlocked.Read(ref _failedDeliveries);

    /// <summary>Records handed to the producer whose delivery the broker has not reported yet (the producer's queue).</summary>
    public long Queued => Interlocked.Read(ref _queued);

    /// <inheritdoc />
    /// <remarks>Keyed by alertId.</remarks>
    public void Send(Alert alert, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(alert);
        Produce(_options.Topics.Alerts, new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(alert.AlertId),
            Value = OutputCodec.Encode(alert),
        }, onAcknowledged);
    }

    /// <inheritdoc />
    /// <remarks>Keyed by area/metric/window.</remarks>
    public void Send(Aggregate aggregate, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        Produce(_options.Topics.Aggregates, new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(aggregate.Key),
            Value = OutputCodec.Encode(aggregate),
        }, onAcknowledged);
    }

    /// <inheritdoc />
    /// <remarks>Keyed by the state's key, to the record's partition of the state topic.</remarks>
    public void Send(StateRecord state, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(state);
        Produce(new TopicPartition(_options.Topics.State, state.Partition), new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(state.Key),
            Value = state.Value,
            Headers = state.Covers is { Count: > 0 } covers
                ? new Headers { { StateRecord.CoversHeader, Encoding.UTF8.GetBytes(StateRecord.FormatCovers(covers)) } }
                : null,
        }, onAcknowledged);
    }

    /// <inheritdoc />
    public void Send(DeadLetter deadLetter, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        var headers = new Headers
        {
            { DeadLetterHeaders.Reason, Encoding.UTF8.GetBytes(deadLetter.Reason) },
            { DeadLetterHeaders.Stage, Encoding.UTF8.GetBytes(deadLetter.Stage) },
            { DeadLetterHeaders.SourceTopic, Encoding.UTF8.GetBytes(deadLetter.SourceTopic) },
            { DeadLetterHeaders.SourcePartition, Encoding.UTF8.GetBytes(deadLetter.SourcePartition.ToString(CultureInfo.InvariantCulture)) },
            { DeadLetterHeaders.SourceOffset, Encoding.UTF8.GetBytes(deadLetter.SourceOffset.ToString(CultureInfo.InvariantCulture)) },
        };
        Produce(_options.Topics.DeadLetters, new Message<byte[]?, byte[]?>
        {
            Key = deadLetter.Key,
            Value = deadLetter.Value,
            Headers = headers,
        }, onAcknowledged);
    }

    /// <summary>Waits until every record sent so far is acknowledged, or the timeout passes.</summary>
    /// <returns>How many records are still not acknowledged.</returns>
    public int Flush(TimeSpan timeout) => _producer.Flush(timeout);

    /// <summary>Stops retrying, flushes briefly, and closes the producer.</summary>
    public void Dispose()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _disposed.Dispose();
    }

    private void Produce(string topic, Message<byte[]?, byte[]?> message, Action onAcknowledged) =>
        Produce(new TopicPartition(topic, Partition.Any), message, onAcknowledged);

    private void Produce(TopicPartition destination, Message<byte[]?, byte[]?> message, Action onAcknowledged)
    {
        if (!IsTransactional)
        {
            ProduceNow(destination, message, onAcknowledged);
            return;
        }

        lock (_gate)
        {
            if (_aborted)
            {
                return; // the engine restarts from the last committed epoch; this record's cause is redone then
            }

            if (_holding)
            {
                _held.Add((destination, message, onAcknowledged));
                return;
            }

            ProduceNow(destination, message, onAcknowledged);
        }
    }

    private void ProduceNow(TopicPartition destination, Message<byte[]?, byte[]?> message, Action onAcknowledged)
    {
        var topic = destination.Topic;
        if (_disposed.IsCancellationRequested)
        {
            LogDroppedAfterDispose(_logger, topic);
            return;
        }

        try
        {
            if (IsTransactional)
            {
                Interlocked.Increment(ref _sentInTransaction);
            }

            Interlocked.Increment(ref _queued);
            _producer.Produce(destination, message, report =>
            {
                Interlocked.Decrement(ref _queued);
                if (report.Error.IsError && IsTransactional)
                {
                    // Not retried: the transaction lost this record, so the epoch must abort.
                    Interlocked.Increment(ref _failedDeliveries);
                    LogTransactionalDeliveryFailed(_logger, topic, report.Error.Code, report.Error.Reason);
                    Interlocked.CompareExchange(ref _transactionError, $"{topic}: {report.Error.Code} {report.Error.Reason}", null);
                    return;
                }

                if (report.Error.IsError)
                {
                    Interlocked.Increment(ref _failedDeliveries);
                    LogDeliveryFailed(_logger, topic, report.Error.Code, report.Error.Reason);
                    RetryLater(destination, message, onAcknowledged);
                    return;
                }

                Interlocked.Increment(ref _acknowledged);
                onAcknowledged();
            });
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            Interlocked.Decrement(ref _queued);
            // Local queue full or a transient local error: never block the caller (an actor); try again shortly.
            Interlocked.Increment(ref _failedDeliveries);
            LogDeliveryFailed(_logger, topic, e.Error.Code, e.Error.Reason);
            RetryLater(destination, message, onAcknowledged);
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Decrement(ref _queued);
            LogDroppedAfterDispose(_logger, topic);
        }
    }

    private void RetryLater(TopicPartition destination, Message<byte[]?, byte[]?> message, Action onAcknowledged)
    {
        if (_disposed.IsCancellationRequested)
        {
            LogDroppedAfterDispose(_logger, destination.Topic);
            return;
        }

        _ = Task.Delay(_options.RetryBackoff, _disposed.Token).ContinueWith(
            t =>
            {
                if (!t.IsCanceled)
                {
                    Produce(destination, message, onAcknowledged);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    [LoggerMessage(EventId = 2008, Level = LogLevel.Warning, Message = "Delivery to {Topic} failed ({Code}: {Reason}); the transaction will abort and the epoch be redone")]
    private static partial void LogTransactionalDeliveryFailed(ILogger logger, string topic, ErrorCode code, string reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Aborting the transaction: {Reason}")]
    private static partial void LogAborting(ILogger logger, string reason);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Could not abort the transaction ({Code}: {Reason}); the broker aborts it on timeout or when this node's producer starts again")]
    private static partial void LogAbortFailed(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Committing the transaction failed (attempt {Attempt}, {Code}: {Reason}); trying again")]
    private static partial void LogCommitRetried(ILogger logger, int attempt, ErrorCode code, string reason);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning,
        Message = "Delivery to {Topic} failed ({Code}: {Reason}); producing it again")]
    private static partial void LogDeliveryFailed(ILogger logger, string topic, ErrorCode code, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error,
        Message = "A record for {Topic} was not sent because the sink is closed; its offset stays uncommitted")]
    private static partial void LogDroppedAfterDispose(ILogger logger, string topic);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "librdkafka producer [{Facility}] {Text}")]
    private static partial void LogClient(ILogger logger, string facility, string text);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Producer error {Code}: {Reason}")]
    private static partial void LogClientError(ILogger logger, ErrorCode code, string reason);
}

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

    /// <summary>
    /// How long the bulk producer waits to fill a batch, in at-least-once mode, where the repartition topic's and the
    /// state topic's records have a producer of their own (in exactly-once mode one transactional producer writes
    /// everything). Its records are area work, judged by minute and quarter-hour windows, and state records of
    /// kilobytes that only an offset commit waits for: fewer, larger batches cost the broker less, and leave the
    /// alerts' producer its requests to itself.
    /// </summary>
    public TimeSpan BulkLinger { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How long to wait before producing a record again after its delivery failed for a reason that may pass (the
    /// broker down, a leader moving); doubled at each further failure of the same record, up to
    /// <see cref="MaxRetryBackoff"/>.
    /// </summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between two attempts to deliver one record.</summary>
    public TimeSpan MaxRetryBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The records the broker refused for good, remembered across this node's pipeline restarts (see
    /// <see cref="RefusedRecords"/>); a sink of its own when null.
    /// </summary>
    public RefusedRecords? Refusals { get; init; }

    /// <summary>The chunk counts of chunked state keys, shared with the state restore; a ledger of its own when null.</summary>
    public StateChunkLedger? StateChunks { get; init; }

    /// <summary>
    /// When set, the sink is transactional (exactly-once mode): every record goes into the open transaction, which
    /// the source commits with its offsets once per epoch (<see cref="IEpochCommitter"/>). One id per engine node, stable
    /// across its restarts: a restarted node fences its predecessor's producer and aborts its open transaction.
    /// </summary>
    public string? TransactionalId { get; init; }

    /// <summary>How long a transaction may stay open before the broker aborts it; also the timeout of commit and abort calls.</summary>
    public TimeSpan TransactionTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The librdkafka settings from configuration (TLS, SASL and the like), applied over the producers' own.</summary>
    public required KafkaClientSettings ClientSettings { get; init; }
}

/// <summary>
/// Writes alerts, aggregates, state and dead letters through one idempotent producer (acks=all, no duplicates from
/// producer retries, order kept per partition), and the records of the repartition topic through a second one in
/// at-least-once mode (so area work, which is most of the records, never holds up an alert's request). Each send takes a callback that runs once the record is done: the
/// broker acknowledged it or, if the broker refused it for good, what was written in its place. Whether an error may
/// pass decides what happens:
/// <list type="bullet">
/// <item>it may pass (broker down, leader moving, timeouts): the record is produced again after a back-off that doubles
/// up to <see cref="KafkaSinkOptions.MaxRetryBackoff"/>, so a done callback never runs for a record the broker does
/// not hold;</item>
/// <item>the record itself is refused (too large, invalid, against a topic policy): trying again cannot help, so it
/// never blocks its partition. A dead letter is written again in a reduced form (a prefix of its value, then none;
/// see <see cref="DeadLetterHeaders"/>), an alert or aggregate is dead-lettered (stage <c>output</c>) in its place,
/// and what cannot be written at all is logged and counted (<see cref="Unwritten"/>).</item>
/// </list>
/// A state larger than a record may be is compressed and split into chunks (<see cref="StateRecordFormat"/>).
/// With a <see cref="KafkaSinkOptions.TransactionalId"/> the producer is transactional: records go into the open
/// transaction, a failed delivery aborts it instead of being retried (a refused record is remembered in
/// <see cref="KafkaSinkOptions.Refusals"/> so the redone epoch writes its reduced form), and while an epoch commits,
/// new records are held (never blocking the sender) and go into the next transaction.
/// </summary>
public sealed partial class KafkaOutputSink : IOutputSink, IEpochCommitter, IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<PendingRecord> _held = [];
    private bool _holding;
    private readonly Lock _waitingGate = new();
    private readonly Queue<PendingRecord> _waiting = new(); // records the producer's local queue had no room for, in order
    private int _waitingCount; // _waiting.Count, written under _waitingGate, read without it
    private bool _aborted;
    private long _sentInTransaction;
    private long _workInTransaction; // sent in the open transaction, watermark reports (bookkeeping) not counted
    private string? _transactionError;
    private TaskCompletionSource _transactionEnd = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly KafkaSinkOptions _options;
    private readonly ILogger _logger;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly IProducer<byte[]?, byte[]?>? _bulkProducer; // repartition and state records, at-least-once only; else _producer writes those too
    private readonly CancellationTokenSource _disposed = new();
    private readonly RefusedRecords _refusals;
    private readonly StateChunkLedger _stateChunks;
    private readonly int _maxRecordBytes;
    private long _acknowledged;
    private long _failedDeliveries;
    private long _queued;
    private long _refused;
    private long _unwritten;

    /// <summary>Creates the producer; it connects lazily on the first send.</summary>
    public KafkaOutputSink(KafkaSinkOptions options, ILogger<KafkaOutputSink> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        _refusals = options.Refusals ?? new RefusedRecords();
        _stateChunks = options.StateChunks ?? new StateChunkLedger();
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
            // A delivery report is read for its error only: without this the client copies every record's headers
            // back into new objects and asks librdkafka for its timestamp and status, for each of them.
            DeliveryReportFields = "none",
        };
        if (options.TransactionalId is { } transactionalId)
        {
            config.TransactionalId = transactionalId;
            config.TransactionTimeoutMs = (int)options.TransactionTimeout.TotalMilliseconds;
            // A record's delivery must not outlive its transaction.
            config.MessageTimeoutMs = (int)options.TransactionTimeout.TotalMilliseconds;
        }

        var bulk = new ProducerConfig(new Dictionary<string, string>(config))
        {
            LingerMs = options.BulkLinger.TotalMilliseconds,
            ClientId = "kommune-sink-bulk",
            // State records are JSON of up to kilobytes that compress well (to about a fifth of their bytes with lz4,
            // bench/README.md round twenty-one). The broker keeps them compressed: a state topic holds about five
            // times as many of them in the same bytes (the embedded broker, which keeps 5 MiB per partition, drops a
            // key's older state records that much later), and a restore fetches a fifth of the bytes. The repartition
            // records, which share this producer, are compressed too.
            CompressionType = CompressionType.Lz4,
        };
        options.ClientSettings.ApplyTo(config);
        // The producer refuses a record over message.max.bytes (key, value and headers); a dead letter is cut to fit
        // with room to spare for the record's framing.
        _maxRecordBytes = (config.MessageMaxBytes ?? 1_000_000) - 1_000;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, m) => LogClient(_logger, m.Facility, m.Message))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code, e.Reason))
            .Build();
        if (options.TransactionalId is null)
        {
            _bulkProducer = new ProducerBuilder<byte[]?, byte[]?>(options.ClientSettings.ApplyTo(bulk))
                .SetLogHandler((_, m) => LogClient(_logger, m.Facility, m.Message))
                .SetErrorHandler((_, e) => LogClientError(_logger, e.Code, e.Reason))
                .Build();
        }
        else
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

    /// <inheritdoc />
    public bool HasWork => Interlocked.Read(ref _workInTransaction) > 0;

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
            if (_aborted)
            {
                // Records sent since were dropped (their causes are redone after the restore): this epoch can never settle.
                throw new EpochAbortedException("the epoch was already aborted");
            }

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
    public void Commit(IReadOnlyList<(IReadOnlyList<TopicPartitionOffset> Offsets, IConsumerGroupMetadata Group)> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        RequireTransactional();
        var timeout = _options.TransactionTimeout;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                foreach (var (groupOffsets, group) in offsets)
                {
                    if (groupOffsets.Count > 0)
                    {
                        _producer.SendOffsetsToTransaction(groupOffsets, group, timeout);
                    }
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
        Interlocked.Exchange(ref _workInTransaction, 0);
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
            lock (_waitingGate)
            {
                _waiting.Clear();
                Volatile.Write(ref _waitingCount, 0);
            }
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
            foreach (var record in _held)
            {
                ProduceInOrder(record);
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

    /// <summary>
    /// Records refused for what they hold (too large, invalid): each was written again in a reduced form or as a dead
    /// letter in its place.
    /// </summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Records that could not be written in any form: each is in the log (error 2010 or 2011), nowhere else.</summary>
    public long Unwritten => Interlocked.Read(ref _unwritten);

    /// <inheritdoc />
    /// <remarks>Keyed by alertId. Refused for good (for example larger than a record may be), it is dead-lettered instead.</remarks>
    public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(alert);
        SendOutput(_options.Topics.Alerts, Encoding.UTF8.GetBytes(alert.AlertId), OutputCodec.Encode(alert, owner), onAcknowledged);
    }

    /// <inheritdoc />
    /// <remarks>Retried like every output; one refused for what it holds is logged and counted, never blocking.</remarks>
    public void Send(int partition, Message<byte[]?, byte[]?> record, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(onAcknowledged);
        var destination = new TopicPartition(_options.Topics.Repartition, partition);
        Produce(destination, record, onAcknowledged, refusal =>
        {
            if (!refusal.InTransaction)
            {
                Interlocked.Increment(ref _unwritten);
                LogStateUnwritten(_logger, $"{_options.Topics.Repartition}[{partition}]", refusal.ToString());
                onAcknowledged();
            }
        });
    }

    /// <inheritdoc />
    /// <remarks>Keyed by area/metric/window. Refused for good, it is dead-lettered instead.</remarks>
    public void Send(Aggregate aggregate, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        SendOutput(_options.Topics.Aggregates, Encoding.UTF8.GetBytes(aggregate.Key), OutputCodec.Encode(aggregate), onAcknowledged);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Keyed by the state's key, to the record's partition of the state topic, laid out by <see cref="StateRecordFormat"/>
    /// (compressed and chunked when large). Done when every record of it is acknowledged; a state the broker refuses
    /// for good is logged (2011) and counted as unwritten, and a restart restores the key's last written state.
    /// </remarks>
    public void Send(StateRecord state, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(onAcknowledged);
        var destination = new TopicPartition(_options.Topics.State, state.Partition);
        var identity = _refusals.IsEmpty ? null : Identity(destination.Topic, state.Key, state.Value);
        if (identity is not null && _refusals.TryGet(identity, out var earlier))
        {
            StateUnwritten(state.Key, earlier.Reason, onAcknowledged);
            return;
        }

        var messages = StateRecordFormat.Encode(state, _stateChunks.Get(state.Key), out var chunks);
        _stateChunks.Set(state.Key, chunks);
        var left = messages.Count;
        var refused = 0;
        void OneDone()
        {
            if (Interlocked.Decrement(ref left) == 0 && Volatile.Read(ref refused) == 0)
            {
                onAcknowledged();
            }
        }

        void OneRefused(RecordRefusal refusal)
        {
            state.DeltaOf?.Refused(); // its next write starts a new base: a restore may not find this one
            if (Interlocked.Exchange(ref refused, 1) != 0)
            {
                return;
            }

            _refusals.Remember(Identity(destination.Topic, state.Key, state.Value), new Refusal((int)DeadLetterForm.Abandoned, refusal.ToString()));
            if (!refusal.InTransaction)
            {
                StateUnwritten(state.Key, refusal.ToString(), onAcknowledged);
            }
        }

        foreach (var message in messages)
        {
            Produce(destination, message, OneDone, OneRefused);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Written whole when it fits; a dead letter larger than a record may be, or refused by the broker for what it
    /// holds, is written with a prefix of its value, then with none (<see cref="DeadLetterHeaders.ValueForm"/>), and
    /// one refused even so is logged (2010) and counted as unwritten. Never blocks its partition for good.
    /// </remarks>
    public void Send(DeadLetter deadLetter, Action onAcknowledged)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        ArgumentNullException.ThrowIfNull(onAcknowledged);
        if (!_refusals.IsEmpty && _refusals.TryGet(Identity(deadLetter), out var earlier))
        {
            SendDeadLetter(deadLetter, (DeadLetterForm)earlier.Level, earlier.Reason, onAcknowledged);
            return;
        }

        var size = DeadLetterMessages.WholeSize(deadLetter);
        if (size > _maxRecordBytes)
        {
            var tooLarge = string.Create(CultureInfo.InvariantCulture, $"the whole record would be {size} bytes, over the {_maxRecordBytes} bytes a record may have");
            Interlocked.Increment(ref _refused);
            SendDeadLetter(deadLetter, DeadLetterForm.Prefix, tooLarge, onAcknowledged);
            return;
        }

        SendDeadLetter(deadLetter, DeadLetterForm.Whole, null, onAcknowledged);
    }

    private void SendDeadLetter(DeadLetter deadLetter, DeadLetterForm form, string? refused, Action onAcknowledged)
    {
        if (form == DeadLetterForm.Abandoned)
        {
            DeadLetterUnwritten(deadLetter, refused ?? "refused before", onAcknowledged);
            return;
        }

        var message = DeadLetterMessages.Build(deadLetter, form, refused);
        Produce(new TopicPartition(_options.Topics.DeadLetters, Partition.Any), message, onAcknowledged, refusal =>
        {
            var next = form + 1;
            _refusals.Remember(Identity(deadLetter), new Refusal((int)next, refusal.ToString()));
            if (refusal.InTransaction)
            {
                return; // the epoch aborts; its redo writes the next form
            }

            Interlocked.Increment(ref _refused);
            LogDeadLetterReduced(_logger, deadLetter.SourceTopic, deadLetter.SourcePartition, deadLetter.SourceOffset, form, refusal.ToString(), next);
            SendDeadLetter(deadLetter, next, refusal.ToString(), onAcknowledged);
        });
    }

    private void DeadLetterUnwritten(DeadLetter deadLetter, string refused, Action onAcknowledged)
    {
        Interlocked.Increment(ref _unwritten);
        LogDeadLetterUnwritten(
            _logger, deadLetter.SourceTopic, deadLetter.SourcePartition, deadLetter.SourceOffset, deadLetter.Stage.Label, deadLetter.Reason,
            deadLetter.Value?.Length ?? -1, DeadLetterMessages.Sha256Hex(deadLetter.Value), refused);
        onAcknowledged();
    }

    private void StateUnwritten(string key, string refused, Action onAcknowledged)
    {
        Interlocked.Increment(ref _unwritten);
        LogStateUnwritten(_logger, key, refused);
        onAcknowledged();
    }

    /// <summary>An alert or aggregate: refused for good, it is dead-lettered (stage <c>output</c>) in its place.</summary>
    private void SendOutput(string topic, byte[] key, byte[] value, Action onAcknowledged)
    {
        if (!_refusals.IsEmpty && _refusals.TryGet(Identity(topic, key, value), out var earlier))
        {
            SendInstead(topic, key, value, earlier.Reason, onAcknowledged);
            return;
        }

        Produce(new TopicPartition(topic, Partition.Any), new Message<byte[]?, byte[]?> { Key = key, Value = value }, onAcknowledged, refusal =>
        {
            _refusals.Remember(Identity(topic, key, value), new Refusal((int)DeadLetterForm.Whole, refusal.ToString()));
            if (!refusal.InTransaction)
            {
                Interlocked.Increment(ref _refused);
                SendInstead(topic, key, value, refusal.ToString(), onAcknowledged);
            }
        });
    }

    private void SendInstead(string topic, byte[] key, byte[] value, string refused, Action onAcknowledged)
    {
        LogOutputDeadLettered(_logger, topic, Encoding.UTF8.GetString(key), refused);
        var reason = $"the broker refused this record of {topic} for good ({refused}); it is here in its place";
        Send(new DeadLetter(key, value, topic, -1, -1, reason, DeadLetterCode.OutputRefused), onAcknowledged);
    }

    private static string Identity(DeadLetter deadLetter) =>
        string.Create(CultureInfo.InvariantCulture, $"dead-letter/{deadLetter.Stage.Label}/{deadLetter.SourceTopic}/{deadLetter.SourcePartition}/{deadLetter.SourceOffset}/{DeadLetterMessages.Sha256Hex(deadLetter.Value)}");

    private static string Identity(string topic, string key, byte[]? value) => Identity(topic, Encoding.UTF8.GetBytes(key), value);

    private static string Identity(string topic, byte[] key, byte[]? value) =>
        $"{topic}/{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(key))}/{DeadLetterMessages.Sha256Hex(value)}";

    /// <summary>Waits until every record sent so far is acknowledged, or the timeout passes.</summary>
    /// <returns>How many records are still not acknowledged.</returns>
    /// <remarks>Records waiting for room in the producer's queue are produced first; those still waiting at the timeout count as unsent.</remarks>
    public int Flush(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (WaitingCount > 0 && DateTime.UtcNow < deadline)
        {
            _producer.Flush(TimeSpan.FromMilliseconds(100));
            _bulkProducer?.Flush(TimeSpan.FromMilliseconds(100));
            ProduceWaiting();
        }

        var unflushed = _bulkProducer?.Flush(deadline - DateTime.UtcNow is { Ticks: > 0 } first ? first : TimeSpan.Zero) ?? 0;
        return unflushed + _producer.Flush(deadline - DateTime.UtcNow is { Ticks: > 0 } left ? left : TimeSpan.Zero) + WaitingCount;
    }

    private int WaitingCount
    {
        get
        {
            lock (_waitingGate)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Stops retrying, flushes briefly, and closes the producer.</summary>
    public void Dispose()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
        _bulkProducer?.Flush(TimeSpan.FromSeconds(5));
        _bulkProducer?.Dispose();
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _disposed.Dispose();
    }

    private void Produce(TopicPartition destination, Message<byte[]?, byte[]?> message, Action onAcknowledged, Action<RecordRefusal> onRefused) =>
        Produce(new PendingRecord(destination, message, onAcknowledged, onRefused));

    private void Produce(PendingRecord record)
    {
        if (!IsTransactional)
        {
            ProduceInOrder(record);
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
                _held.Add(record);
                return;
            }

            ProduceInOrder(record);
        }
    }

    /// <summary>
    /// Produces the record now, or, when the producer's local queue has no room (or records are already waiting for
    /// room), queues it behind those waiting: records leave in the order they were sent, so a watermark record on the
    /// repartition topic never overtakes the facts sent before it, nor an alert's later record its earlier one.
    /// </summary>
    /// <remarks>
    /// Without a lock while nothing waits (the common case: a lock held across the native produce call made every
    /// actor thread spin on it). Order holds where it matters, for the records of one sender: a record that found no
    /// room is queued before its sender's call returns, so the sender's next record finds it waiting and goes behind
    /// it; and a record sent after a barrier that the senders of earlier records passed (a watermark record after the
    /// facts) finds their queued records too.
    /// </remarks>
    private void ProduceInOrder(PendingRecord record)
    {
        if (Volatile.Read(ref _waitingCount) == 0)
        {
            if (ProduceNow(record))
            {
                return;
            }

            lock (_waitingGate)
            {
                Enqueue(record);
            }

            return;
        }

        lock (_waitingGate)
        {
            if (_waiting.Count > 0 || !ProduceNow(record))
            {
                Enqueue(record);
            }
        }
    }

    /// <summary>Queues a record behind those waiting for room (under <see cref="_waitingGate"/>).</summary>
    private void Enqueue(PendingRecord record)
    {
        _waiting.Enqueue(record);
        Volatile.Write(ref _waitingCount, _waiting.Count);
        if (_waiting.Count == 1)
        {
            ProduceWaitingLater(record.Attempts);
        }
    }

    /// <summary>
    /// Shortly (the producer's queue drains in milliseconds: 10 ms, doubling to 200 ms while it stays full), produces the
    /// waiting records in order, until the local queue is full again.
    /// </summary>
    private void ProduceWaitingLater(int attempts)
    {
        var delay = TimeSpan.FromMilliseconds(Math.Min(200, 10 << Math.Min(attempts, 5)));
        _ = Task.Delay(delay, _disposed.Token).ContinueWith(
            t =>
            {
                if (!t.IsCanceled && !ProduceWaiting())
                {
                    lock (_waitingGate)
                    {
                        if (_waiting.TryPeek(out var head))
                        {
                            ProduceWaitingLater(++head.Attempts);
                        }
                    }
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Produces the waiting records in order; false when the local queue filled up again before the last.</summary>
    private bool ProduceWaiting()
    {
        lock (_waitingGate)
        {
            while (_waiting.TryPeek(out var head))
            {
                if (!ProduceNow(head))
                {
                    return false;
                }

                _waiting.Dequeue();
                Volatile.Write(ref _waitingCount, _waiting.Count);
            }

            return true;
        }
    }

    /// <summary>Hands the record to the producer; false when its local queue has no room now (try again later).</summary>
    private bool ProduceNow(PendingRecord record)
    {
        var topic = record.Destination.Topic;
        if (_disposed.IsCancellationRequested)
        {
            LogDroppedAfterDispose(_logger, topic);
            return true;
        }

        try
        {
            if (IsTransactional)
            {
                Interlocked.Increment(ref _sentInTransaction);
                if (!record.IsBookkeeping)
                {
                    Interlocked.Increment(ref _workInTransaction);
                }
            }

            Interlocked.Increment(ref _queued);
            var producer = _bulkProducer is { } bulk && (record.Destination.Topic == _options.Topics.Repartition || record.Destination.Topic == _options.Topics.State) ? bulk : _producer;
            producer.Produce(record.Destination, record.Message, report => Delivered(record, report.Error));
            return true;
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _failedDeliveries);
            if (RefusesTheRecord(e.Error.Code))
            {
                // Refused before it entered any batch or transaction (for example over message.max.bytes).
                LogRecordRefused(_logger, topic, e.Error.Code, e.Error.Reason);
                record.OnRefused(new RecordRefusal(e.Error.Code, e.Error.Reason, InTransaction: false));
                return true;
            }

            // Local queue full or a transient local error: never block the caller (an actor); try again shortly.
            LogDeliveryFailed(_logger, topic, e.Error.Code, e.Error.Reason);
            if (IsTransactional)
            {
                Interlocked.Decrement(ref _sentInTransaction);
                if (!record.IsBookkeeping)
                {
                    Interlocked.Decrement(ref _workInTransaction);
                }
            }

            return false;
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Decrement(ref _queued);
            LogDroppedAfterDispose(_logger, topic);
            return true;
        }
    }

    private void Delivered(PendingRecord record, Error error)
    {
        Interlocked.Decrement(ref _queued);
        if (!error.IsError)
        {
            Interlocked.Increment(ref _acknowledged);
            record.OnAcknowledged();
            return;
        }

        var topic = record.Destination.Topic;
        Interlocked.Increment(ref _failedDeliveries);
        var refusesTheRecord = RefusesTheRecord(error.Code);
        if (IsTransactional)
        {
            // Not retried: the transaction lost this record, so the epoch must abort.
            LogTransactionalDeliveryFailed(_logger, topic, error.Code, error.Reason);
            Interlocked.CompareExchange(ref _transactionError, $"{topic}: {error.Code} {error.Reason}", null);
            if (refusesTheRecord)
            {
                record.OnRefused(new RecordRefusal(error.Code, error.Reason, InTransaction: true));
            }

            return;
        }

        if (refusesTheRecord)
        {
            LogRecordRefused(_logger, topic, error.Code, error.Reason);
            record.OnRefused(new RecordRefusal(error.Code, error.Reason, InTransaction: false));
            return;
        }

        LogDeliveryFailed(_logger, topic, error.Code, error.Reason);
        RetryLater(record);
    }

    /// <summary>Errors that say the record itself is unacceptable: producing it again can never succeed.</summary>
    internal static bool RefusesTheRecord(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge or ErrorCode.RecordListTooLarge
        or ErrorCode.InvalidRecord or ErrorCode.InvalidMsgSize or ErrorCode.PolicyViolation or ErrorCode.UnsupportedForMessageFormat
        or ErrorCode.InvalidTimestamp or ErrorCode.Local_BadMsg;

    private void RetryLater(PendingRecord record)
    {
        if (_disposed.IsCancellationRequested)
        {
            LogDroppedAfterDispose(_logger, record.Destination.Topic);
            return;
        }

        var attempt = ++record.Attempts;
        var delay = TimeSpan.FromTicks(Math.Min(
            _options.MaxRetryBackoff.Ticks,
            _options.RetryBackoff.Ticks * (1L << Math.Min(attempt - 1, 16))));
        _ = Task.Delay(delay, _disposed.Token).ContinueWith(
            (t, state) =>
            {
                if (!t.IsCanceled)
                {
                    Produce((PendingRecord)state!);
                }
            },
            record,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>A record on its way, with what to do when it is done or refused for good, and how often it failed.</summary>
    private sealed class PendingRecord(TopicPartition destination, Message<byte[]?, byte[]?> message, Action onAcknowledged, Action<RecordRefusal> onRefused)
    {
        public TopicPartition Destination { get; } = destination;

        public Message<byte[]?, byte[]?> Message { get; } = message;

        public Action OnAcknowledged { get; } = onAcknowledged;

        public Action<RecordRefusal> OnRefused { get; } = onRefused;

        public int Attempts { get; set; }

        /// <summary>A watermark report: written with the epoch, but not progress of its own.</summary>
        public bool IsBookkeeping { get; } = RepartitionCodec.IsWatermark(message);
    }

    [LoggerMessage(EventId = 2009, Level = LogLevel.Warning, Message = "The broker refused a record of {Topic} for good ({Code}: {Reason}); it is not produced again as it is")]
    private static partial void LogRecordRefused(ILogger logger, string topic, ErrorCode code, string reason);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "The dead letter of {Topic}[{Partition}]@{Offset} was refused in form {Form} ({Refused}); writing it as {Next}")]
    private static partial void LogDeadLetterReduced(ILogger logger, string topic, int partition, long offset, DeadLetterForm form, string refused, DeadLetterForm next);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Error,
        Message = "A dead letter could not be written in any form and is only in this log: {Topic}[{Partition}]@{Offset}, stage {Stage}, reason {Reason}, value of {Length} bytes with SHA-256 {Sha256}; refused: {Refused}")]
    private static partial void LogDeadLetterUnwritten(ILogger logger, string topic, int partition, long offset, string stage, string reason, int length, string sha256, string refused);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Error, Message = "The state of {Key} was refused by the broker for good ({Refused}); a restart restores its last written state")]
    private static partial void LogStateUnwritten(ILogger logger, string key, string refused);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Error, Message = "A record of {Topic} with key {Key} was refused by the broker for good ({Refused}); it is dead-lettered (stage output) in its place")]
    private static partial void LogOutputDeadLettered(ILogger logger, string topic, string key, string refused);

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

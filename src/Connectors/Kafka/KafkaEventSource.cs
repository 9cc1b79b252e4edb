using System.Collections.Concurrent;
using System.Threading.Channels;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Consumes sensor events in a consumer group (cooperative-sticky: a rebalance moves only what must move) and, for the
/// same partition numbers, the engine's repartition topic (area work, watermarks, forwarded commands), and hands both
/// on through one bounded channel. Kafka's Consume() blocks, so the loop runs on its own thread. Guarantees:
/// <list type="bullet">
/// <item>At-least-once: an offset is committed only after its record, and every record before it in the partition, is
/// done (<see cref="ConsumedRecord.Complete"/>) or its dead letter is acknowledged.</item>
/// <item>Bounded memory: at <see cref="KafkaSourceOptions.MaxInFlightEvents"/> events in flight the partitions are
/// paused, and resumed once half are done; records never pile up without bound.</item>
/// <item>Per-partition (so per-sensor) order: events are written to the channel in offset order.</item>
/// <item>Nothing skipped silently: records the broker deleted before they were read are counted and logged.</item>
/// </list>
/// </summary>
/// <remarks>
/// This class is the consume loop (its rebalance callbacks in KafkaEventSource.Rebalance.cs). It asks
/// <see cref="BackpressureGate"/> when to pause and resume, tells <see cref="RecordLossMonitor"/> what it takes (records
/// lost or delivered again) and <see cref="PartitionMonitor"/> how far each partition is read and committed (lag, caught
/// up, stalled), and in exactly-once mode commits through <see cref="EpochOffsetCommitter"/>.
/// </remarks>
public sealed partial class KafkaEventSource : IAsyncDisposable
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ShortPoll = TimeSpan.FromMilliseconds(5);

    // Records taken from one consumer before the loop turns to the other (and to commits, progress and backpressure).
    private const int ConsumeBatch = 64;
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ConfirmTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a partition whose prefetched records fill the client's queue waits before it is fetched again
    /// (librdkafka's fetch.queue.backoff.ms, default 1,000 ms). With the default, a consumer reading a backlog stopped
    /// fetching for a whole second each time its modest queue was full: the engine drained a pre-filled topic at a
    /// third of a plain consumer's rate, waiting on an empty queue two thirds of the time (bench/README.md, issue 18
    /// round three). As short as the fetch wait at the broker: the queue stays bounded, the pause does not.
    /// </summary>
    public const int RefetchAfterFullQueueMs = 10;

    private readonly KafkaSourceOptions _options;
    private readonly IDeadLetterSink _deadLetters;
    private readonly SensorEventDecoder _decoder;
    private readonly ILogger _logger;
    private readonly Channel<ConsumedRecord[]> _channel;
    private readonly List<ConsumedRecord> _batch = new(2 * ConsumeBatch); // taken in this turn of the loop, not yet handed on
    private IConsumer<byte[]?, byte[]?>? _main;
    private IConsumer<byte[]?, byte[]?>? _internal;
    private IAdminClient? _leaders; // the group consumer's admin client: where its partitions' leaders are
    private PartitionEndQueries _ends = null!; // where partitions end, asked through _leaders (made with it)
    private readonly HashSet<TopicPartition> _internalAssigned = [];
    private readonly Dictionary<TopicPartition, PartitionOffsetTracker> _trackers = [];
    private readonly HashSet<PartitionOffsetTracker> _writingBeforeCommit = []; // a write before commit pending; consume thread
    private readonly ConcurrentQueue<(TopicPartition Partition, PartitionOffsetTracker Tracker, long Next)> _writtenBeforeCommit = new();
    private List<TopicPartition> _onePartitionPerLeader = [];

    // Assigned partitions of the sensor-events topic not read yet, each with the assignment that must say it is ready
    // (AssignedPartitions.Ready: its state restored), paused once assigned; consume thread. What Ready said, from any
    // thread, waits in _ready for the loop's next turn.
    private readonly Dictionary<int, AssignedPartitions> _waiting = [];
    private readonly ConcurrentQueue<(AssignedPartitions Assignment, IReadOnlyCollection<int> Partitions)> _ready = new();
    private Exception? _readinessFailed;
    private bool _pauseWaiting;

    // Each consumer reads one topic and is told not to marshal its name (ConsumeResultFields): a record's partition is
    // one of these, made once per partition, instead of a topic string and several TopicPartition objects per record.
    private readonly Dictionary<int, TopicPartition> _sensorPartitions = [];
    private readonly Dictionary<int, TopicPartition> _repartitionPartitions = [];
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly BackpressureGate _gate;
    private volatile bool _stopRequested;
    private TimeSpan _drainTimeout;
    private Thread? _thread;
    private int _assignedCount;
    private long _consumed;
    private long _deadLettered;
    private long _deadLetterCount;
    private long _offsetCommits;
    private long _offsetCommitFailures;
    private volatile bool _consuming;
    private volatile bool _epochAborted; // exactly-once: the loop ends because the epoch aborted; nothing commits any more
    private DateTime _progressUpdated = DateTime.MinValue;
    private readonly PartitionMonitor _monitor;
    private readonly RecordLossMonitor _losses;
    private readonly EpochOffsetCommitter? _epochs; // exactly-once mode only

    /// <summary>Creates the source; <see cref="Start"/> begins consuming.</summary>
    /// <param name="options">Consumer settings.</param>
    /// <param name="deadLetters">Where undecodable records go.</param>
    /// <param name="clock">The clock that event times are checked against.</param>
    /// <param name="logger">Logger.</param>
    public KafkaEventSource(KafkaSourceOptions options, IDeadLetterSink deadLetters, TimeProvider clock, ILogger<KafkaEventSource> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxInFlightEvents, 1);
        _options = options;
        _deadLetters = deadLetters;
        _decoder = new SensorEventDecoder(options.Limits, clock) { ValuesWanted = options.ValuesWanted };
        _logger = logger;
        // Unbounded, yet bounded: every record in the channel is in flight, and the loop stops taking records at the
        // in-flight bound (backpressure), so a record it could not seek back is one over that bound, never a failed write.
        _channel = Channel.CreateUnbounded<ConsumedRecord[]>(new UnboundedChannelOptions
        {
            SingleWriter = true,
            SingleReader = true,
        });
        _gate = options.MaxEventsAwaitingCommit is { } awaiting
            ? new BackpressureGate(options.MaxInFlightEvents, awaiting)
            : new BackpressureGate(options.MaxInFlightEvents);
        _monitor = new PartitionMonitor(options.StallTimeout);
        _losses = new RecordLossMonitor(logger);
        _epochs = options.Transactions is { } transactions
            ? new EpochOffsetCommitter(transactions, options.Topics.Repartition, _trackers, _gate, _monitor, options.WriteStateNow, logger, sensorTopic: options.Topics.SensorEvents, writeBeforeCommit: options.WriteBeforeCommit)
            : null;
    }

    /// <summary>
    /// Decoded sensor events and records of the repartition topic, each in its partition's order, in batches: what one
    /// turn of the consume loop took (one channel write and one wake-up of the reader per batch, not per record).
    /// Completes when the source stops.
    /// </summary>
    public ChannelReader<ConsumedRecord[]> Events => _channel.Reader;

    /// <summary>Completes when the consume loop has ended: offsets committed and the group left.</summary>
    public Task Completion => _stopped.Task;

    /// <summary>Completes once the first partitions are assigned to this consumer.</summary>
    public Task Assigned => _assigned.Task;

    /// <summary>What the source has done so far.</summary>
    public SourceStatistics Statistics => new(
        Interlocked.Read(ref _consumed),
        Interlocked.Read(ref _deadLettered),
        _losses.Lost,
        _gate.Processing,
        _gate.PeakProcessing,
        _gate.Pauses,
        _gate.Resumes,
        Volatile.Read(ref _assignedCount),
        _gate.AwaitingCommit,
        _gate.PeakAwaitingCommit,
        _epochs?.EpochsCommitted ?? 0,
        Interlocked.Read(ref _offsetCommits),
        Interlocked.Read(ref _offsetCommitFailures),
        _gate.StateWritesAsked);

    /// <summary>
    /// Whether the source is consuming: its partitions (possibly none, when the group has more members than
    /// partitions) are assigned, and the loop is taking records (of each partition once its state is restored,
    /// <see cref="AssignedPartitions.Ready"/>). False before the first assignment, during a rebalance, and once stopping.
    /// </summary>
    public bool IsConsuming => _consuming && !_stopRequested;

    /// <summary>
    /// Per assigned partition, the records after the consumer's position (the partition's high watermark as last
    /// fetched, minus the next offset to take), updated five times a second. While the partitions are paused the
    /// high watermark is not refreshed, so the lag then shows what was known at the pause.
    /// </summary>
    public IReadOnlyList<PartitionLag> Lag => _monitor.Lag;

    /// <summary>
    /// Per assigned partition, whether it is caught up (every record the broker holds taken) and whether it is stalled
    /// (its committed offset not moving for <see cref="KafkaSourceOptions.StallTimeout"/> while records wait beyond
    /// it), updated five times a second.
    /// </summary>
    public IReadOnlyList<PartitionProgress> Progress => _monitor.Progress;

    /// <summary>Changes whenever <see cref="Progress"/> is published anew (a cheap check before reading it).</summary>
    public long ProgressVersion => _monitor.ProgressVersion;

    /// <summary>
    /// Exactly-once mode: epochs committed that carried work (outputs, or sensor-event offsets past where the partitions
    /// were assigned); the first epoch of a new pipeline commits only its start offsets and does not count, nor does an
    /// epoch of watermark reports alone.
    /// </summary>
    public long EpochsCommittedWithWork => _epochs?.EpochsCommittedWithWork ?? 0;

    /// <summary>Starts the consume loop on its own thread.</summary>
    public void Start()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("The source was started already.");
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "kommune-consumer" };
        _thread.Start();
    }

    /// <summary>
    /// Stops taking new records, waits up to <paramref name="drainTimeout"/> for events in flight to be done,
    /// commits what is done, and leaves the group. Events not done by then are consumed again by the next owner.
    /// </summary>
    public Task StopAsync(TimeSpan drainTimeout)
    {
        if (_thread is null)
        {
            return Task.CompletedTask;
        }

        _drainTimeout = drainTimeout;
        _stopRequested = true;
        return _stopped.Task;
    }

    /// <summary>Stops without waiting for events in flight.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.Zero);

    private void Run()
    {
        try
        {
            using var consumer = _main = BuildConsumer();
            using var @internal = _internal = BuildInternalConsumer();
            // For the rebalance callbacks' metadata, made once: a client's disposal waits about 100 ms for its thread,
            // which a client made in each callback added to every assignment (bench/README.md, issue 18 round thirty-two).
            using var leaders = _leaders = new DependentAdminClientBuilder(consumer.Handle).Build();
            _ends = new PartitionEndQueries(leaders, ConfirmTimeout);
            try
            {
                consumer.Subscribe(_options.Topics.SensorEvents);
                var lastStore = DateTime.UtcNow;
                while (!_stopRequested)
                {
                    _epochs?.AbortIfPartitionsLost();
                    TakeReady(consumer);
                    _ends.Take(_monitor);
                    ApplyBackpressure(consumer);
                    if (_epochs is { } epochs)
                    {
                        if (DateTime.UtcNow - lastStore >= _options.CommitInterval)
                        {
                            epochs.Commit(consumer, @internal, epochs.SettleTimeout);
                            lastStore = DateTime.UtcNow;
                        }
                    }
                    else if (DateTime.UtcNow - lastStore >= _options.CommitInterval / 2)
                    {
                        StoreCompletedOffsets(consumer);
                        lastStore = DateTime.UtcNow;
                    }

                    // Both consumers in one loop: the group's (sensor events) and the repartition topic's (manually
                    // assigned the same partition numbers). Each takes what it has ready, a batch at a time, without
                    // waiting; only when neither had anything does the loop wait, briefly, on the group's.
                    var taken = 0;
                    if (_internalAssigned.Count == 0)
                    {
                        if (TryConsume(consumer, PollTimeout) is { } result)
                        {
                            Handle(consumer, result);
                            for (taken = 1; taken < ConsumeBatch && TryConsume(consumer, TimeSpan.Zero) is { } next; taken++)
                            {
                                Handle(consumer, next);
                            }
                        }
                    }
                    else
                    {
                        for (; taken < ConsumeBatch && TryConsume(consumer, TimeSpan.Zero) is { } result; taken++)
                        {
                            Handle(consumer, result);
                        }

                        for (var i = 0; i < ConsumeBatch && TryConsume(@internal, TimeSpan.Zero) is { } internalResult; i++, taken++)
                        {
                            HandleInternal(internalResult);
                        }

                        if (taken == 0 && TryConsume(consumer, ShortPoll) is { } waited)
                        {
                            Handle(consumer, waited);
                        }
                    }

                    HandOn();
                    UpdateProgress(consumer);
                }

                _consuming = false;
                Drain(consumer);
                _epochs?.Closing();
                consumer.Close();
                @internal.Close();
            }
            catch (EpochAbortedException)
            {
                // Set before the consumers are disposed: their last revoke must not try to commit the aborted epoch.
                _epochAborted = true;
                throw;
            }
            finally
            {
                // Disposing a consumer that was not closed closes it: its last revoke runs with the group going away.
                _epochs?.Closing();
            }
        }
#pragma warning disable CA1031 // The loop thread reports every failure instead of dying silently.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _consuming = false;
            if (e is EpochAbortedException)
            {
                LogEpochAborted(_logger, e.Message);
            }
            else
            {
                LogLoopFailed(_logger, e);
            }

            _channel.Writer.TryComplete(e);
            _stopped.TrySetException(e);
            return;
        }

        _channel.Writer.TryComplete();
        _stopped.TrySetResult();
    }

    private IConsumer<byte[]?, byte[]?> BuildConsumer()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            GroupInstanceId = _options.GroupInstanceId,
            ClientId = "kommune-engine",
            // Offsets are stored only for done events, then committed in the background and on revoke/close. In
            // exactly-once mode the epoch's transaction commits them; they are stored only while the consumer closes,
            // after their epoch committed (see EpochOffsetCommitter.Commit), for the close to commit.
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            AutoCommitIntervalMs = (int)_options.CommitInterval.TotalMilliseconds,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
            // Incremental rebalancing: a rebalance moves only the partitions that must move; the others keep running.
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds,
            HeartbeatIntervalMs = 1_000,
            // A broker holds an empty fetch this long; a resumed partition waits for it, so keep it short.
            FetchWaitMaxMs = 10,
            // librdkafka's prefetch queue is memory outside the in-flight bound: keep it modest, and fetch again soon
            // once it has room (RefetchAfterFullQueueMs).
            QueuedMaxMessagesKbytes = 16 * 1024,
            FetchQueueBackoffMs = RefetchAfterFullQueueMs,
            // Fetch requests are small: send them at once rather than wait for the broker's ACK (Nagle).
            SocketNagleDisable = true,
            // The client says when it reaches the end of a partition: only then is the partition caught up, and may
            // it stop holding the watermark back while silent.
            EnablePartitionEof = true,
            // Neither the topic's name (one topic: PartitionOf), nor headers (a sensor event is its key and value).
            ConsumeResultFields = "timestamp",
        };
        return new ConsumerBuilder<byte[]?, byte[]?>(_options.ClientSettings.ApplyTo(config))
            .SetPartitionsAssignedHandler(OnPartitionsAssigned)
            .SetOffsetsCommittedHandler((_, committed) => OnOffsetsCommitted(committed))
            .SetPartitionsRevokedHandler(OnPartitionsRevoked)
            .SetPartitionsLostHandler(OnPartitionsLost)
            .SetLogHandler((_, m) => OnClientLog(m))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code, e.Reason))
            .Build();
    }

    /// <summary>
    /// The repartition topic's consumer: never joins a group (its partitions follow the group's assignment of the
    /// sensor-events topic, by number), and commits its offsets under a group of its own, which stays empty.
    /// </summary>
    private IConsumer<byte[]?, byte[]?> BuildInternalConsumer()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.RepartitionGroupId,
            ClientId = "kommune-engine-repartition",
            EnableAutoCommit = _options.Transactions is null,
            EnableAutoOffsetStore = false,
            AutoCommitIntervalMs = (int)_options.CommitInterval.TotalMilliseconds,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 10,
            QueuedMaxMessagesKbytes = 16 * 1024,
            FetchQueueBackoffMs = RefetchAfterFullQueueMs,
            SocketNagleDisable = true,
            EnablePartitionEof = true,
            // Not the topic's name (one topic: PartitionOf); the headers say what a repartition record is.
            ConsumeResultFields = "headers,timestamp",
        };
        return new ConsumerBuilder<byte[]?, byte[]?>(_options.ClientSettings.ApplyTo(config))
            .SetLogHandler((_, m) => OnClientLog(m))
            .SetErrorHandler((_, e) => LogClientError(_logger, e.Code, e.Reason))
            .Build();
    }

    private ConsumeResult<byte[]?, byte[]?>? TryConsume(IConsumer<byte[]?, byte[]?> consumer, TimeSpan? timeout = null)
    {
        try
        {
            var result = consumer.Consume(timeout ?? PollTimeout);
            if (result is { IsPartitionEOF: true })
            {
                _monitor.ReachedEnd(PartitionOf(consumer, result.Partition), result.Offset.Value, DateTime.UtcNow);
                return null;
            }

            return result;
        }
        catch (ConsumeException e) when (e.Error.IsFatal)
        {
            // The client cannot go on: most often another node joined the group with this node's group.instance.id.
            throw new KafkaException(new Error(e.Error.Code, e.Error.Code == ErrorCode.FencedInstanceId
                ? $"another engine node joined group '{_options.GroupId}' with this node's id '{_options.GroupInstanceId}' (group.instance.id) and fenced it: give each node its own NodeId (--node-id)"
                : $"the Kafka consumer failed for good: {e.Error.Reason}", isFatal: true));
        }
        catch (ConsumeException e)
        {
            // The client recovers by itself (retries, leader changes); the loop goes on.
            LogConsumeError(_logger, e.Error.Code, e.Error.Reason);
            return null;
        }
    }

    private void Handle(IConsumer<byte[]?, byte[]?> consumer, ConsumeResult<byte[]?, byte[]?> result)
    {
        var tp = PartitionOf(consumer, result.Partition);
        if (!Take(consumer, tp, result, out var tracker))
        {
            return;
        }

        if (_monitor.Taken(tp, result.Offset.Value, DateTime.UtcNow))
        {
            // New records after a silence, which may move the watermark past partitions counted as idle. Ask the broker
            // where those end now (the client's own knowledge may be a fetch reply behind) and publish it before this
            // record is handed on, so none whose records have just arrived is taken for idle.
            // Only those partitions are published anew (the rest as five times a second): a full refresh here cost a
            // call into the client per assigned partition for each such record (a fifth of the engine's CPU at 256 partitions).
            var now = DateTime.UtcNow;
            var confirmed = ConfirmIdleCandidates(except: tp);
            _monitor.SeenEnd(tp, consumer.GetWatermarkOffsets(tp).High.Value);
            confirmed.Add(tp);
            var changed = new List<PartitionProgress>();
            if (!_monitor.PublishAgain(confirmed, now, changed))
            {
                _monitor.Publish(_monitor.Snapshot(now, changed));
            }

            LogChanges(changed);
        }

        Interlocked.Increment(ref _consumed);
        var message = result.Message;
        var source = new RecordSource(tp.Topic, result.Partition.Value, result.Offset.Value, message.Key, message.Value);
        if (_decoder.TryDecode(message.Key, message.Value, out var sensorEvent, out var failure))
        {
            Write(new ConsumedEvent(sensorEvent!, tracker, source.Offset, source.Key, source.Value));
            return;
        }

        Interlocked.Increment(ref _deadLettered);
        DeadLetter(source, tracker, failure);
    }

    /// <summary>A record of the repartition topic: area work, watermarks, or a command forwarded to this node.</summary>
    private void HandleInternal(ConsumeResult<byte[]?, byte[]?> result)
    {

        var tp = PartitionOf(_internal!, result.Partition);
        if (!Take(_internal!, tp, result, out var tracker))
        {
            return;
        }

        _monitor.Taken(tp, result.Offset.Value, DateTime.UtcNow);
        var message = result.Message;
        var source = new RecordSource(tp.Topic, result.Partition.Value, result.Offset.Value, message.Key, message.Value);
        if (RepartitionCodec.TryDecode(message.Key, message.Value, message.Headers, out var record, out var failure))
        {
            Write(new ConsumedRepartitionRecord(record!, tracker, source.Offset, source.Key, source.Value));
            return;
        }

        DeadLetter(source, tracker, failure);
    }

    /// <summary>
    /// Takes a record into flight: skips one the client delivered again, seeks back under backpressure, and counts it.
    /// </summary>
    /// <returns>false when the record is not to be handled now.</returns>
    private bool Take(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, ConsumeResult<byte[]?, byte[]?> result, out PartitionOffsetTracker tracker)
    {
        var offset = result.Offset.Value;
        tracker = null!;
        if (_waiting.Count > 0 && _waiting.ContainsKey(tp.Partition.Value))
        {
            // Of either topic, fetched before its pause took effect, and not ready (its state is being restored): read
            // again once it is.
            SeekBack(consumer, tp, result);
            consumer.Pause([tp]);
            return false;
        }

        if (_losses.IsRedelivered(tp, offset))
        {
            return false;
        }

        if (_gate.Busy && TrySeekBack(consumer, tp, result))
        {
            return false;
        }

        if (!_trackers.TryGetValue(tp, out var known))
        {
            known = NewTracker(tp, offset);
            _trackers[tp] = known;
        }

        tracker = known;
        _losses.Taken(tp, offset);
        tracker.Start(offset);
        _gate.Taken();
        return true;
    }

    private void Write(ConsumedRecord record) => _batch.Add(record);

    /// <summary>
    /// Hands the records taken in this turn of the loop on to the engine, as one batch. Called at the end of each turn
    /// and before anything that waits for records in flight (rebalance callbacks, the drain): a record taken is
    /// never held back from the engine while the loop waits for it to finish.
    /// </summary>
    private void HandOn()
    {
        if (_batch.Count == 0)
        {
            return;
        }

        var batch = _batch.ToArray();
        _batch.Clear();
        if (!_channel.Writer.TryWrite(batch))
        {
            // Only after the channel completed (the loop ended): these records were never handed on, so none is done.
            foreach (var record in batch)
            {
                record.Abandon();
            }
        }
    }

    private void DeadLetter(RecordSource source, PartitionOffsetTracker tracker, DecodeFailure failure)
    {
        var deadLettered = Interlocked.Increment(ref _deadLetterCount);
        // Sampled: the first ten, then every thousandth, so a flood of bad input cannot flood the log.
        if (deadLettered <= 10 || deadLettered % 1000 == 0)
        {
            LogDeadLettered(_logger, deadLettered, source.Topic, source.Partition, source.Offset, failure.Text);
        }

        _deadLetters.Send(new DeadLetter(source.Key, source.Value, source.Topic, source.Partition, source.Offset, failure.Text, failure.Code), () =>
        {
            tracker.Complete(source.Offset);
            _gate.RecordReleased();
            _gate.RecordCompleted();
        });
    }

    /// <summary>A partition's tracker, whose records count down the gate's counts when they are released and completed.</summary>
    private PartitionOffsetTracker NewTracker(TopicPartition partition, long startOffset) =>
        new(partition.Topic, partition.Partition.Value, startOffset, _gate.OnRecordCompleted, _gate.OnRecordReleased);

    /// <summary>
    /// A record fetched before the pause took effect: pause, and read it again after resuming rather than hold it.
    /// If the client refuses the seek, the record is handled now, one over the bound, rather than lost.
    /// </summary>
    private bool TrySeekBack(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, ConsumeResult<byte[]?, byte[]?> result)
    {
        try
        {
            SeekBack(consumer, tp, result);
            Pause(_main!);
            return true;
        }
        catch (KafkaException e)
        {
            LogSeekFailed(_logger, tp.Topic, tp.Partition.Value, result.Offset.Value, e.Error.Reason);
            return false;
        }
    }

    /// <summary>
    /// Seeks <paramref name="tp"/> back to <paramref name="result"/>'s record, so that it is read again, with the
    /// record's leader epoch (as the client's own TopicPartitionOffset of the record carries it).
    /// </summary>
    private void SeekBack(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, ConsumeResult<byte[]?, byte[]?> result)
    {
        consumer.Seek(new TopicPartitionOffset(tp, result.Offset, result.LeaderEpoch));
        _monitor.SoughtBack(tp, result.Offset.Value);
    }

    private void ApplyBackpressure(IConsumer<byte[]?, byte[]?> consumer)
    {
        // Paused first: the clock is read only while the consumer is paused, not on every turn of the loop.
        if (_options.WriteStateNow is { } writeState && _gate.IsPaused && _gate.StateWriteDue(DateTime.UtcNow))
        {
            writeState();
        }

        var awaitingCommit = _gate.AwaitingCommit;
        switch (_gate.NextStep())
        {
            case BackpressureGate.Step.Pause:
            case BackpressureGate.Step.PauseAssigned: // new partitions arrive unpaused
                Pause(consumer);
                break;
            case BackpressureGate.Step.Resume:
                consumer.Resume(NotWaiting(consumer.Assignment));
                if (_internalAssigned.Count > 0)
                {
                    _internal!.Resume(NotWaiting(_internalAssigned));
                }

                WakeFetchers(consumer);
                _gate.Resumed();
                _monitor.Paused = false;
                LogResumed(_logger, _gate.Processing, awaitingCommit);
                break;
            case BackpressureGate.Step.None:
                break;
        }
    }

    /// <summary>
    /// librdkafka applies a resume at its broker thread's next wake-up, which can be a second away when every
    /// partition of that broker was paused. A request to each leader wakes its thread now, so a resumed engine
    /// gets records within milliseconds instead of idling. Records may have arrived during the pause: no partition of either
    /// topic counts as caught up until the broker says where it ends now, in one request for all of them that the loop does
    /// not wait for (<see cref="PartitionEndQueries"/>), or a fetch reaches its end. (It asked each partition in turn and waited:
    /// at 256 partitions the loop read nothing for about 10 s after each pause.)
    /// </summary>
    private void WakeFetchers(IConsumer<byte[]?, byte[]?> consumer)
    {
        _ends.Forget(); // what was asked before the pause may be answered with ends older than it
        AskEndsAnew(consumer, [.. consumer.Assignment.Concat(_internalAssigned)]);
    }

    /// <summary>
    /// <paramref name="partitions"/> were resumed and records may have come meanwhile: what was known of their ends is
    /// forgotten, each leader's broker thread is woken with one query that the loop waits for (a resumed partition's fetch
    /// goes out at that thread's next wake-up), and the rest are asked in one request that it does not wait for.
    /// </summary>
    private void AskEndsAnew(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        var now = DateTime.UtcNow;
        _monitor.ForgetEnds(partitions, now);
        foreach (var tp in _onePartitionPerLeader)
        {
            TryConfirmEnd(consumer, tp, TimeSpan.FromSeconds(1));
        }

        _ends.Ask(partitions.Except(_onePartitionPerLeader), now);
    }

    /// <summary>
    /// Asks the broker where <paramref name="tp"/> ends now and tells the monitor; false when it does not answer in time
    /// (the partition then stays not caught up until a fetch or a later confirmation says more).
    /// </summary>
    private bool TryConfirmEnd(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, TimeSpan timeout)
    {
        try
        {
            _monitor.ConfirmedEnd(tp, consumer.QueryWatermarkOffsets(tp, timeout).High.Value, DateTime.UtcNow);
            return true;
        }
        catch (KafkaException)
        {
            return false;
        }
    }

    /// <summary>The partitions of <paramref name="partitions"/> (of either topic) that are not waiting for their state to be restored.</summary>
    private List<TopicPartition> NotWaiting(IEnumerable<TopicPartition> partitions) =>
        _waiting.Count == 0 ? [.. partitions] : [.. partitions.Where(tp => !_waiting.ContainsKey(tp.Partition.Value))];

    private void Pause(IConsumer<byte[]?, byte[]?> consumer)
    {
        consumer.Pause(consumer.Assignment);
        PauseInternal();
        _monitor.Paused = true;
        if (_gate.Paused())
        {
            LogPaused(_logger, _gate.Processing, _gate.AwaitingCommit);
        }
    }

    private void PauseInternal()
    {
        if (_internalAssigned.Count > 0)
        {
            _internal!.Pause([.. _internalAssigned]);
        }
    }

    private void Drain(IConsumer<byte[]?, byte[]?> consumer)
    {
        HandOn();
        consumer.Pause(consumer.Assignment);
        PauseInternal();
        // Events whose state waits for its checkpoint would otherwise wait for it here.
        _options.WriteStateNow?.Invoke();
        var deadline = DateTime.UtcNow + _drainTimeout;
        while (_gate.AwaitingCommit > 0 && DateTime.UtcNow < deadline)
        {
            // Keep serving the group while events finish; anything fetched is left for the next owner.
            var result = TryConsume(consumer);
            if (result is not null)
            {
                var tp = PartitionOf(consumer, result.Partition);
                SeekBack(consumer, tp, result);
                consumer.Pause([tp]);
            }

            StoreOffsetsUnlessTransactional(consumer);
        }

        StoreOffsetsUnlessTransactional(consumer);
        var left = _gate.AwaitingCommit;
        if (left > 0)
        {
            LogDrainIncomplete(_logger, left);
        }

        if (_epochs is { } epochs)
        {
            // The last epoch: what is complete commits; what is not is consumed again after the restart.
            epochs.Commit(consumer, _internal!, left > 0 ? TimeSpan.Zero : epochs.SettleTimeout);
        }
    }

    private void OnOffsetsCommitted(CommittedOffsets committed)
    {
        // Called from Consume after each of the client's background commits (none in exactly-once mode).
        if (committed.Error.IsError || committed.Offsets.Any(o => o.Error.IsError))
        {
            Interlocked.Increment(ref _offsetCommitFailures);
        }
        else if (committed.Offsets.Count > 0)
        {
            Interlocked.Increment(ref _offsetCommits);
        }
    }

    /// <summary>
    /// Five times a second: each assigned partition's end from the client's cached high watermark, whether it is
    /// caught up or stalled (logged when that changes), and its lag.
    /// </summary>
    private void UpdateProgress(IConsumer<byte[]?, byte[]?> consumer)
    {
        var now = DateTime.UtcNow;
        if (now - _progressUpdated < TimeSpan.FromMilliseconds(200))
        {
            return;
        }

        _progressUpdated = now;
        foreach (var tp in _trackers.Keys)
        {
            _monitor.SeenEnd(tp, ConsumerOf(tp, consumer).GetWatermarkOffsets(tp).High.Value);
        }

        if (!_gate.IsPaused)
        {
            // Answered at a later turn; until then, once what is known grows old, the partition no longer counts as caught up.
            _ends.Ask(_monitor.ToConfirm(now), now);
        }

        var changed = new List<PartitionProgress>();
        _monitor.Publish(_monitor.Snapshot(now, changed));
        LogChanges(changed);
    }

    private void LogChanges(List<PartitionProgress> changed)
    {
        foreach (var change in changed)
        {
            if (change.Stalled)
            {
                LogPartitionStalled(_logger, change.Topic, change.Partition, change.Committed, change.SinceCommitMoved.TotalSeconds, change.Backlog);
            }
            else
            {
                LogPartitionRecovered(_logger, change.Topic, change.Partition, change.Committed);
            }
        }
    }

    /// <summary>The partition a record of <paramref name="consumer"/> came from (its topic is the one that consumer reads).</summary>
    private TopicPartition PartitionOf(IConsumer<byte[]?, byte[]?> consumer, Partition partition)
    {
        var (topic, known) = ReferenceEquals(consumer, _internal)
            ? (_options.Topics.Repartition, _repartitionPartitions)
            : (_options.Topics.SensorEvents, _sensorPartitions);
        if (!known.TryGetValue(partition.Value, out var tp))
        {
            tp = new TopicPartition(topic, partition);
            known[partition.Value] = tp;
        }

        return tp;
    }

    /// <summary>The consumer a partition belongs to: the repartition topic's, or the group's.</summary>
    private IConsumer<byte[]?, byte[]?> ConsumerOf(TopicPartition tp, IConsumer<byte[]?, byte[]?> main) =>
        tp.Topic == _options.Topics.Repartition ? _internal! : main;

    /// <summary>Stores done offsets for the client's commits, in at-least-once mode; exactly-once commits them in epochs.</summary>
    private void StoreOffsetsUnlessTransactional(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_options.Transactions is null)
        {
            StoreCompletedOffsets(consumer);
        }
    }

    /// <summary>
    /// Stores, for the client's commits, the offsets that are done: at once, or, for a sensor-events partition when
    /// <see cref="KafkaSourceOptions.WriteBeforeCommit"/> is set, once what it writes first is written (a later call
    /// stores it). Partitions being handed over (<paramref name="handedOver"/>) store all that is done at once: the
    /// client commits them as the handler returns.
    /// </summary>
    private void StoreCompletedOffsets(IConsumer<byte[]?, byte[]?> consumer, HashSet<TopicPartition>? handedOver = null)
    {
        while (_writtenBeforeCommit.TryDequeue(out var written))
        {
            _writingBeforeCommit.Remove(written.Tracker);
            if (written.Tracker.IsActive)
            {
                Store(consumer, written.Partition, written.Next);
            }
        }

        var writeFirst = _options.WriteBeforeCommit;
        foreach (var (tp, tracker) in _trackers)
        {
            if (handedOver?.Contains(tp) == true)
            {
                Store(consumer, tp, tracker.Committable);
            }
            else if (writeFirst is null || tp.Topic != _options.Topics.SensorEvents)
            {
                if (tracker.TryTakeCommittable(out var next))
                {
                    Store(consumer, tp, next);
                }
            }
            else if (!_writingBeforeCommit.Contains(tracker) && tracker.TryTakeCommittable(out var next))
            {
                _writingBeforeCommit.Add(tracker);
                writeFirst(tp.Partition.Value, next, () => _writtenBeforeCommit.Enqueue((tp, tracker, next)));
            }
        }
    }

    private void Store(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, long next)
    {
        try
        {
            ConsumerOf(tp, consumer).StoreOffset(new TopicPartitionOffset(tp, next));
            _monitor.Committed(tp, next, DateTime.UtcNow);
        }
        catch (KafkaException e)
        {
            LogStoreFailed(_logger, tp.Topic, tp.Partition.Value, e.Error.Reason);
        }
    }

    /// <summary>Asks the broker where the sensor-events partitions that may count as idle end now, in one request.</summary>
    /// <returns>The partitions whose end was confirmed.</returns>
    private List<TopicPartition> ConfirmIdleCandidates(TopicPartition except)
    {
        var asked = DateTime.UtcNow;
        var candidates = _monitor.IdleCandidates(asked, _options.IdlePartitionTimeout)
            .Where(candidate => candidate != except && candidate.Topic == _options.Topics.SensorEvents)
            .ToList();
        var confirmed = new List<TopicPartition>();
        foreach (var (candidate, end) in _ends.EndsNow(candidates, ConfirmTimeout))
        {
            // One not answered stays as it was known, and stops counting as caught up once that is old.
            _monitor.ConfirmedEnd(candidate, end, asked);
            confirmed.Add(candidate);
        }

        return confirmed;
    }

    private void OnClientLog(LogMessage message)
    {
        _losses.ClientLogged(message);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogClient(_logger, message.Facility, message.Message);
        }
    }

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Dead letter #{Count} from {Topic}[{Partition}]@{Offset}: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, long count, string topic, int partition, long offset, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Paused consumption: {Processing} events being processed, {AwaitingCommit} not yet committable")]
    private static partial void LogPaused(ILogger logger, long processing, long awaitingCommit);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Resumed consumption: {Processing} events being processed, {AwaitingCommit} not yet committable")]
    private static partial void LogResumed(ILogger logger, long processing, long awaitingCommit);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Stopped with {Count} events not done; they will be consumed again")]
    private static partial void LogDrainIncomplete(ILogger logger, long count);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Could not store offset for {Topic}[{Partition}]: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "Could not read committed offsets or watermarks: {Reason}")]
    private static partial void LogCommittedLookupFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "Consume error {Code}: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Consumer error {Code}: {Reason}")]
    private static partial void LogClientError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Debug, Message = "librdkafka consumer [{Facility}] {Text}")]
    private static partial void LogClient(ILogger logger, string facility, string text);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Warning, Message = "Could not seek back to {Topic}[{Partition}]@{Offset} ({Reason}); handling it over the in-flight bound")]
    private static partial void LogSeekFailed(ILogger logger, string topic, int partition, long offset, string reason);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "The epoch's transaction was aborted ({Reason}); the consumer stops so the engine can restore the last committed state")]
    private static partial void LogEpochAborted(ILogger logger, string reason);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Warning,
        Message = "Partition {Topic}[{Partition}] is stalled: its committed offset has stayed at {Offset} for {Seconds:F0} s while {Backlog} records wait beyond it (see kommune_partition_stalled)")]
    private static partial void LogPartitionStalled(ILogger logger, string topic, int partition, long offset, double seconds, long backlog);

    [LoggerMessage(EventId = 1018, Level = LogLevel.Information, Message = "Partition {Topic}[{Partition}] is moving again: committed up to {Offset}")]
    private static partial void LogPartitionRecovered(ILogger logger, string topic, int partition, long offset);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Critical, Message = "The consume loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}

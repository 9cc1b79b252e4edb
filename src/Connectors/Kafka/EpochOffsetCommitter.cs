using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Exactly-once mode, the source's side of an epoch: waits, taking no record, until every record taken is complete and
/// the engine has settled, then commits the consumed offsets of both topics with the epoch's outputs and state in one
/// transaction (<see cref="IEpochCommitter"/>); aborts the epoch when that takes too long or when partitions were lost
/// during it. Driven by the consume loop's thread, except <see cref="PartitionsLost"/> (a rebalance callback, which runs
/// inside the loop's Consume) and the counts (any thread).
/// </summary>
internal sealed partial class EpochOffsetCommitter
{
    private static readonly TimeSpan NudgeInterval = TimeSpan.FromMilliseconds(100); // how often an epoch asks for state while it waits
    private readonly SourceTransactions _transactions;
    private readonly string _repartitionTopic;
    private readonly IReadOnlyDictionary<TopicPartition, PartitionOffsetTracker> _trackers;
    private readonly BackpressureGate _gate;
    private readonly PartitionMonitor _monitor;
    private readonly ILogger _logger;
    private readonly Func<bool> _settled;
    private readonly Action? _writeStateNow;
    private readonly string? _sensorTopic;
    private readonly Action<int, long, Action>? _writeBeforeCommit;
    private readonly TimeProvider _clock;
    private readonly Dictionary<TopicPartition, long> _assignedAt = [];
    private volatile string? _lostInEpoch; // partitions lost since the epoch began, so it must abort
    private volatile bool _closing; // the group consumer is being closed: its group is going away (see GroupMetadataOf)
    private IConsumerGroupMetadata? _groupMetadata; // the group consumer's, as last read before the close
    private IConsumerGroupMetadata? _internalGroupMetadata; // the repartition consumer's (it joins no group)
    private long _epochs;
    private long _epochsWithWork;

    /// <summary>
    /// A committer of the offsets that <paramref name="trackers"/> (the consume loop's, of both topics) say are done,
    /// with <paramref name="transactions"/>; an epoch settles when <paramref name="gate"/> has nothing awaiting commit.
    /// While it waits, it asks the engine to write its changed state (<paramref name="writeStateNow"/>,
    /// <see cref="KafkaSourceOptions.WriteStateNow"/>): at once, again as soon as no taken record is being processed any
    /// more, and then every 100 ms (timers may have changed state since the last ask). Once every record taken is
    /// processed, it has <paramref name="writeBeforeCommit"/> (<see cref="KafkaSourceOptions.WriteBeforeCommit"/>, if set)
    /// write into the epoch's transaction what each partition of <paramref name="sensorTopic"/> whose commit point moved
    /// needs with its commit. <paramref name="clock"/> (the system's when null) times the settle timeout and the asks.
    /// </summary>
    public EpochOffsetCommitter(
        SourceTransactions transactions,
        string repartitionTopic,
        IReadOnlyDictionary<TopicPartition, PartitionOffsetTracker> trackers,
        BackpressureGate gate,
        PartitionMonitor monitor,
        Action? writeStateNow,
        ILogger logger,
        TimeProvider? clock = null,
        string? sensorTopic = null,
        Action<int, long, Action>? writeBeforeCommit = null)
    {
        _sensorTopic = sensorTopic;
        _writeBeforeCommit = writeBeforeCommit;
        _clock = clock ?? TimeProvider.System;
        _transactions = transactions;
        _repartitionTopic = repartitionTopic;
        _trackers = trackers;
        _gate = gate;
        _monitor = monitor;
        _logger = logger;
        _writeStateNow = writeStateNow;
        _settled = () => _gate.AwaitingCommit == 0 && _transactions.Settled();
    }

    /// <summary>How long an epoch may take to settle before its transaction is aborted.</summary>
    public TimeSpan SettleTimeout => _transactions.SettleTimeout;

    /// <summary>Transactions committed.</summary>
    public long EpochsCommitted => Interlocked.Read(ref _epochs);

    /// <summary>
    /// Epochs committed that carried work (outputs, or sensor-event offsets past where the partitions were assigned).
    /// </summary>
    public long EpochsCommittedWithWork => Interlocked.Read(ref _epochsWithWork);

    /// <summary>
    /// The group consumer was given partitions (<paramref name="consumer"/>'s new generation): its group metadata is
    /// read now, while the group is up, for the close's last epoch (<see cref="GroupMetadataOf"/>).
    /// </summary>
    public void GroupAssigned(IConsumer<byte[]?, byte[]?> consumer) => _groupMetadata = consumer.ConsumerGroupMetadata;

    /// <summary>A partition was assigned, consumption starting at <paramref name="start"/>: offsets past it are work.</summary>
    public void Assigned(TopicPartition partition, long start) => _assignedAt[partition] = start;

    /// <summary>A partition went to another consumer.</summary>
    public void Revoked(TopicPartition partition) => _assignedAt.Remove(partition);

    /// <summary>The group consumer is closing: from now on its offsets are stored for the close to commit.</summary>
    public void Closing() => _closing = true;

    /// <summary>
    /// Partitions were lost during the open epoch, which holds work of theirs that their new owner makes again: the epoch
    /// must abort (<see cref="AbortIfPartitionsLost"/>).
    /// </summary>
    public void PartitionsLost(IEnumerable<int> partitions) =>
        _lostInEpoch = $"partitions {string.Join(", ", partitions.Order())} were lost; the epoch holds work of them";

    /// <summary>Aborts the open epoch (throwing <see cref="EpochAbortedException"/>) if partitions were lost during it.</summary>
    public void AbortIfPartitionsLost()
    {
        if (_lostInEpoch is { } reason)
        {
            _lostInEpoch = null;
            _transactions.Committer.Abort(reason);
        }
    }

    /// <summary>
    /// Takes no record while it waits (at most <paramref name="settleTimeout"/>) for every taken record to complete and
    /// the engine to settle, then commits outputs, state and the offsets of <paramref name="consumer"/> (the group's) and
    /// <paramref name="internalConsumer"/> (the repartition topic's) in one transaction. Aborts (and throws) if that takes
    /// too long.
    /// </summary>
    /// <exception cref="EpochAbortedException">The epoch aborted.</exception>
    public void Commit(IConsumer<byte[]?, byte[]?> consumer, IConsumer<byte[]?, byte[]?> internalConsumer, TimeSpan settleTimeout)
    {
        AbortIfPartitionsLost();
        var committer = _transactions.Committer;
        var committable = _trackers.Any(t => t.Value.HasCommittable);
        if (!committable && !committer.HasSends && _gate.AwaitingCommit == 0 && _transactions.Settled())
        {
            // Nothing taken, sent or changed since the last epoch (state changed by a timer alone is written by an
            // epoch too: the engine writes changed state when an epoch asks, not on a clock of its own).
            return;
        }

        var holding = _clock.GetTimestamp();
        var deadline = _clock.GetUtcNow() + settleTimeout;
        var nextNudge = DateTimeOffset.MinValue;
        var processed = false;
        var writtenBeforeCommit = false;
        while (true)
        {
            if (!writtenBeforeCommit && _gate.Processing == 0)
            {
                // Every record taken is processed (so the engine has judged each) and none is taken until the commit: the
                // commit points are known, and what goes with them is sent now, into this epoch's transaction (held
                // sends would go into the next), while the outputs of the last records are still being acknowledged.
                WriteBeforeCommit();
                writtenBeforeCommit = true;
            }

            if (committer.TryHold(_settled))
            {
                break;
            }

            if (_clock.GetUtcNow() >= deadline)
            {
                committer.Abort(
                    $"the epoch did not settle within {settleTimeout.TotalSeconds:0.#} s ({_gate.AwaitingCommit} events not complete)");
            }

            if (_clock.GetUtcNow() >= nextNudge || (!processed && _gate.Processing == 0))
            {
                // Asked at once, again as soon as every taken record is processed (those still in process at the
                // first ask changed state since), and then every NudgeInterval (timers may have changed state).
                processed = _gate.Processing == 0;
                _writeStateNow?.Invoke();
                nextNudge = _clock.GetUtcNow() + NudgeInterval;
            }

            Thread.Sleep(1);
        }

        _transactions.HeldIntake?.Invoke(_clock.GetElapsedTime(holding));

        var offsets = new List<TopicPartitionOffset>();
        var internalOffsets = new List<TopicPartitionOffset>();
        foreach (var (tp, tracker) in _trackers)
        {
            if (tracker.TryTakeCommittable(out var next))
            {
                (tp.Topic == _repartitionTopic ? internalOffsets : offsets).Add(new TopicPartitionOffset(tp, next));
            }
        }

        // Work is input taken or anything but bookkeeping written: not an epoch of watermark reports alone, nor one that
        // only read repartition records (on the embedded broker those include reports of aborted transactions).
        var withWork = committer.HasWork
            || offsets.Any(o => !_assignedAt.TryGetValue(o.TopicPartition, out var start) || o.Offset.Value > start);
        var started = Stopwatch.GetTimestamp();
        committer.Commit([(offsets, GroupMetadataOf(consumer)), (internalOffsets, _internalGroupMetadata ??= internalConsumer.ConsumerGroupMetadata)]);
        if (withWork)
        {
            Interlocked.Increment(ref _epochsWithWork);
        }

        _transactions.Committed?.Invoke(Stopwatch.GetElapsedTime(started));
        Interlocked.Increment(ref _epochs);
        var committedAt = DateTime.UtcNow;
        foreach (var offset in offsets.Concat(internalOffsets))
        {
            _monitor.Committed(offset.TopicPartition, offset.Offset.Value, committedAt);
        }

        foreach (var (client, committed) in new[] { (consumer, offsets), (internalConsumer, internalOffsets) })
        {
            if (committed.Count == 0)
            {
                continue;
            }

            try
            {
                // The same offsets again, outside the transaction: a no-op on Kafka, where the transaction committed
                // them; needed on the embedded broker, which accepts offsets sent in a transaction but does not store them.
                // While the group consumer closes they are stored instead and the close commits them: a synchronous
                // commit from its last revoke has no timeout and can wait for a group that is going away.
                if (_closing && ReferenceEquals(client, consumer))
                {
                    committed.ForEach(client.StoreOffset);
                }
                else
                {
                    client.Commit(committed);
                }
            }
            catch (KafkaException e)
            {
                LogEpochOffsetsNotCommitted(_logger, e.Error.Reason);
            }
        }
    }

    /// <summary>What each sensor partition whose commit point moved needs written with its commit (its time).</summary>
    private void WriteBeforeCommit()
    {
        if (_writeBeforeCommit is not { } write)
        {
            return;
        }

        foreach (var (tp, tracker) in _trackers)
        {
            if (tp.Topic == _sensorTopic && tracker.TryPeekCommittableOnceDone(out var next))
            {
                write(tp.Partition.Value, next, static () => { });
            }
        }
    }

    /// <summary>
    /// The group consumer's group metadata (member and generation, which fence a zombie's offsets on Kafka), read anew
    /// each epoch; while the consumer closes, the last one read. A consumer whose group is going away (its last revoke
    /// inside Close) has none, and the client then crashes the process on reading it.
    /// </summary>
    private IConsumerGroupMetadata GroupMetadataOf(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (!_closing || _groupMetadata is null)
        {
            _groupMetadata = consumer.ConsumerGroupMetadata;
        }

        return _groupMetadata;
    }

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "The epoch committed, but committing its offsets with the consumer too failed ({Reason}); on Kafka the transaction holds them")]
    private static partial void LogEpochOffsetsNotCommitted(ILogger logger, string reason);
}

using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Reads rule state back from the state topic: for the given partitions, every record from the start (or from where a
/// partition's <see cref="StateHandOverMark"/> says, when it is the partition's last record) to the end they had when
/// reading began, keeping the newest per key (a tombstone removes the key), the way Kafka Streams restores a changelog
/// before processing, except that a record covering less input than an earlier one of its key is
/// passed over (<see cref="StateRecordReader"/>). Large states come back from their chunks (<see cref="StateRecordReader"/>),
/// and the chunk count of each key is told to the <see cref="StateChunkLedger"/> the sink shares.
/// </summary>
/// <param name="bootstrapServers">The cluster.</param>
/// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the clients' own.</param>
/// <param name="topic">The state topic.</param>
/// <param name="timeout">The longest one restore reads; the partitions not read by then are gone on without (logged).</param>
/// <param name="chunks">Told each restored key's chunk count: the ledger the state writer shares.</param>
/// <param name="logger">Where the restorer logs.</param>
public sealed partial class KafkaStateRestorer(string bootstrapServers, KafkaClientSettings clientSettings, string topic, TimeSpan timeout, StateChunkLedger chunks, ILogger logger)
    : IStateRestorer
{
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(10);

    // How many of a partition's last offsets are read for its hand-over mark: the mark, and in exactly-once mode the
    // commit marker of its transaction after it, with room to spare.
    private const int TailRecords = 4;

    // How many partitions one restore reads at a time: each fetch still asks many partitions, and of 256 the first are
    // ready after about a sixteenth of the records.
    private const int ReadWindow = 16;

    /// <inheritdoc/>
    public int Partitions(KafkaTopicMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.PartitionCount(topic, out var whyNot) is { } count)
        {
            return count;
        }

        LogNoStateTopic(logger, topic, whyNot ?? "not found");
        return 0;
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<int, long>? EndOffsets(IReadOnlyList<int> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        try
        {
            using var consumer = Consumer();
            return Offsets(consumer, partitions, ListOffsetsBounds.Latest);
        }
        catch (KafkaException e)
        {
            LogEndOffsetsUnknown(logger, topic, e.Error.Reason);
            return null;
        }
    }

    /// <inheritdoc/>
    public int Restore(IReadOnlyList<int> partitions, Func<RestoredState, bool> restore, Action<int>? partitionRestored = null, ICollection<int>? unfinished = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(restore);
        var started = Stopwatch.StartNew();
        using var consumer = Consumer();

        var ends = new Dictionary<int, long>();
        var lows = new Dictionary<int, long>();
        if (partitions.Count > 0)
        {
            var firsts = Offsets(consumer, partitions, ListOffsetsBounds.Earliest);
            foreach (var (partition, end) in Offsets(consumer, partitions, ListOffsetsBounds.Latest))
            {
                if (end > firsts[partition])
                {
                    ends[partition] = end;
                    lows[partition] = firsts[partition];
                }
            }
        }

        var marks = HandOverMarks(consumer, ends, lows, started);
        var reads = new List<TopicPartitionOffset>();
        var marked = new List<int>();
        var skipped = 0L;
        var firstTimers = new Dictionary<int, DateTimeOffset>();
        foreach (var (partition, low) in lows)
        {
            var from = low;
            if (marks.TryGetValue(partition, out var handedOver))
            {
                if (handedOver.FirstTimer is { } firstTimer)
                {
                    firstTimers[partition] = firstTimer;
                }

                var mark = handedOver.RestoreFrom;
                if (mark > low && mark < ends[partition])
                {
                    from = mark;
                    skipped += mark - low;
                    marked.Add(partition);
                }
            }

            reads.Add(new TopicPartitionOffset(topic, partition, from));
        }

        if (marked.Count > 0)
        {
            var which = string.Join(", ", marked.Order());
            LogFromMarks(logger, which, skipped);
        }

        // Empty partitions are restored at once; the others one window at a time (RestoreOrder): those whose keys have a
        // timer due first, then those with the fewest records, so that the first partitions are ready after a fraction
        // of the whole restore (a node reads each once its state is).
        var keys = 0;
        foreach (var partition in partitions.Where(p => !ends.ContainsKey(p)))
        {
            partitionRestored?.Invoke(partition);
        }

        var queue = new Queue<TopicPartitionOffset>(RestoreOrder(reads, ends, firstTimers, DateTimeOffset.UtcNow));
        var reading = new Dictionary<int, StateRecordReader>();
        long records = 0, stale = 0;
        void OpenWindow()
        {
            var opened = new List<TopicPartitionOffset>();
            while (reading.Count < ReadWindow && queue.TryDequeue(out var next))
            {
                reading[next.Partition.Value] = new StateRecordReader();
                opened.Add(next);
            }

            if (opened.Count > 0)
            {
                consumer.IncrementalAssign(opened);
            }
        }

        OpenWindow();
        while (reading.Count > 0)
        {
            if (started.Elapsed > timeout || cancellationToken.IsCancellationRequested)
            {
                var left = reading.Keys.Concat(queue.Select(q => q.Partition.Value)).Order().ToList();
                var which = string.Join(", ", left);
                if (cancellationToken.IsCancellationRequested)
                {
                    LogRestoreCancelled(logger, which);
                }
                else
                {
                    LogRestoreTimedOut(logger, timeout.TotalSeconds, which);
                }

                foreach (var notRead in left)
                {
                    unfinished?.Add(notRead);
                }

                break;
            }

            var record = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (record is null)
            {
                continue;
            }

            var partition = record.Partition.Value;
            if (!reading.TryGetValue(partition, out var reader))
            {
                continue; // of a partition read to its end already, fetched before its unassignment took effect
            }

            if (!record.IsPartitionEOF)
            {
                reader.Add(record.Message.Key, record.Message.Value, record.Message.Headers, partition);
            }

            if (record.IsPartitionEOF || record.Offset.Value + 1 >= ends[partition])
            {
                reading.Remove(partition);
                consumer.IncrementalUnassign([new TopicPartition(topic, partition)]);
                keys += Hand(reader, restore);
                records += reader.Records;
                stale += reader.Stale;
                partitionRestored?.Invoke(partition);
                OpenWindow();
            }
        }

        var all = string.Join(", ", partitions);
        if (stale > 0)
        {
            LogStaleStates(logger, stale, all);
        }

        LogRestored(logger, keys, records, all, started.Elapsed.TotalMilliseconds);
        return keys;
    }

    /// <summary>
    /// Reads the last few records of each partition (<paramref name="ends"/>: its end offset, <paramref name="lows"/>: its
    /// first) and returns, for each whose last record is a <see cref="StateHandOverMark"/>, the offset and the first timer
    /// it names.
    /// </summary>
    private Dictionary<int, HandedOver> HandOverMarks(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, long> ends, Dictionary<int, long> lows, Stopwatch started)
    {
        var marks = new Dictionary<int, HandedOver>();
        if (ends.Count == 0)
        {
            return marks;
        }

        // The mark is the last record its node wrote; in exactly-once mode the transaction's commit marker follows it.
        var left = new Dictionary<int, long>(ends);
        consumer.Assign(left.Select(e => new TopicPartitionOffset(topic, e.Key, Math.Max(lows[e.Key], e.Value - TailRecords))));
        while (left.Count > 0 && started.Elapsed < timeout)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (record is null)
            {
                continue;
            }

            var partition = record.Partition.Value;
            if (!record.IsPartitionEOF)
            {
                if (record.Message.Key is { } key && StateHandOverMark.IsMark(key) && record.Message.Value is { } value
                    && StateHandOverMark.TryRead(value, out var restoreFrom, out var firstTimer))
                {
                    marks[partition] = new HandedOver(restoreFrom, firstTimer);
                }
                else
                {
                    marks.Remove(partition); // a record after a mark: the mark no longer holds
                }
            }

            if (record.IsPartitionEOF || (left.TryGetValue(partition, out var end) && record.Offset.Value + 1 >= end))
            {
                left.Remove(partition);
            }
        }

        foreach (var partition in left.Keys)
        {
            marks.Remove(partition); // not read to its end: whether its last record is a mark is not known
        }

        consumer.Unassign();
        return marks;
    }

    /// <summary>
    /// The order in which partitions are read: first those whose hand-over mark names a processing-time timer due by
    /// <paramref name="now"/> (<paramref name="firstTimers"/>), earliest first, since their outputs are overdue (a fall's
    /// escalation that came due while no node held its partition is the first output a restore should give); then the
    /// others, those with the fewest records to read first.
    /// </summary>
    internal static IEnumerable<TopicPartitionOffset> RestoreOrder(IEnumerable<TopicPartitionOffset> reads, IReadOnlyDictionary<int, long> ends, IReadOnlyDictionary<int, DateTimeOffset> firstTimers, DateTimeOffset now) =>
        reads.OrderBy(r => firstTimers.TryGetValue(r.Partition.Value, out var due) && due <= now ? due : DateTimeOffset.MaxValue)
            .ThenBy(r => ends[r.Partition.Value] - r.Offset.Value)
            .ThenBy(r => r.Partition.Value);

    /// <summary>Hands each key's newest state of one partition to <paramref name="restore"/>; how many it took.</summary>
    private int Hand(StateRecordReader reader, Func<RestoredState, bool> restore)
    {
        var keys = 0;
        foreach (var state in reader.States((key, partition, reason) => LogUnreadableState(logger, key, partition, reason)))
        {
            chunks.Restored(state.Key, state.Chunks);
            bool taken;
            try
            {
                taken = restore(state);
            }
            catch (InvalidDataException e)
            {
                LogUnreadableState(logger, state.Key, state.Partition, e.Message);
                continue;
            }

            if (taken)
            {
                keys++;
            }
        }

        return keys;
    }

    /// <summary>
    /// The first (<see cref="ListOffsetsBounds.Earliest"/>) or the end (<see cref="ListOffsetsBounds.Latest"/>) offset of
    /// each partition, asked for all of them in one request to each leader rather than one round trip per partition, as
    /// the read-committed consumer sees them (the end of a partition with a transaction still open is where that
    /// transaction starts).
    /// </summary>
    /// <exception cref="KafkaException">A partition's offset could not be read.</exception>
    private Dictionary<int, long> Offsets(IConsumer<byte[]?, byte[]?> consumer, IReadOnlyList<int> partitions, Timestamp which)
    {
        var asked = partitions.Select(p => new TopicPartitionTimestamp(topic, p, which));
        var offsets = consumer.OffsetsForTimes(asked, MetadataTimeout).ToDictionary(o => o.Partition.Value, o => o.Offset.Value);
        foreach (var partition in partitions)
        {
            // Never taken for an empty partition: its keys would silently not be restored.
            if (!offsets.TryGetValue(partition, out var offset) || offset < 0)
            {
                throw new KafkaException(new Error(ErrorCode.Local_Fail, $"the broker gave no {(which == ListOffsetsBounds.Earliest ? "first" : "end")} offset for partition {partition} of {topic}"));
            }
        }

        return offsets;
    }

    private IConsumer<byte[]?, byte[]?> Consumer() =>
        new ConsumerBuilder<byte[]?, byte[]?>(clientSettings.ApplyTo(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "kommune-state-restore", // never joined or committed: partitions are assigned by hand
            ClientId = "kommune-state-restore",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // In exactly-once mode state records of an aborted epoch must not be restored.
            IsolationLevel = IsolationLevel.ReadCommitted,
            // A restore reads a backlog far larger than the client's prefetch queue: fetch again soon once it has room.
            FetchQueueBackoffMs = KafkaEventSource.RefetchAfterFullQueueMs,
            // A restore reads to ends it knows and never waits for new records: a fetch that finds nothing new must not
            // be held at the broker for the default 500 ms (a restore met such waits as it neared the ends of its two
            // reads, the hand-over marks' and the states').
            FetchWaitMaxMs = 10,
            // A restore uses a record's partition, offset, key, value and headers: not its topic name (a string per
            // record) or timestamp.
            ConsumeResultFields = "headers",
        })).SetLogHandler((_, _) => { }).Build();

    /// <summary>A partition's hand-over mark: where its restore may start, and its keys' earliest processing-time timer.</summary>
    private readonly record struct HandedOver(long RestoreFrom, DateTimeOffset? FirstTimer);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Restored the state of {Keys} keys from {Records} state records of partitions {Partitions} in {Milliseconds:F0} ms")]
    private static partial void LogRestored(ILogger logger, int keys, long records, string partitions, double milliseconds);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Warning, Message = "{Records} state records of partitions {Partitions} cover less input than an earlier record of their key (written after their node had lost the partition) and were passed over")]
    private static partial void LogStaleStates(ILogger logger, long records, string partitions);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Information, Message = "State partitions {Partitions} end with a hand-over mark: their restore starts there, passing over {Records} earlier records")]
    private static partial void LogFromMarks(ILogger logger, string partitions, long records);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Warning, Message = "The end offsets of state topic {Topic} could not be read ({Reason}): the partitions handed over now get no hand-over mark, and their next owner reads them whole")]
    private static partial void LogEndOffsetsUnknown(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "State topic {Topic} not available ({Reason}): rule state is not persisted and a restart starts empty")]
    private static partial void LogNoStateTopic(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Error, Message = "Restoring state took longer than {Seconds} s; going on without the rest of partitions {Partitions}")]
    private static partial void LogRestoreTimedOut(ILogger logger, double seconds, string partitions);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Information, Message = "Restoring state stopped (the node stops or hands the partitions on) before partitions {Partitions} were read")]
    private static partial void LogRestoreCancelled(ILogger logger, string partitions);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Error, Message = "State record {Key} in partition {Partition} is unreadable and was not restored: {Reason}")]
    private static partial void LogUnreadableState(ILogger logger, string key, int partition, string reason);
}

using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

// The consumer group's rebalances: partitions assigned (with the repartition topic's of the same numbers), handed over
// (revoked) and lost, and what the source forgets of them.
public sealed partial class KafkaEventSource
{
    /// <summary>One assigned partition per leader broker, asked through the group consumer's admin client (<see cref="_leaders"/>).</summary>
    private List<TopicPartition> OnePartitionPerLeader(List<TopicPartition> partitions)
    {
        try
        {
            var admin = _leaders!;
            var leaders = new Dictionary<int, TopicPartition>();
            foreach (var topic in partitions.Select(p => p.Topic).Distinct())
            {
                var metadata = admin.GetMetadata(topic, MetadataTimeout).Topics.Single();
                foreach (var p in metadata.Partitions)
                {
                    var tp = new TopicPartition(topic, p.PartitionId);
                    if (partitions.Contains(tp))
                    {
                        leaders.TryAdd(p.Leader, tp);
                    }
                }
            }

            return [.. leaders.Values];
        }
        catch (KafkaException)
        {
            return [.. partitions.Take(1)];
        }
    }

    private IEnumerable<TopicPartitionOffset> OnPartitionsAssigned(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        HandOn(); // callbacks run inside Consume, in the middle of a turn: what was taken before goes first
        if (_stopRequested)
        {
            // Given partitions while leaving (the nodes that stopped before this one left them): not taken. No state is
            // restored and nothing is read (the drain gives back whatever is fetched); leaving the group hands them on.
            if (_logger.IsEnabled(LogLevel.Information))
            {
                var given = string.Join(", ", partitions.Select(p => p.Partition.Value));
                LogAssignedWhileStopping(_logger, given);
            }

            return partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset));
        }

        // The new generation's, read while the group is up: the close's last epoch may need it.
        _epochs?.GroupAssigned(consumer);

        var starts = new List<TopicPartitionOffset>(partitions.Count);
        List<TopicPartitionOffset> committed;
        try
        {
            committed = consumer.Committed(partitions, MetadataTimeout);
        }
        catch (KafkaException e)
        {
            // Without the committed offsets the client falls back to its own lookup; only loss counting is lost.
            LogCommittedLookupFailed(_logger, e.Error.Reason);
            committed = [.. partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset))];
        }

        // Where each log begins and ends now, of both topics: the start after retention, and whether there is anything to
        // read.
        var internalPartitions = partitions.Select(p => new TopicPartition(_options.Topics.Repartition, p.Partition)).ToList();
        var bounds = Watermarks(consumer, [.. partitions, .. internalPartitions]);
        var now = DateTime.UtcNow;
        foreach (var c in committed)
        {
            var watermarks = bounds.GetValueOrDefault(c.TopicPartition);
            var start = c.Offset;
            if (start.Value >= 0 && watermarks is { } known)
            {
                start = _losses.StartAfterRetention(c, known.Low);
            }

            starts.Add(new TopicPartitionOffset(c.TopicPartition, start));
            if (start.Value >= 0)
            {
                _losses.StartsAt(c.TopicPartition, start.Value);
            }

            _trackers[c.TopicPartition] = NewTracker(c.TopicPartition, start.Value >= 0 ? start.Value : 0);
            _epochs?.Assigned(c.TopicPartition, start.Value >= 0 ? start.Value : 0);
            // Without a committed offset consumption starts at the log's beginning (auto.offset.reset=earliest).
            var from = start.Value >= 0 ? start.Value : watermarks?.Low.Value ?? -1;
            _monitor.Assigned(c.TopicPartition, from, watermarks?.High.Value ?? -1, now);
        }

        // Their repartition partitions are assigned now, from the offsets committed now, before the handler restores any
        // state: a state read after the offsets is at least as new as they are (never older, which would skip records).
        AssignInternal(internalPartitions, bounds, now);
        _gate.AssignmentChanged();
        // Incremental assignment: these come in addition to the partitions already assigned.
        _onePartitionPerLeader = OnePartitionPerLeader([.. consumer.Assignment.Union(partitions)]);
        Volatile.Write(ref _assignedCount, _assignedCount + partitions.Count);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var assigned = string.Join(", ", starts.Select(s => s.Offset == Offset.Unset
                ? $"{s.Partition.Value}"
                : $"{s.Partition.Value}@{s.Offset.Value}"));
            LogAssigned(_logger, _options.Topics.SensorEvents, assigned);
        }

        // Each is read once the handler says it is ready (its state restored): those it names now at once, the others
        // paused until they are (their repartition partitions now, their own at the loop's next turn: the client assigns
        // them when this callback returns).
        var assignment = new AssignedPartitions(starts.ToDictionary(s => s.Partition.Value, s => s.Offset.Value), EnqueueReady, FailReadiness);
        foreach (var p in partitions)
        {
            _waiting[p.Partition.Value] = assignment;
        }

        if (_options.OnPartitionsAssigned is { } handler)
        {
            handler(assignment);
        }
        else
        {
            assignment.Ready([.. assignment.Starts.Keys]);
        }

        TakeReady(consumer, assigning: assignment);
        _pauseWaiting = _waiting.Count > 0;
        if (_pauseWaiting)
        {
            _internal!.Pause([.. _waiting.Keys.Select(p => PartitionOf(_internal, new Partition(p)))]);
        }
        _consuming = true;
        _assigned.TrySetResult();
        return starts;
    }

    private void EnqueueReady(AssignedPartitions assignment, IReadOnlyCollection<int> partitions) => _ready.Enqueue((assignment, partitions));

    private void FailReadiness(Exception reason) => Interlocked.CompareExchange(ref _readinessFailed, reason, null);

    /// <summary>
    /// Takes the partitions said to be ready since the last turn (those still assigned by the assignment that said so):
    /// resumes them and their repartition partitions (unless backpressure holds every partition) and asks their ends,
    /// which also wakes their fetchers. Then, outside the assignment callback, pauses the partitions assigned since that
    /// are not ready.
    /// </summary>
    /// <param name="consumer">The group's consumer.</param>
    /// <param name="assigning">
    /// Inside the assignment callback, the assignment being made: its partitions ready at once are not paused (the client
    /// assigns them when the callback returns), so only those of earlier assignments are resumed.
    /// </param>
    /// <exception cref="InvalidOperationException">An assignment's handler said its partitions can never be ready (outside the callback).</exception>
    private void TakeReady(IConsumer<byte[]?, byte[]?> consumer, AssignedPartitions? assigning = null)
    {
        var inCallback = assigning is not null;
        // Not thrown inside the callback: the client would never assign the partitions, and its close would wait for that.
        if (!inCallback && Volatile.Read(ref _readinessFailed) is { } failed)
        {
            throw new InvalidOperationException($"Assigned partitions could not be made ready to read: {failed.Message}", failed);
        }

        if (!_ready.IsEmpty)
        {
            var ready = new List<TopicPartition>();
            var paused = new List<TopicPartition>(); // ready ones that were assigned before this turn, so paused
            while (_ready.TryDequeue(out var said))
            {
                foreach (var partition in said.Partitions)
                {
                    if (_waiting.TryGetValue(partition, out var assignment) && ReferenceEquals(assignment, said.Assignment))
                    {
                        _waiting.Remove(partition);
                        var tp = PartitionOf(consumer, new Partition(partition));
                        ready.Add(tp);
                        if (!ReferenceEquals(assignment, assigning))
                        {
                            paused.Add(tp);
                        }
                    }
                }
            }

            if (paused.Count > 0 && !_gate.IsPaused)
            {
                consumer.Resume(paused);
                _internal!.Resume([.. paused.Select(tp => PartitionOf(_internal, tp.Partition))]);
                AskEndsAnew(consumer, paused); // records may have come while they waited: not caught up until asked again
            }

            if (ready.Count > 0 && _logger.IsEnabled(LogLevel.Debug))
            {
                var which = string.Join(", ", ready.Select(tp => tp.Partition.Value));
                LogReady(_logger, which, _waiting.Count);
            }
        }

        if (_pauseWaiting && !inCallback)
        {
            _pauseWaiting = false;
            if (_waiting.Count > 0)
            {
                consumer.Pause([.. _waiting.Keys.Select(p => PartitionOf(consumer, new Partition(p)))]);
            }
        }
    }

    /// <summary>
    /// Assigns the repartition topic's partitions of the same numbers to its consumer, from the offsets committed under
    /// its own group (or its beginning): this node now does the area work and applies the commands of those partitions.
    /// </summary>
    private void AssignInternal(List<TopicPartition> internalPartitions, Dictionary<TopicPartition, WatermarkOffsets> bounds, DateTime now)
    {
        List<TopicPartitionOffset> committed;
        try
        {
            committed = _internal!.Committed(internalPartitions, MetadataTimeout);
        }
        catch (KafkaException e)
        {
            LogCommittedLookupFailed(_logger, e.Error.Reason);
            committed = [.. internalPartitions.Select(p => new TopicPartitionOffset(p, Offset.Unset))];
        }

        var starts = new List<TopicPartitionOffset>(committed.Count);
        foreach (var c in committed)
        {
            var watermarks = bounds.GetValueOrDefault(c.TopicPartition);
            var start = c.Offset.Value >= 0 && watermarks is { } known ? _losses.StartAfterRetention(c, known.Low) : c.Offset;
            var from = start.Value >= 0 ? start.Value : watermarks?.Low.Value ?? 0;
            starts.Add(new TopicPartitionOffset(c.TopicPartition, start.Value >= 0 ? start : Offset.Beginning));
            _losses.StartsAt(c.TopicPartition, from);
            _trackers[c.TopicPartition] = NewTracker(c.TopicPartition, from);
            _epochs?.Assigned(c.TopicPartition, from);
            _monitor.Assigned(c.TopicPartition, from, watermarks?.High.Value ?? -1, now);
            _internalAssigned.Add(c.TopicPartition);
        }

        _internal!.IncrementalAssign(starts);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var assigned = string.Join(", ", starts.Select(s => s.Offset == Offset.Beginning
                ? $"{s.Partition.Value}"
                : $"{s.Partition.Value}@{s.Offset.Value}"));
            LogAssigned(_logger, _options.Topics.Repartition, assigned);
        }

        if (_gate.IsPaused)
        {
            _internal.Pause(internalPartitions);
        }
    }

    /// <summary>Gives the repartition topic's partitions of the same numbers back, after committing what is done of them.</summary>
    private void UnassignInternal(List<TopicPartitionOffset> partitions, bool commit)
    {
        var internalPartitions = partitions
            .Select(p => new TopicPartition(_options.Topics.Repartition, p.Partition))
            .Where(_internalAssigned.Contains)
            .ToList();
        if (internalPartitions.Count == 0)
        {
            return;
        }

        if (commit && _options.Transactions is null)
        {
            var done = internalPartitions
                .Select(tp => _trackers.TryGetValue(tp, out var tracker) ? new TopicPartitionOffset(tp, tracker.Committable) : null)
                .OfType<TopicPartitionOffset>()
                .ToList();
            try
            {
                _internal!.Commit(done);
            }
            catch (KafkaException e)
            {
                LogStoreFailed(_logger, _options.Topics.Repartition, -1, e.Error.Reason);
            }
        }

        _internal!.IncrementalUnassign(internalPartitions);
        _internalAssigned.ExceptWith(internalPartitions);
        Forget([.. internalPartitions.Select(tp => new TopicPartitionOffset(tp, Offset.Unset))], notify: false);
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) until every record taken of these partitions, of either topic, is complete.</summary>
    private void WaitUntilCompleted(List<TopicPartitionOffset> partitions, TimeSpan timeout)
    {
        var numbers = partitions.Select(p => p.Partition.Value).ToHashSet();
        var deadline = DateTime.UtcNow + timeout;
        while (_trackers.Any(t => numbers.Contains(t.Key.Partition.Value) && t.Value.AwaitingCommit > 0))
        {
            if (DateTime.UtcNow >= deadline)
            {
                // What is still in flight is given up by the engine (not done, not committed): the new owner does it.
                LogHandOverInFlight(_logger, _trackers.Where(t => numbers.Contains(t.Key.Partition.Value)).Sum(t => t.Value.AwaitingCommit), timeout.TotalSeconds);
                return;
            }

            Thread.Sleep(5);
        }
    }

    /// <summary>
    /// Where each partition's log begins and ends now, as the read-committed consumer sees them: every partition's start
    /// asked in one request to each leader, and every end in another. Asked one partition at a time, as before, an
    /// assignment of the restore benchmark's 256 partitions (and as many of the repartition topic) took 1,024 round trips
    /// inside the assignment callback. A partition the broker gave no answer for is left out, and the failure logged.
    /// </summary>
    private Dictionary<TopicPartition, WatermarkOffsets> Watermarks(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        var starts = OffsetsAt(consumer, partitions, ListOffsetsBounds.Earliest);
        var ends = OffsetsAt(consumer, partitions, ListOffsetsBounds.Latest);
        var watermarks = new Dictionary<TopicPartition, WatermarkOffsets>(partitions.Count);
        foreach (var (partition, start) in starts)
        {
            if (ends.TryGetValue(partition, out var end))
            {
                watermarks[partition] = new WatermarkOffsets(start, end);
            }
        }

        return watermarks;
    }

    /// <summary>The offset that <paramref name="which"/> (<see cref="ListOffsetsBounds.Earliest"/> or <see cref="ListOffsetsBounds.Latest"/>) names in each partition the broker answered for.</summary>
    private Dictionary<TopicPartition, long> OffsetsAt(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions, Timestamp which)
    {
        IEnumerable<TopicPartitionOffset> answered;
        try
        {
            answered = consumer.OffsetsForTimes(partitions.Select(tp => new TopicPartitionTimestamp(tp, which)), MetadataTimeout);
        }
        catch (TopicPartitionOffsetException partly)
        {
            LogCommittedLookupFailed(_logger, partly.Error.Reason);
            answered = partly.Results.Where(r => !r.Error.IsError).Select(r => r.TopicPartitionOffset);
        }
        catch (KafkaException e)
        {
            LogCommittedLookupFailed(_logger, e.Error.Reason);
            return [];
        }

        return answered.Where(o => o.Offset.Value >= 0).ToDictionary(o => o.TopicPartition, o => o.Offset.Value);
    }

    /// <summary>
    /// Partitions are handed to another node. Before they go: what is in flight of them finishes (for a while), the
    /// engine's actors of those partitions write their state and stop (<see cref="KafkaSourceOptions.OnPartitionsRevoked"/>),
    /// and what is done is committed (in exactly-once mode the epoch so far commits first), so the new owner restores
    /// the state the committed offsets need and no timer fires on two nodes.
    /// </summary>
    private void OnPartitionsRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions)
    {
        HandOn(); // the hand-over waits for the events in flight: the ones taken in this turn must reach the engine
        _consuming = false;
        StopWaiting(partitions);
        if (_epochAborted)
        {
            // The consumer is being disposed after an aborted epoch: the engine starts again from the committed state,
            // so nothing of these partitions is done, written or committed here.
            OnPartitionsLost(consumer, partitions);
            return;
        }

        if (_epochs is { } epochs)
        {
            epochs.Commit(consumer, _internal!, epochs.SettleTimeout);
        }
        else
        {
            // Events whose state waits for its checkpoint would otherwise wait for it here (up to the state interval).
            _options.WriteStateNow?.Invoke();
            WaitUntilCompleted(partitions, _options.HandOverTimeout);
        }

        _options.OnPartitionsRevoked?.Invoke([.. partitions.Select(p => p.Partition.Value)], false);
        if (_epochs is { } afterHandOver)
        {
            // Whatever the actors wrote while stopping commits before the partitions go.
            afterHandOver.Commit(consumer, _internal!, afterHandOver.SettleTimeout);
        }
        else
        {
            // Stored, not committed here: when the handler returns the client unassigns the partitions and, with
            // auto-commit on, commits their stored offsets itself, and holds the rebalance (or the close) until that
            // commit is answered, so the next owner starts after them. A synchronous Commit here has no timeout and
            // was seen to block for good inside Close.
            StoreCompletedOffsets(consumer, partitions.Select(p => p.TopicPartition).ToHashSet());
        }

        UnassignInternal(partitions, commit: true);
        Forget(partitions);
        _consuming = true; // the partitions left (possibly none) go on
        LogRevoked(_logger, partitions.Count);
    }

    /// <summary>
    /// Partitions already given to another node (a session that expired, or the broker forgot this member): nothing of them
    /// may be written any more. Their actors stop without writing state, and give up the events they held. In
    /// exactly-once mode the open epoch holds outputs and state of those events, which the new owner makes again from the
    /// committed offsets: the epoch aborts (<see cref="EpochOffsetCommitter.AbortIfPartitionsLost"/>, right after this callback) and the
    /// engine starts again from the committed state, as Kafka Streams closes its tasks dirty.
    /// </summary>
    private void OnPartitionsLost(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions)
    {
        HandOn();
        _consuming = false;
        StopWaiting(partitions);
        if (_epochs is { } epochs && !_epochAborted)
        {
            epochs.PartitionsLost(partitions.Select(p => p.Partition.Value));
        }

        _options.OnPartitionsRevoked?.Invoke([.. partitions.Select(p => p.Partition.Value)], true);
        UnassignInternal(partitions, commit: false);
        Forget(partitions);
        LogRevoked(_logger, partitions.Count);
    }

    /// <summary>Partitions that go are no longer waiting to be ready: a later assignment of one waits for its own word.</summary>
    private void StopWaiting(List<TopicPartitionOffset> partitions)
    {
        if (_waiting.Count > 0)
        {
            foreach (var p in partitions)
            {
                _waiting.Remove(p.Partition.Value);
            }
        }
    }

    private void Forget(List<TopicPartitionOffset> partitions, bool notify = true)
    {
        foreach (var p in partitions)
        {
            if (_trackers.Remove(p.TopicPartition, out var tracker))
            {
                tracker.Deactivate();
            }

            _losses.Revoked(p.TopicPartition);
            _monitor.Revoked(p.TopicPartition);
            _epochs?.Revoked(p.TopicPartition);
        }

        if (notify)
        {
            Volatile.Write(ref _assignedCount, Math.Max(0, _assignedCount - partitions.Count));
        }
    }

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Assigned partitions of {Topic} (partition@start offset where committed): {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string topic, string partitions);

    [LoggerMessage(EventId = 1023, Level = LogLevel.Debug, Message = "Partitions {Partitions} of the sensor-events topic are ready and read from now on; {Waiting} assigned ones still wait")]
    private static partial void LogReady(ILogger logger, string partitions, int waiting);

    [LoggerMessage(EventId = 1022, Level = LogLevel.Information, Message = "Partitions {Partitions} of the sensor-events topic were assigned while stopping: not taken, left to the group")]
    private static partial void LogAssignedWhileStopping(ILogger logger, string partitions);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Warning, Message = "{Count} records of partitions being handed over were still in flight after {Seconds} s: they are given up here, their offsets not committed, and the new owner processes them")]
    private static partial void LogHandOverInFlight(ILogger logger, long count, double seconds);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Revoked {Count} partitions")]
    private static partial void LogRevoked(ILogger logger, int count);
}

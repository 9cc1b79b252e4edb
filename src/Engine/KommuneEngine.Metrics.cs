using Kommune.Engine.Observability;

namespace Kommune.Engine;

/// <summary>The engine's Prometheus registry and readiness, read by the HTTP endpoint.</summary>
public sealed partial class KommuneEngine
{
    private readonly HashSet<(string Topic, int Partition)> _lagLabels = [];

    /// <summary>The engine's metrics (served at <c>/metrics</c>).</summary>
    internal EngineMetrics Metrics => _metrics;

    /// <summary>
    /// Whether this node is ready to be counted on (<c>/readyz</c>): started, its partitions assigned (none is fine
    /// when the group has more nodes than partitions), their rule state restored, and the consume loop taking
    /// records. Not ready before that, during a rebalance, after the consumer failed, and once stopping.
    /// </summary>
    public EngineReadiness Readiness
    {
        get
        {
            switch (State)
            {
                case Lifecycle.New:
                    return new EngineReadiness(false, "not started");
                case Lifecycle.Stopped:
                    return new EngineReadiness(false, "stopping");
            }

            if (_consumerEnded.Task.IsFaulted)
            {
                return new EngineReadiness(false, "the Kafka consumer failed");
            }

            if (AbortsInARow >= _options.AbortedEpochsBeforeNotReady)
            {
                return new EngineReadiness(false, $"{AbortsInARow} exactly-once epochs in a row were aborted and redone; the last: {Volatile.Read(ref _lastAbort)}");
            }

            if (_source?.Progress.FirstOrDefault(p => p.Stalled) is { } stalled)
            {
                return new EngineReadiness(false, string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"partition {stalled.Topic}[{stalled.Partition}] is stalled: its committed offset has stayed at {stalled.Committed} for {stalled.SinceCommitMoved.TotalSeconds:F0} s while {stalled.Backlog} records wait beyond it"));
            }

            return _source is { IsConsuming: true } source
                ? new EngineReadiness(true, $"consuming {source.Statistics.AssignedPartitions} partitions")
                : new EngineReadiness(false, "waiting for partitions to be assigned and their state restored");
        }
    }

    /// <summary>
    /// Exactly-once epochs aborted since the last one committed (each restarted the pipeline); 0 once an epoch of the
    /// current pipeline commits work.
    /// </summary>
    private int AbortsInARow
    {
        get
        {
            if (Volatile.Read(ref _abortsInARow) > 0 && _source is { EpochsCommittedWithWork: > 0 })
            {
                Volatile.Write(ref _abortsInARow, 0);
            }

            return Volatile.Read(ref _abortsInARow);
        }
    }

    /// <summary>Just before a scrape: the metrics that mirror the engine's statistics and state.</summary>
    private void CollectMetrics()
    {
        var source = SourceTotals;
        var statistics = StatisticsOf(source);
        _metrics.Consumed.IncTo(statistics.Consumed);
        _metrics.Late.IncTo(statistics.LateEvents);
        _metrics.StateWritten.IncTo(statistics.StateWritten);
        _metrics.StateRestored.IncTo(statistics.StateRestored);
        _metrics.Pauses.IncTo(statistics.Pauses);
        _metrics.StateWritesAsked.IncTo(statistics.StateWritesAsked);
        _metrics.LostRecords.IncTo(statistics.LostRecords);
        _metrics.CommitsOk.IncTo(source.OffsetCommits);
        _metrics.CommitsFailed.IncTo(source.OffsetCommitFailures);
        _metrics.EpochsCommitted.IncTo(source.EpochsCommitted);
        _metrics.EpochsAborted.IncTo(Interlocked.Read(ref _epochsAborted));
        _metrics.EpochAbortsInARow.Set(AbortsInARow);
        _metrics.DeliveryFailures.IncTo(_earlierDeliveryFailures + (_sink?.FailedDeliveries ?? 0));
        _metrics.RecordsRefused.IncTo(_earlierRefused + (_sink?.Refused ?? 0));
        _metrics.RecordsUnwritten.IncTo(_earlierUnwritten + (_sink?.Unwritten ?? 0));
        _metrics.CommandReaderFailures.IncTo(statistics.CommandReaderFailures);

        _metrics.Processing.Set(source.Processing);
        _metrics.AwaitingCommit.Set(source.AwaitingCommit);
        _metrics.AssignedPartitions.Set(source.AssignedPartitions);
        _metrics.ActiveSensors.Set(_counters.ActiveSensors);
        _metrics.ActiveAreas.Set(_counters.ActiveAreas);
        _metrics.DormantSensors.Set(_counters.DormantSensors);
        _metrics.MailboxBacklog.Set(_counters.MailboxBacklog);
        _metrics.ProducerQueue.Set(_sink?.Queued ?? 0);
        _metrics.OpenAlerts.Set(_context?.OpenAlerts.Count ?? 0);
        _metrics.Ready.Set(Readiness.Ready ? 1 : 0);

        var watermark = statistics.Watermark;
        if (watermark == DateTimeOffset.MinValue)
        {
            _metrics.Watermark.Unpublish();
            _metrics.WatermarkLag.Unpublish();
        }
        else
        {
            _metrics.Watermark.Set(watermark.ToUnixTimeMilliseconds() / 1000.0);
            _metrics.WatermarkLag.Set((_clock.GetUtcNow() - watermark).TotalSeconds);
        }

        CollectLag();
    }

    /// <summary>Lag and stall per assigned partition; partitions no longer assigned lose their series.</summary>
    private void CollectLag()
    {
        lock (_lagLabels)
        {
            var current = new HashSet<(string, int)>();
            foreach (var progress in _source?.Progress ?? [])
            {
                current.Add((progress.Topic, progress.Partition));
                var partition = progress.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (progress.Lag >= 0)
                {
                    _metrics.ConsumerLag.WithLabels(progress.Topic, partition).Set(progress.Lag);
                }

                _metrics.PartitionStalled.WithLabels(progress.Topic, partition).Set(progress.Stalled ? 1 : 0);
            }

            foreach (var (topic, partition) in _lagLabels)
            {
                if (!current.Contains((topic, partition)))
                {
                    var label = partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    _metrics.ConsumerLag.RemoveLabelled(topic, label);
                    _metrics.PartitionStalled.RemoveLabelled(topic, label);
                }
            }

            _lagLabels.Clear();
            _lagLabels.UnionWith(current);
        }
    }
}

/// <summary>Whether an engine node is ready, and why (or why not).</summary>
/// <param name="Ready">Ready to be counted on.</param>
/// <param name="Reason">What it is doing, or what it waits for.</param>
public sealed record EngineReadiness(bool Ready, string Reason);

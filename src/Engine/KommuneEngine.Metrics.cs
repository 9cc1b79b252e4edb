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
            switch (Volatile.Read(ref _state))
            {
                case 0:
                    return new EngineReadiness(false, "not started");
                case 2:
                    return new EngineReadiness(false, "stopping");
            }

            if (_consumerEnded.Task.IsFaulted)
            {
                return new EngineReadiness(false, "the Kafka consumer failed");
            }

            return _source is { IsConsuming: true } source
                ? new EngineReadiness(true, $"consuming {source.Statistics.AssignedPartitions} partitions")
                : new EngineReadiness(false, "waiting for partitions to be assigned and their state restored");
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
        _metrics.LostRecords.IncTo(statistics.LostRecords);
        _metrics.CommitsOk.IncTo(source.OffsetCommits);
        _metrics.CommitsFailed.IncTo(source.OffsetCommitFailures);
        _metrics.EpochsCommitted.IncTo(source.EpochsCommitted);
        _metrics.DeliveryFailures.IncTo(_earlierDeliveryFailures + (_sink?.FailedDeliveries ?? 0));
        _metrics.RecordsRefused.IncTo(_earlierRefused + (_sink?.Refused ?? 0));
        _metrics.RecordsUnwritten.IncTo(_earlierUnwritten + (_sink?.Unwritten ?? 0));

        _metrics.InFlight.Set(source.InFlight);
        _metrics.Uncommitted.Set(source.Uncommitted);
        _metrics.AssignedPartitions.Set(source.AssignedPartitions);
        _metrics.ActiveSensors.Set(_counters.ActiveSensors);
        _metrics.ActiveAreas.Set(_counters.ActiveAreas);
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

    /// <summary>Lag per assigned partition; partitions no longer assigned lose their series.</summary>
    private void CollectLag()
    {
        lock (_lagLabels)
        {
            var current = new HashSet<(string, int)>();
            foreach (var lag in _source?.Lag ?? [])
            {
                current.Add((lag.Topic, lag.Partition));
                _metrics.ConsumerLag.WithLabels(lag.Topic, lag.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture)).Set(lag.Records);
            }

            foreach (var (topic, partition) in _lagLabels)
            {
                if (!current.Contains((topic, partition)))
                {
                    _metrics.ConsumerLag.RemoveLabelled(topic, partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
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

namespace Kommune.Connectors.Kafka;

/// <summary>A snapshot of what the sensor-event consumer has done.</summary>
/// <param name="Consumed">Records read from Kafka.</param>
/// <param name="DeadLettered">Records refused by the decoder and sent to the dead-letter topic.</param>
/// <param name="LostRecords">Records the broker deleted (retention) before the engine could read them.</param>
/// <param name="InFlight">Events taken and still being processed (bounded by MaxInFlightEvents).</param>
/// <param name="PeakInFlight">The most events ever being processed at once.</param>
/// <param name="Pauses">How often the consumer paused its partitions because the engine fell behind.</param>
/// <param name="Resumes">How often it resumed them.</param>
/// <param name="AssignedPartitions">Partitions currently assigned to this consumer.</param>
/// <param name="Uncommitted">Events taken and not yet complete: in flight, or processed with their state not yet acknowledged.</param>
/// <param name="PeakUncommitted">The most events ever taken and not yet complete at once (bounded by 4 × MaxInFlightEvents).</param>
/// <param name="EpochsCommitted">Transactions committed (exactly-once mode).</param>
/// <param name="OffsetCommits">Offset commits the broker accepted (at-least-once mode: the consumer's own commits).</param>
/// <param name="OffsetCommitFailures">Offset commits that failed (retried at the next commit).</param>
public sealed record SourceStatistics(
    long Consumed,
    long DeadLettered,
    long LostRecords,
    long InFlight,
    long PeakInFlight,
    long Pauses,
    long Resumes,
    int AssignedPartitions,
    long Uncommitted = 0,
    long PeakUncommitted = 0,
    long EpochsCommitted = 0,
    long OffsetCommits = 0,
    long OffsetCommitFailures = 0)
{
    /// <summary>
    /// These counts followed by those of a later consumer of the same node (after a restart): totals add up, peaks take
    /// the larger, and what is in flight or assigned now is the later one's.
    /// </summary>
    public SourceStatistics Add(SourceStatistics later)
    {
        ArgumentNullException.ThrowIfNull(later);
        return new SourceStatistics(
            Consumed + later.Consumed,
            DeadLettered + later.DeadLettered,
            LostRecords + later.LostRecords,
            later.InFlight,
            Math.Max(PeakInFlight, later.PeakInFlight),
            Pauses + later.Pauses,
            Resumes + later.Resumes,
            later.AssignedPartitions,
            later.Uncommitted,
            Math.Max(PeakUncommitted, later.PeakUncommitted),
            EpochsCommitted + later.EpochsCommitted,
            OffsetCommits + later.OffsetCommits,
            OffsetCommitFailures + later.OffsetCommitFailures);
    }
}

/// <summary>How far a consumer is behind in one partition.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition.</param>
/// <param name="Records">Records after the consumer's position.</param>
public sealed record PartitionLag(string Topic, int Partition, long Records);

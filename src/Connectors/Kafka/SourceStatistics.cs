namespace Kommune.Connectors.Kafka;

/// <summary>A snapshot of what the sensor-event consumer has done.</summary>
/// <param name="Consumed">Records read from Kafka.</param>
/// <param name="DeadLettered">Records refused by the decoder and sent to the dead-letter topic.</param>
/// <param name="LostRecords">Records the broker deleted (retention) before the engine could read them.</param>
/// <param name="Processing">Events taken and not yet released: being processed (bounded by MaxInFlightEvents).</param>
/// <param name="PeakProcessing">The most events ever being processed at once.</param>
/// <param name="Pauses">How often the consumer paused its partitions because the engine fell behind.</param>
/// <param name="Resumes">How often it resumed them.</param>
/// <param name="AssignedPartitions">Partitions currently assigned to this consumer.</param>
/// <param name="AwaitingCommit">Events taken and not yet complete, so their offsets are not yet committable: being processed, or processed with their state not yet acknowledged.</param>
/// <param name="PeakAwaitingCommit">The most events ever awaiting commit at once (bounded by MaxEventsAwaitingCommit).</param>
/// <param name="EpochsCommitted">Transactions committed (exactly-once mode).</param>
/// <param name="OffsetCommits">Offset commits the broker accepted (at-least-once mode: the consumer's own commits).</param>
/// <param name="OffsetCommitFailures">Offset commits that failed (retried at the next commit).</param>
/// <param name="StateWritesAsked">How often the consumer, paused by events awaiting commit, asked the engine to write its changed state before its checkpoint interval.</param>
public sealed record SourceStatistics(
    long Consumed,
    long DeadLettered,
    long LostRecords,
    long Processing,
    long PeakProcessing,
    long Pauses,
    long Resumes,
    int AssignedPartitions,
    long AwaitingCommit = 0,
    long PeakAwaitingCommit = 0,
    long EpochsCommitted = 0,
    long OffsetCommits = 0,
    long OffsetCommitFailures = 0,
    long StateWritesAsked = 0)
{
    /// <summary>
    /// These counts followed by those of a later consumer of the same node (after a restart): totals add up, peaks take
    /// the larger, and what is being processed, awaiting commit or assigned now is the later one's.
    /// </summary>
    public SourceStatistics Add(SourceStatistics later)
    {
        ArgumentNullException.ThrowIfNull(later);
        return new SourceStatistics(
            Consumed + later.Consumed,
            DeadLettered + later.DeadLettered,
            LostRecords + later.LostRecords,
            later.Processing,
            Math.Max(PeakProcessing, later.PeakProcessing),
            Pauses + later.Pauses,
            Resumes + later.Resumes,
            later.AssignedPartitions,
            later.AwaitingCommit,
            Math.Max(PeakAwaitingCommit, later.PeakAwaitingCommit),
            EpochsCommitted + later.EpochsCommitted,
            OffsetCommits + later.OffsetCommits,
            OffsetCommitFailures + later.OffsetCommitFailures,
            StateWritesAsked + later.StateWritesAsked);
    }
}

/// <summary>How far a consumer is behind in one partition.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition.</param>
/// <param name="Records">Records after the consumer's position.</param>
public sealed record PartitionLag(string Topic, int Partition, long Records);

using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The transactional side of exactly-once processing: commits what one epoch produced (outputs, state records) together
/// with the input offsets it consumed, in one Kafka transaction. Driven by the source's consume thread.
/// </summary>
public interface IEpochCommitter
{
    /// <summary>Whether anything was sent in the open transaction.</summary>
    bool HasSends { get; }

    /// <summary>
    /// Whether anything but bookkeeping was sent in the open transaction: outputs, state, facts or events for areas;
    /// not the watermark reports a node writes while nothing happens.
    /// </summary>
    bool HasWork { get; }

    /// <summary>
    /// Holds back every send from now on, if <paramref name="settled"/> holds once they are held (so nothing can slip
    /// in between); otherwise holds nothing and returns false.
    /// </summary>
    /// <exception cref="EpochAbortedException">A send of the open transaction failed, or it was aborted already: it is aborted.</exception>
    bool TryHold(Func<bool> settled);

    /// <summary>
    /// Commits the open transaction with <paramref name="offsets"/> (the next offset to read per partition, per consumer
    /// group), begins the next one, and lets the held sends into it.
    /// </summary>
    /// <exception cref="EpochAbortedException">The transaction could not commit and was aborted.</exception>
    /// <exception cref="KafkaException">Fatal: this producer was fenced by a newer one with its transactional.id.</exception>
    void Commit(IReadOnlyList<(IReadOnlyList<TopicPartitionOffset> Offsets, IConsumerGroupMetadata Group)> offsets);

    /// <summary>Aborts the open transaction (the engine then restores the last committed state and offsets).</summary>
    /// <exception cref="EpochAbortedException">Always, after aborting.</exception>
    void Abort(string reason);
}

/// <summary>
/// The open transaction was aborted: its outputs, state records and offsets are void. The engine restores state from
/// the state topic and resumes at the committed offsets, as after a restart.
/// </summary>
public sealed class EpochAbortedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EpochAbortedException()
    {
    }

    /// <summary>Creates the exception with a reason.</summary>
    public EpochAbortedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a reason and the error that caused it.</summary>
    public EpochAbortedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

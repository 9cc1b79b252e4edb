namespace Kommune.Connectors.Kafka;

/// <summary>
/// Where the engine reads its rule state back from when partitions are assigned to it: the state topic, read the way
/// Kafka Streams restores a changelog before processing. <see cref="KafkaStateRestorer"/> reads it from Kafka; the
/// engine only says what a restored state means.
/// </summary>
public interface IStateRestorer
{
    /// <summary>The state topic's partition count; 0 (state not persisted, logged) when the topic cannot be found.</summary>
    /// <param name="metadata">Asks the cluster (a start's other lookups share its client).</param>
    int Partitions(KafkaTopicMetadata metadata);

    /// <summary>
    /// Reads the state partitions and hands each key's newest state to <paramref name="restore"/>, which says whether it
    /// took it (a key of another task in a shared state partition is not taken). When <paramref name="restore"/> throws
    /// <see cref="InvalidDataException"/> the state is unreadable: it is logged with the exception's message, not taken,
    /// and the restore goes on.
    /// </summary>
    /// <param name="partitions">The state partitions.</param>
    /// <param name="restore">Takes a key's state.</param>
    /// <param name="partitionRestored">
    /// Told each partition once every key of it was handed to <paramref name="restore"/>, as each is done (those with the
    /// fewest records first), so that what needs one partition's state can start before the rest is read.
    /// </param>
    /// <param name="unfinished">Given the partitions not read to their end (the restore timed out or was cancelled, logged); they are not told as restored.</param>
    /// <param name="cancellationToken">Stops the restore between records (the node stops).</param>
    /// <returns>How many keys were taken.</returns>
    int Restore(IReadOnlyList<int> partitions, Func<RestoredState, bool> restore, Action<int>? partitionRestored = null, ICollection<int>? unfinished = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Each state partition's end offset now (where a <see cref="StateHandOverMark"/> written after the records sent from
    /// now on says a restore may start); null, logged, when the broker does not answer.
    /// </summary>
    IReadOnlyDictionary<int, long>? EndOffsets(IReadOnlyList<int> partitions);
}

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Partitions of the sensor-events topic just assigned to a <see cref="KafkaEventSource"/> (<see cref="KafkaSourceOptions.OnPartitionsAssigned"/>),
/// each with the offset its consumption starts from, and the way its handler says when each may be read. A partition, and
/// its repartition partition of the same number (assigned at once, from the offsets committed then), stay paused until
/// <see cref="Ready"/> names it: as Kafka
/// Streams starts each task once its own state is restored, so that a restore of many partitions does not hold back
/// those restored first, nor the partitions the node already had.
/// </summary>
public sealed class AssignedPartitions
{
    private readonly Action<AssignedPartitions, IReadOnlyCollection<int>> _ready;
    private readonly Action<Exception> _failed;

    internal AssignedPartitions(IReadOnlyDictionary<int, long> starts, Action<AssignedPartitions, IReadOnlyCollection<int>> ready, Action<Exception> failed)
    {
        Starts = starts;
        _ready = ready;
        _failed = failed;
    }

    /// <summary>Each partition's number and the offset its consumption starts from (the committed one; negative when none is committed).</summary>
    public IReadOnlyDictionary<int, long> Starts { get; }

    /// <summary>
    /// These partitions may now be read. From any thread, once per partition; a partition revoked since it was assigned
    /// here is passed over (a later assignment of it waits for its own <see cref="Ready"/>).
    /// </summary>
    public void Ready(IReadOnlyCollection<int> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        if (partitions.Count > 0)
        {
            _ready(this, partitions);
        }
    }

    /// <summary>These partitions can never be made ready: the source's consume loop fails with <paramref name="reason"/>.</summary>
    public void Fail(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _failed(reason);
    }
}

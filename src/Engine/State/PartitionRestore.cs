using Kommune.Connectors.Kafka;
using Kommune.Engine.Actors;

namespace Kommune.Engine;

/// <summary>
/// One restore of the state of partitions assigned together: what it found so far, per state partition, until that
/// partition is done and its keys go to their actors. Written by the restore's own thread only; the engine's record of
/// which partitions still wait for it is under its time lock.
/// </summary>
internal sealed class PartitionRestore(AssignedPartitions assignment)
{
    private readonly Dictionary<int, List<RestoredKey>> _keys = [];

    /// <summary>The assignment whose partitions this restore makes ready.</summary>
    public AssignedPartitions Assignment { get; } = assignment;

    /// <summary>The partitions (tasks) assigned.</summary>
    public HashSet<int> Tasks { get; } = [.. assignment.Starts.Keys];

    /// <summary>Stops the restore (the node stops, or every task of it was handed on).</summary>
    public CancellationTokenSource Cancel { get; } = new();

    /// <summary>The restore's thread, made before the restore is registered and started after.</summary>
    public Task? Running { get; set; }

    /// <summary>The tasks with restored sensor state: their events so far were processed.</summary>
    public HashSet<int> Resumed { get; } = [];

    /// <summary>Per task, its restored sensors' newest event time.</summary>
    public Dictionary<int, DateTimeOffset> RestoredUpTo { get; } = [];

    /// <summary>Per task, the time its partition-time records give where its consumption resumes.</summary>
    public Dictionary<int, DateTimeOffset> PartitionTimes { get; } = [];

    /// <summary>Keeps a key's state until its state partition is done.</summary>
    public void Add(RestoredKey key)
    {
        var partition = key.State.Partition;
        if (!_keys.TryGetValue(partition, out var keys))
        {
            _keys[partition] = keys = [];
        }

        keys.Add(key);
    }

    /// <summary>The keys found in a state partition, given once.</summary>
    public List<RestoredKey> TakeKeys(int statePartition) => _keys.Remove(statePartition, out var keys) ? keys : [];
}

/// <summary>A key's restored state: an area's, with the task its area belongs to, or a sensor's, with the assigned tasks its state covers.</summary>
internal sealed record RestoredKey(RestoreState State, int? AreaTask, IReadOnlyList<int> Tasks);

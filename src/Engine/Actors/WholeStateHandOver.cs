using System.Collections.Concurrent;

namespace Kommune.Engine.Actors;

/// <summary>
/// A graceful hand-over in which every key of the partitions handed over writes its whole state, also one that has not
/// changed since its last write, so that the records its state partitions held before the hand-over are no longer
/// needed to restore them (<see cref="Connectors.Kafka.StateHandOverMark"/>). Collects the state partitions in which
/// some key could not write its state: those keep needing their earlier records. Shared by the actors handing over.
/// </summary>
internal sealed class WholeStateHandOver
{
    private readonly ConcurrentDictionary<int, byte> _notWritten = new();

    /// <summary>A key of state partition <paramref name="statePartition"/> could not write its whole state.</summary>
    public void NotWritten(int statePartition) => _notWritten.TryAdd(statePartition, 0);

    /// <summary>Whether every key of <paramref name="statePartition"/> that holds state wrote it.</summary>
    public bool AllWritten(int statePartition) => !_notWritten.ContainsKey(statePartition);
}

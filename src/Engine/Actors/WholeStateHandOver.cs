using System.Collections.Concurrent;

namespace Kommune.Engine.Actors;

/// <summary>
/// A graceful hand-over in which every key of the partitions handed over writes its whole state, also one that has not
/// changed since its last write, so that the records its state partitions held before the hand-over are no longer
/// needed to restore them (<see cref="Connectors.Kafka.StateHandOverMark"/>). Collects the state partitions in which
/// some key could not write its state: those keep needing their earlier records, and the earliest processing-time timer
/// of each state partition's keys, which its mark names. Shared by the actors handing over.
/// </summary>
internal sealed class WholeStateHandOver
{
    private readonly ConcurrentDictionary<int, byte> _notWritten = new();
    private readonly ConcurrentDictionary<int, DateTimeOffset> _firstTimers = new();

    /// <summary>A key of state partition <paramref name="statePartition"/> could not write its whole state.</summary>
    public void NotWritten(int statePartition) => _notWritten.TryAdd(statePartition, 0);

    /// <summary>Whether every key of <paramref name="statePartition"/> that holds state wrote it.</summary>
    public bool AllWritten(int statePartition) => !_notWritten.ContainsKey(statePartition);

    /// <summary>A key of <paramref name="statePartition"/> that wrote its whole state has a processing-time timer due at <paramref name="due"/>.</summary>
    public void TimerAt(int statePartition, DateTimeOffset due) =>
        _firstTimers.AddOrUpdate(statePartition, due, (_, known) => due < known ? due : known);

    /// <summary>The earliest processing-time timer of the keys of <paramref name="statePartition"/> that wrote their state; null when none had one.</summary>
    public DateTimeOffset? FirstTimer(int statePartition) => _firstTimers.TryGetValue(statePartition, out var due) ? due : null;
}

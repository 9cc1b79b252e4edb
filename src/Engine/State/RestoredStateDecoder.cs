using System.Text.Json;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Runtime;

namespace Kommune.Engine;

/// <summary>
/// What a state read back from the state topic (<see cref="IStateRestorer"/>) is to the engine: how far event time had
/// come on a sensor partition at its hand-over (<see cref="PartitionTimeRecord"/>), or the rule state of one key
/// (<see cref="KeyedStateSnapshot"/>).
/// </summary>
internal static class RestoredStateDecoder
{
    /// <summary>
    /// Hands a partition-time record to <paramref name="partitionTime"/> (such a record is never a key's state, so never
    /// taken) and a key's rule state to <paramref name="restore"/>, which says whether it took it: with its header, and with
    /// the whole snapshot read only where the header could not be read on its own (then the whole read says what is wrong).
    /// A key's rule values are otherwise read when its actor restores it, on the actor's thread, not on the restoring one.
    /// </summary>
    /// <returns>Whether a key's state was taken.</returns>
    /// <exception cref="InvalidDataException">The state is neither, or unreadable; the message says why.</exception>
    public static bool Take(RestoredState state, Func<KeyedStateHeader, KeyedStateSnapshot?, RestoredState, bool> restore, Action<int, PartitionTime> partitionTime)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(restore);
        if (PartitionTimeRecord.IsKey(state.Key))
        {
            if (!PartitionTimeRecord.TryDecode(state.Value, out var sensorPartition, out var watermark, out var reason))
            {
                throw new InvalidDataException(reason);
            }

            partitionTime(sensorPartition, new PartitionTime(watermark, state.Covers.TryGetValue(sensorPartition, out var next) ? next : -1));
            return false;
        }

        if (KeyedStateHeader.Read(state.Value) is { } header)
        {
            return restore(header, null, state);
        }

        KeyedStateSnapshot snapshot;
        try
        {
            snapshot = KeyedStateSnapshot.FromJson(state.Value);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        return restore(KeyedStateHeader.Of(snapshot), snapshot, state);
    }
}

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
    /// taken) and a key's rule state, decoded, to <paramref name="restore"/>, which says whether it took it.
    /// </summary>
    /// <returns>Whether a key's state was taken.</returns>
    /// <exception cref="InvalidDataException">The state is neither, or unreadable; the message says why.</exception>
    public static bool Take(RestoredState state, Func<KeyedStateSnapshot, RestoredState, bool> restore, Action<int, PartitionTime> partitionTime) =>
        Take(state, Decode(state), restore, partitionTime);

    /// <summary>
    /// Decodes a restored state (thread-safe: a restore decodes many at once): a key's rule state, or a sensor
    /// partition's time.
    /// </summary>
    /// <exception cref="InvalidDataException">The state is neither, or unreadable; the message says why.</exception>
    public static DecodedState Decode(RestoredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (PartitionTimeRecord.IsKey(state.Key))
        {
            if (!PartitionTimeRecord.TryDecode(state.Value, out var sensorPartition, out var watermark, out var reason))
            {
                throw new InvalidDataException(reason);
            }

            return new DecodedState(null, sensorPartition, watermark);
        }

        try
        {
            return new DecodedState(KeyedStateSnapshot.FromJson(state.Value), 0, default);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>
    /// Hands <paramref name="state"/>, decoded by <see cref="Decode"/>, to <paramref name="partitionTime"/> (a
    /// partition's time, never taken) or <paramref name="restore"/> (a key's rule state), which says whether it took it.
    /// </summary>
    /// <returns>Whether a key's state was taken.</returns>
    public static bool Take(RestoredState state, DecodedState decoded, Func<KeyedStateSnapshot, RestoredState, bool> restore, Action<int, PartitionTime> partitionTime)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (decoded.Snapshot is not { } snapshot)
        {
            partitionTime(decoded.SensorPartition, new PartitionTime(decoded.Watermark, state.Covers.TryGetValue(decoded.SensorPartition, out var next) ? next : -1));
            return false;
        }

        return restore(snapshot, state);
    }
}

/// <summary>What a restored state decodes to: a key's rule state, or (when <see cref="Snapshot"/> is null) a sensor partition's time.</summary>
/// <param name="Snapshot">The key's rule state.</param>
/// <param name="SensorPartition">The sensor partition whose time it is.</param>
/// <param name="Watermark">That partition's watermark.</param>
internal readonly record struct DecodedState(KeyedStateSnapshot? Snapshot, int SensorPartition, DateTimeOffset Watermark);

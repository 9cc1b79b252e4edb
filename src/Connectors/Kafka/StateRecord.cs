namespace Kommune.Connectors.Kafka;

/// <summary>
/// The latest state of one key (a sensor's or an area's rules) for the state topic: the newest record per
/// <paramref name="Key"/> is the state; a null <paramref name="Value"/> (a tombstone) says the key has none.
/// </summary>
/// <param name="Key">The key, for example <c>sensor:wearable-7</c> or <c>area:sentrum</c>.</param>
/// <param name="Value">The state snapshot (JSON), or null when the key holds no state any more.</param>
/// <param name="Partition">The state topic's partition: a sensor's is the partition of its input events.</param>
/// <param name="Covers">Per input partition, the offset of the newest event whose effects the state includes.</param>
/// <param name="Origins">An area's: which records of the repartition topic its state includes, by origin (JSON), so that
/// one written again is applied once.</param>
public sealed record StateRecord(string Key, byte[]? Value, int Partition, IReadOnlyDictionary<int, long>? Covers = null, byte[]? Origins = null)
{
    /// <summary>
    /// The base <see cref="Value"/> is a delta of (<see cref="StateDelta"/>), or null when the value is the whole state.
    /// </summary>
    public StateDeltaBase? DeltaOf { get; init; }

    /// <summary>
    /// The whole state, written first as <see cref="DeltaOf"/>'s base record, when this record starts a new base; null
    /// when the base was written before.
    /// </summary>
    public byte[]? Base { get; init; }

    /// <summary>Whether the key's base records are deleted (tombstones) with this record: its state is no longer written as deltas.</summary>
    public bool DropBases { get; init; }

    /// <summary>The header that carries <see cref="Covers"/>: <c>partition:offset</c> pairs joined by commas.</summary>
    public const string CoversHeader = "kommune-covers";

    /// <summary>The header that carries <see cref="Origins"/>.</summary>
    public const string OriginsHeader = "kommune-origins";

    /// <summary><see cref="Covers"/> as header text.</summary>
    public static string FormatCovers(IReadOnlyDictionary<int, long> covers) =>
        string.Join(',', covers.OrderBy(c => c.Key).Select(c => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{c.Key}:{c.Value}")));

    /// <summary>Reads header text written by <see cref="FormatCovers"/>; empty when absent or unreadable.</summary>
    public static Dictionary<int, long> ParseCovers(string? text)
    {
        var covers = new Dictionary<int, long>();
        foreach (var pair in (text ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split(':');
            if (parts.Length == 2
                && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var partition)
                && long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var offset))
            {
                covers[partition] = offset;
            }
        }

        return covers;
    }
}

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The latest state of one key (a sensor's or an area's rules) for the state topic: the newest record per
/// <paramref name="Key"/> is the state; a null <paramref name="Value"/> (a tombstone) says the key has none.
/// </summary>
/// <param name="Key">The key, for example <c>sensor:wearable-7</c> or <c>area:sentrum</c>.</param>
/// <param name="Value">The state snapshot (JSON), or null when the key holds no state any more.</param>
/// <param name="Partition">The state topic's partition: a sensor's is the partition of its input events.</param>
public sealed record StateRecord(string Key, byte[]? Value, int Partition);

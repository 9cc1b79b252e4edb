using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The timestamps that a ListOffsets request (<see cref="IConsumer{TKey, TValue}.OffsetsForTimes"/>) reads as "where the
/// log begins" and "where it ends" (Kafka's protocol), so that every partition's bound is asked in one request per leader.
/// </summary>
internal static class ListOffsetsBounds
{
    /// <summary>Asks for a partition's first offset.</summary>
    public static readonly Timestamp Earliest = new(-2, TimestampType.CreateTime);

    /// <summary>Asks for a partition's end (as the consumer's isolation level sees it).</summary>
    public static readonly Timestamp Latest = new(-1, TimestampType.CreateTime);
}

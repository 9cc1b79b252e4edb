namespace Kommune.Rules.Model;

/// <summary>
/// A windowed aggregate of one metric, of an area (emitted by an area-scoped rule) or of one sensor of it (emitted by a
/// sensor-scoped rule: <see cref="SensorId"/> is set), written to the aggregates topic.
/// </summary>
/// <param name="AreaId">The area.</param>
/// <param name="Metric">What was aggregated, for example <c>parking.free</c>.</param>
/// <param name="WindowStart">Inclusive start of the event-time window.</param>
/// <param name="WindowEnd">Exclusive end of the event-time window.</param>
/// <param name="Value">The aggregated value.</param>
/// <param name="Count">How many events went into it.</param>
public sealed record Aggregate(
    string AreaId,
    string Metric,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    double Value,
    long Count)
{
    /// <summary>The sensor whose aggregate it is; null for an aggregate of the area.</summary>
    public string? SensorId { get; init; }

    /// <summary>
    /// The Kafka key, so the latest record per window wins: <c>area/metric/start</c> for an area's aggregate,
    /// <c>area/sensor/metric/start</c> for a sensor's (so sensors of one area never overwrite each other's).
    /// </summary>
    public string Key => SensorId is null
        ? $"{AreaId}/{Metric}/{WindowStart.ToUnixTimeMilliseconds()}"
        : $"{AreaId}/{SensorId}/{Metric}/{WindowStart.ToUnixTimeMilliseconds()}";
}

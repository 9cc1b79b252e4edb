namespace Kommune.Rules.Model;

/// <summary>A windowed aggregate of one metric over an area, written to the aggregates topic.</summary>
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
    /// <summary>The Kafka key: area, metric and window start, so the latest record per window wins.</summary>
    public string Key => $"{AreaId}/{Metric}/{WindowStart.ToUnixTimeMilliseconds()}";
}

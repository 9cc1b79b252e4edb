namespace Kommune.Rules.Model;

/// <summary>Something a sensor-scoped rule concluded and told its area's rules, for example "space 12 is free".</summary>
/// <param name="Name">What kind of fact it is.</param>
/// <param name="SensorId">The sensor it is about.</param>
/// <param name="AreaId">The area it was sent to.</param>
/// <param name="EventTime">The event time it holds at.</param>
/// <param name="Values">Its values.</param>
public sealed record Fact(
    string Name,
    string SensorId,
    string AreaId,
    DateTimeOffset EventTime,
    IReadOnlyDictionary<string, SensorValue> Values);

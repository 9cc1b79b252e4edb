namespace Kommune.Connectors.Kafka;

/// <summary>The names of the engine's topics. Every name is configurable; these are the defaults.</summary>
public sealed record KafkaTopics
{
    /// <summary>Sensor events in (key sensorId).</summary>
    public string SensorEvents { get; init; } = "kommune.sensor-events";

    /// <summary>Acknowledgements from operations centres (key alertId).</summary>
    public string Acks { get; init; } = "kommune.acks";

    /// <summary>Alert state changes out (key alertId).</summary>
    public string Alerts { get; init; } = "kommune.alerts";

    /// <summary>Windowed aggregates out (key area/metric/window).</summary>
    public string Aggregates { get; init; } = "kommune.aggregates";

    /// <summary>Records the engine could not use, with a reason.</summary>
    public string DeadLetters { get; init; } = "kommune.dead-letters";

    /// <summary>Snapshots of rule state for recovery.</summary>
    public string State { get; init; } = "kommune.state";

    /// <summary>
    /// The engine's internal topic, with as many partitions as <see cref="SensorEvents"/>: what area rules consume
    /// (events they want and sensor rules' facts, keyed by area), the watermarks of the sensor partitions, and
    /// operations centres' commands forwarded to the partition of the alert's owner. Partition p is read by the node
    /// that owns partition p of <see cref="SensorEvents"/>.
    /// </summary>
    public string Repartition { get; init; } = "kommune.repartition";

    /// <summary>All topic names, inputs first.</summary>
    public IReadOnlyList<string> All => [SensorEvents, Acks, Alerts, Aggregates, DeadLetters, State, Repartition];
}

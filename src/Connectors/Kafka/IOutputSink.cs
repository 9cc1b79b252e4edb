using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Where the engine's outputs go. Every send takes a callback that runs, on another thread, once the broker has
/// acknowledged the record; delivery is retried until then.
/// </summary>
public interface IOutputSink : IDeadLetterSink
{
    /// <summary>Writes one alert state change; <paramref name="owner"/> (when known) is who holds it, for forwarding commands.</summary>
    void Send(Alert alert, AlertOwner? owner, Action onAcknowledged);

    /// <summary>Writes a record of the engine's repartition topic to its <paramref name="partition"/>.</summary>
    void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged);

    /// <summary>Writes one aggregate.</summary>
    void Send(Aggregate aggregate, Action onAcknowledged);

    /// <summary>Writes the latest state of one key to the state topic, to its partition.</summary>
    void Send(StateRecord state, Action onAcknowledged);
}

using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Where the engine's outputs go. Every send takes a callback that runs, on another thread, once the broker has
/// acknowledged the record; delivery is retried until then.
/// </summary>
public interface IOutputSink : IDeadLetterSink
{
    /// <summary>Writes one alert state change.</summary>
    void Send(Alert alert, Action onAcknowledged);

    /// <summary>Writes one aggregate.</summary>
    void Send(Aggregate aggregate, Action onAcknowledged);

    /// <summary>Writes the latest state of one key to the state topic, to its partition.</summary>
    void Send(StateRecord state, Action onAcknowledged);
}

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
}

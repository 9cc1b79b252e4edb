using Kommune.Connectors.Codecs;

namespace Kommune.Connectors.Kafka;

/// <summary>Where records that cannot be used go, with their reason.</summary>
public interface IDeadLetterSink
{
    /// <summary>
    /// Sends a dead letter; <paramref name="onAcknowledged"/> runs once the broker has it (on another thread).
    /// Delivery is retried until it succeeds or the sink is disposed.
    /// </summary>
    void Send(DeadLetter deadLetter, Action onAcknowledged);
}

using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;

namespace Kommune.MemoryTest;

/// <summary>
/// A stand-in for the engine's Kafka producer: acknowledges every record at once and keeps nothing. This test
/// measures the memory of the actors and their rule state, not Kafka's; outputs only have to complete their events.
/// </summary>
internal sealed class AcknowledgingSink : IOutputSink
{
    public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged) => onAcknowledged();

    public void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged) => onAcknowledged();

    public void Send(Aggregate aggregate, Action onAcknowledged) => onAcknowledged();

    public void Send(StateRecord state, Action onAcknowledged) => onAcknowledged();

    public void Send(DeadLetter deadLetter, Action onAcknowledged) => onAcknowledged();
}

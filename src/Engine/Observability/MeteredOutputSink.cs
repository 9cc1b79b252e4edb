using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;

namespace Kommune.Engine.Observability;

/// <summary>
/// The engine's output sink with its records counted in <see cref="EngineMetrics"/> once the broker acknowledged
/// them: alerts by rule, severity and status, aggregates by metric, dead letters by stage and reason. Every record
/// the engine sends goes through here (the consumer's decode dead letters too), so the counts match the topics.
/// </summary>
internal sealed class MeteredOutputSink(IOutputSink inner, EngineMetrics metrics) : IOutputSink
{
    public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged) => inner.Send(alert, owner, () =>
    {
        metrics.AlertEmitted(alert);
        onAcknowledged();
    });

    public void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged) => inner.Send(partition, record, onAcknowledged);

    public void Send(Aggregate aggregate, Action onAcknowledged) => inner.Send(aggregate, () =>
    {
        metrics.AggregateEmitted(aggregate);
        onAcknowledged();
    });

    public void Send(StateRecord state, Action onAcknowledged) => inner.Send(state, onAcknowledged);

    public void Send(DeadLetter deadLetter, Action onAcknowledged) => inner.Send(deadLetter, () =>
    {
        metrics.DeadLettered(deadLetter);
        onAcknowledged();
    });
}

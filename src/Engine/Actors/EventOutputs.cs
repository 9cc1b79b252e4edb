using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Engine.Actors;

/// <summary>
/// Collects what the rules conclude for one event, then sends it and completes the event once the broker has
/// acknowledged every record it caused (only then may its offset be committed).
/// </summary>
internal sealed class EventOutputs : IRuleOutput
{
    private readonly List<Alert> _alerts = [];
    private readonly List<Aggregate> _aggregates = [];
    private readonly List<DeadLetter> _deadLetters = [];

    public void Emit(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        _alerts.Add(alert);
    }

    public void Emit(Aggregate aggregate)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        _aggregates.Add(aggregate);
    }

    /// <summary>Records that a rule threw: the event goes to the dead-letter topic with the exception's message.</summary>
    public void RuleFailed(ConsumedEvent consumed, IRule rule, Exception exception)
    {
        var source = consumed.Source;
        var message = exception.Message.ReplaceLineEndings(" ");
        _deadLetters.Add(new DeadLetter(source.Key, source.Value, source.Topic, source.Partition, source.Offset,
            $"rule '{rule.Name}' threw {exception.GetType().Name}: {message}", "rule"));
    }

    /// <summary>Sends everything collected and completes <paramref name="consumed"/> when all is acknowledged.</summary>
    public void SendAndComplete(ConsumedEvent consumed, IOutputSink sink, EngineCounters counters)
    {
        var total = _alerts.Count + _aggregates.Count + _deadLetters.Count;
        if (total == 0)
        {
            counters.EventProcessed();
            consumed.Complete();
            return;
        }

        var pending = new PendingAcknowledgements(total, consumed, counters);
        foreach (var alert in _alerts)
        {
            sink.Send(alert, pending.AlertAcknowledged);
        }

        foreach (var aggregate in _aggregates)
        {
            sink.Send(aggregate, pending.AggregateAcknowledged);
        }

        foreach (var deadLetter in _deadLetters)
        {
            sink.Send(deadLetter, pending.DeadLetterAcknowledged);
        }
    }

    private sealed class PendingAcknowledgements(int count, ConsumedEvent consumed, EngineCounters counters)
    {
        private int _remaining = count;

        public void AlertAcknowledged()
        {
            counters.AlertAcknowledged();
            One();
        }

        public void AggregateAcknowledged()
        {
            counters.AggregateAcknowledged();
            One();
        }

        public void DeadLetterAcknowledged()
        {
            counters.RuleDeadLetterAcknowledged();
            One();
        }

        private void One()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                counters.EventProcessed();
                consumed.Complete();
            }
        }
    }
}

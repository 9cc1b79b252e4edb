using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Actors;

/// <summary>
/// Collects what rules emit during one call (a record, or timers firing), then sends it and reports when the broker has
/// acknowledged every record: alerts (saying their key's owner), aggregates, dead letters, and facts, which
/// go to their area's partition of the repartition topic. A rule that throws while handling a consumed record
/// dead-letters that record with the exception's message; one that throws in a timer is logged and counted.
/// Most calls emit nothing: such an instance goes back to its thread's spare (<see cref="Recycle"/>) and serves the next
/// call there, so an event that emits nothing allocates none.
/// </summary>
internal sealed partial class EventOutputs : IRuleOutputs
{
    [ThreadStatic]
    private static EventOutputs? Spare;

    private readonly EngineContext _engine;
    private ConsumedRecord? _consumed;
    private RepartitionRecord? _part; // the event, when the record holds several: a dead letter carries its bytes
    private RuleHost? _host;
    private AlertOwner? _owner;
    private bool _ownerKnown;

    // Made on first use: most events emit nothing.
    private List<Alert>? _alerts;
    private List<Aggregate>? _aggregates;
    private List<DeadLetter>? _deadLetters;
    private List<Fact>? _facts;
    private List<int>? _fromTimers; // the indexes of facts a timer's handler sent

    private EventOutputs(EngineContext engine) => _engine = engine;

    /// <summary>
    /// Outputs for one call of <paramref name="host"/>: of <paramref name="consumed"/> (null for timers, commands, restores
    /// and reloads), or of its event <paramref name="part"/> when it holds several; alerts say the host's owner (asked
    /// only when one is emitted).
    /// </summary>
    public static EventOutputs For(EngineContext engine, ConsumedRecord? consumed, RuleHost host, RepartitionRecord? part = null)
    {
        var outputs = Spare is { } spare && ReferenceEquals(spare._engine, engine) ? spare : new EventOutputs(engine);
        Spare = null;
        outputs._consumed = consumed;
        outputs._part = part;
        outputs._host = host;
        return outputs;
    }

    /// <summary>After a call that emitted nothing: this instance becomes its thread's spare. One that emitted is left alone (it is being sent).</summary>
    public void Recycle()
    {
        if (Records > 0)
        {
            return;
        }

        _consumed = null;
        _part = null;
        _host = null;
        _owner = null;
        _ownerKnown = false;
        Spare = this;
    }

    private AlertOwner? Owner
    {
        get
        {
            if (!_ownerKnown)
            {
                _owner = _host?.Owner;
                _ownerKnown = true;
            }

            return _owner;
        }
    }

    /// <summary>Whether the rules emitted anything.</summary>
    public bool Any => Records > 0;

    /// <summary>Records to send (alerts, aggregates, dead letters, facts): none means <see cref="Send"/> completes at once.</summary>
    public int Records => (_alerts?.Count ?? 0) + (_aggregates?.Count ?? 0) + (_deadLetters?.Count ?? 0) + (_facts?.Count ?? 0);

    public void Alert(Alert alert)
    {
        (_alerts ??= []).Add(alert);
        if (alert.Status == AlertStatus.Resolved)
        {
            _engine.OpenAlerts.TryRemove(alert.AlertId, out _);
        }
        else
        {
            _engine.OpenAlerts[alert.AlertId] = (Owner ?? new AlertOwner(alert.SensorId is null, alert.SensorId ?? alert.AreaId, -1), alert.AreaId);
        }
    }

    public void Aggregate(Aggregate aggregate) => (_aggregates ??= []).Add(aggregate);

    public void Fact(Fact fact) => Fact(fact, fromTimer: false);

    public void Fact(Fact fact, bool fromTimer)
    {
        (_facts ??= []).Add(fact);
        if (fromTimer)
        {
            (_fromTimers ??= []).Add(_facts.Count - 1);
        }
    }

    public void RuleFailed(string ruleName, string handler, Exception exception)
    {
        var count = _engine.Counters.RuleFailed(ruleName);
        var logged = EngineCounters.Sampled(count);
        var message = exception.Message.ReplaceLineEndings(" ");
        var reason = $"rule '{ruleName}' threw {exception.GetType().Name} in {handler}: {message}";
        if (_consumed is null)
        {
            if (logged)
            {
                LogTimerRuleFailed(_engine.Logger, count, reason, exception);
            }

            return;
        }

        var source = _part is null ? _consumed.Source : AreaRecord.SourceOf(_consumed.Source, _part);
        if (logged)
        {
            LogEventRuleFailed(_engine.Logger, count, source.Topic, source.Partition, source.Offset, reason, exception);
        }

        (_deadLetters ??= []).Add(new DeadLetter(source.Key, source.Value, source.Topic, source.Partition, source.Offset, reason, DeadLetterCode.RuleFailed));
    }

    public void Problem(string ruleName, string key, string kind, string message)
    {
        var count = _engine.Counters.RuleProblem(ruleName, kind);
        if (EngineCounters.Sampled(count))
        {
            LogRuleProblem(_engine.Logger, count, ruleName, key, kind, message.ReplaceLineEndings(" "));
        }
    }

    /// <summary>Sends everything collected; <paramref name="onAcknowledged"/> runs once the broker has all of it.</summary>
    public void Send(Action? onAcknowledged)
    {
        var total = Records;
        if (total == 0)
        {
            onAcknowledged?.Invoke();
            return;
        }

        var pending = new PendingAcknowledgements(total, _engine.Counters, onAcknowledged);
        var owner = Owner;
        foreach (var alert in _alerts ?? [])
        {
            _engine.Sink.Send(alert, owner, pending.AlertAcknowledged);
        }

        for (var i = 0; i < (_facts?.Count ?? 0); i++)
        {
            var fact = _facts![i];
            _engine.Sink.Send(_engine.AreaTask(fact.AreaId), RepartitionCodec.Fact(fact, Origin(i)), pending.FactAcknowledged);
        }

        foreach (var aggregate in _aggregates ?? [])
        {
            _engine.Sink.Send(aggregate, pending.AggregateAcknowledged);
        }

        foreach (var deadLetter in _deadLetters ?? [])
        {
            _engine.Sink.Send(deadLetter, pending.DeadLetterAcknowledged);
        }
    }

    /// <summary>
    /// What caused the <paramref name="index"/>th fact, the same when it is made again after a crash or rebalance (so
    /// its area applies it once): the event's partition and offset with how many of the event's own facts came before
    /// it; or, for a timer's, the fact's key, name and event time with how many timer facts before it had the same.
    /// </summary>
    private string Origin(int index)
    {
        var fact = _facts![index];
        var fromTimer = _fromTimers?.Contains(index) == true;
        var before = 0;
        for (var i = 0; i < index; i++)
        {
            var other = _facts[i];
            if (fromTimer
                ? _fromTimers!.Contains(i) && other.SensorId == fact.SensorId && other.Name == fact.Name && other.EventTime == fact.EventTime
                : _fromTimers?.Contains(i) != true)
            {
                before++;
            }
        }

        // A timer fires while an event is handled or when time moves on, whichever comes first after a restart: its
        // facts are named by what they are, not by when they were made.
        return _consumed is not null && !fromTimer
            ? RepartitionCodec.EventOrigin(_consumed.Source.Partition, _consumed.Source.Offset, before)
            : RepartitionCodec.TimerOrigin(fact.SensorId, fact.Name, fact.EventTime, before);
    }

    [LoggerMessage(EventId = 3204, Level = LogLevel.Warning, Message = "Rule problem #{Count}: rule {Rule} on {Key}, {Kind}: {Message}")]
    private static partial void LogRuleProblem(ILogger logger, long count, string rule, string key, string kind, string message);

    // Sampled (the first ten, then every thousandth): a rule that fails on every event must not flood the log.
    [LoggerMessage(EventId = 3201, Level = LogLevel.Error, Message = "Rule failure #{Count}, outside an event: {Reason}")]
    private static partial void LogTimerRuleFailed(ILogger logger, long count, string reason, Exception exception);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Rule failure #{Count} on {Topic}[{Partition}]@{Offset}, dead-lettered: {Reason}")]
    private static partial void LogEventRuleFailed(ILogger logger, long count, string topic, int partition, long offset, string reason, Exception exception);

    private sealed class PendingAcknowledgements(int count, EngineCounters counters, Action? onAcknowledged)
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

        public void FactAcknowledged() => One();

        private void One()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                onAcknowledged?.Invoke();
            }
        }
    }
}

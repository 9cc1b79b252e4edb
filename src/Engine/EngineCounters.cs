using Kommune.Engine.Observability;

namespace Kommune.Engine;

/// <summary>
/// Counters the actors and output callbacks update from many threads (the engine's statistics), and through them
/// the labelled Prometheus metrics that need a value known only at the event (its type, its consumption time, the
/// rule that failed).
/// </summary>
/// <param name="metrics">The engine's metrics, or null (actor tests and benchmarks).</param>
internal sealed class EngineCounters(EngineMetrics? metrics = null)
{
    private long _routed;
    private long _takenByAreas;
    private long _actorFailures;
    private long _processed;
    private Action<string>? _processedHandler;
    private long _alerts;
    private long _aggregates;
    private long _ruleFailures;
    private long _ruleProblems;
    private long _commandsForwarded;
    private long _repartitionDuplicates;
    private long _commandsApplied;
    private long _commandsRefused;
    private long _ruleDeadLetters;
    private long _activeSensors;
    private long _dormantSensors;
    private long _activeAreas;
    private long _lateEvents;
    private long _pluginFailures;
    private long _ruleReloads;
    private long _stateWritten;
    private long _stateRestored;
    private long _watermarksToSensors;

    public long Processed => Interlocked.Read(ref _processed);

    public long Alerts => Interlocked.Read(ref _alerts);

    public long Aggregates => Interlocked.Read(ref _aggregates);

    public long RuleFailures => Interlocked.Read(ref _ruleFailures);

    public long RuleDeadLetters => Interlocked.Read(ref _ruleDeadLetters);

    public long ActiveSensors => Interlocked.Read(ref _activeSensors);

    public long ActiveAreas => Interlocked.Read(ref _activeAreas);

    public long DormantSensors => Interlocked.Read(ref _dormantSensors);

    public long LateEvents => Interlocked.Read(ref _lateEvents);

    public long PluginFailures => Interlocked.Read(ref _pluginFailures);

    public long RuleReloads => Interlocked.Read(ref _ruleReloads);

    public long StateWritten => Interlocked.Read(ref _stateWritten);

    public long StateRestored => Interlocked.Read(ref _stateRestored);

    /// <summary>Watermark updates an area passed on to its sensors (only to those whose timers they may concern).</summary>
    public long WatermarksToSensors => Interlocked.Read(ref _watermarksToSensors);

    public void WatermarkToSensor() => Interlocked.Increment(ref _watermarksToSensors);

    public void StateWrittenOnce() => Interlocked.Increment(ref _stateWritten);

    public void StatesRestored(int count) => Interlocked.Add(ref _stateRestored, count);

    public void LateEventAcknowledged() => Interlocked.Increment(ref _lateEvents);

    public void PluginsFailed(int count) => Interlocked.Add(ref _pluginFailures, count);

    public void RulesReloaded() => Interlocked.Increment(ref _ruleReloads);

    /// <summary>Events handed to the actors and not yet taken by their area's actor.</summary>
    public long MailboxBacklog => Interlocked.Read(ref _routed) - Interlocked.Read(ref _takenByAreas);

    public long ActorFailures => Interlocked.Read(ref _actorFailures);

    /// <summary><see cref="EventProcessed"/>, made once: a record waiting for its state keeps it, not a new delegate.</summary>
    public Action<string> ProcessedHandler => _processedHandler ??= EventProcessed;

    /// <summary>An event of <paramref name="type"/> completed (its outputs and state acknowledged).</summary>
    public void EventProcessed(string type)
    {
        Interlocked.Increment(ref _processed);
        metrics?.EventProcessed(type);
    }

    /// <summary>An event's work is done and its outputs acknowledged (its state may still wait).</summary>
    public void EventReleased(long consumedAt) => metrics?.EventReleased(consumedAt);

    public void EventRouted() => Interlocked.Increment(ref _routed);

    public void EventTakenByArea() => Interlocked.Increment(ref _takenByAreas);

    public void ActorFailed()
    {
        Interlocked.Increment(ref _actorFailures);
        metrics?.ActorFailed();
    }

    public void AlertAcknowledged() => Interlocked.Increment(ref _alerts);

    public void AggregateAcknowledged() => Interlocked.Increment(ref _aggregates);

    /// <summary>A rule (or, as <c>(state)</c>, the writing of a key's state) failed.</summary>
    /// <returns>How many failures there have been, this one included (for sampled logs).</returns>
    public long RuleFailed(string rule)
    {
        metrics?.RuleFailed(rule);
        return Interlocked.Increment(ref _ruleFailures);
    }

    /// <summary>A record of the repartition topic was one its area had applied already (written again after a rebalance or crash).</summary>
    public void RepartitionDuplicate()
    {
        metrics?.RepartitionDuplicates.Inc();
        Interlocked.Increment(ref _repartitionDuplicates);
    }

    /// <summary>Repartition records skipped as applied already.</summary>
    public long RepartitionDuplicates => Interlocked.Read(ref _repartitionDuplicates);

    /// <summary>A command was forwarded to this node, where its alert's owner lives.</summary>
    public void CommandForwarded()
    {
        metrics?.CommandsForwarded.Inc();
        Interlocked.Increment(ref _commandsForwarded);
    }

    /// <summary>A forwarded command was applied by its alert's owner.</summary>
    public void CommandApplied() => Interlocked.Increment(ref _commandsApplied);

    /// <summary>A forwarded command was refused by its alert's owner (dead-lettered).</summary>
    public void CommandRefused() => Interlocked.Increment(ref _commandsRefused);

    /// <summary>Commands applied here (forwarded to this node by whichever node read them).</summary>
    public long CommandsApplied => Interlocked.Read(ref _commandsApplied);

    /// <summary>Commands refused here by their alert's owner.</summary>
    public long CommandsRefused => Interlocked.Read(ref _commandsRefused);

    /// <summary>A rule reported a problem (or the runtime did for it).</summary>
    /// <returns>How many problems there have been, this one included (for sampled logs).</returns>
    public long RuleProblem(string rule, string kind)
    {
        metrics?.RuleProblem(rule, kind);
        return Interlocked.Increment(ref _ruleProblems);
    }

    /// <summary>How many problems rules reported.</summary>
    public long RuleProblems => Interlocked.Read(ref _ruleProblems);

    /// <summary>Whether the <paramref name="count"/>th occurrence of something frequent is logged: the first ten, then every thousandth.</summary>
    public static bool Sampled(long count) => count <= 10 || count % 1000 == 0;

    public void RuleDeadLetterAcknowledged() => Interlocked.Increment(ref _ruleDeadLetters);

    public void SensorStarted() => Interlocked.Increment(ref _activeSensors);

    public void SensorStopped() => Interlocked.Decrement(ref _activeSensors);

    public void DormantSensorKept() => Interlocked.Increment(ref _dormantSensors);

    public void DormantSensorTaken() => Interlocked.Decrement(ref _dormantSensors);

    public void AreaStarted() => Interlocked.Increment(ref _activeAreas);

    public void AreaStopped() => Interlocked.Decrement(ref _activeAreas);
}

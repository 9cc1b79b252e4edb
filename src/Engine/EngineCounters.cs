namespace Kommune.Engine;

/// <summary>Counters the actors and output callbacks update from many threads.</summary>
internal sealed class EngineCounters
{
    private long _processed;
    private long _alerts;
    private long _aggregates;
    private long _ruleFailures;
    private long _ruleDeadLetters;
    private long _activeSensors;
    private long _activeAreas;
    private long _lateEvents;
    private long _pluginFailures;
    private long _ruleReloads;
    private long _stateWritten;
    private long _stateRestored;

    public long Processed => Interlocked.Read(ref _processed);

    public long Alerts => Interlocked.Read(ref _alerts);

    public long Aggregates => Interlocked.Read(ref _aggregates);

    public long RuleFailures => Interlocked.Read(ref _ruleFailures);

    public long RuleDeadLetters => Interlocked.Read(ref _ruleDeadLetters);

    public long ActiveSensors => Interlocked.Read(ref _activeSensors);

    public long ActiveAreas => Interlocked.Read(ref _activeAreas);

    public long LateEvents => Interlocked.Read(ref _lateEvents);

    public long PluginFailures => Interlocked.Read(ref _pluginFailures);

    public long RuleReloads => Interlocked.Read(ref _ruleReloads);

    public long StateWritten => Interlocked.Read(ref _stateWritten);

    public long StateRestored => Interlocked.Read(ref _stateRestored);

    public void StateWrittenOnce() => Interlocked.Increment(ref _stateWritten);

    public void StatesRestored(int count) => Interlocked.Add(ref _stateRestored, count);

    public void LateEventAcknowledged() => Interlocked.Increment(ref _lateEvents);

    public void PluginsFailed(int count) => Interlocked.Add(ref _pluginFailures, count);

    public void RulesReloaded() => Interlocked.Increment(ref _ruleReloads);

    public void EventProcessed() => Interlocked.Increment(ref _processed);

    public void AlertAcknowledged() => Interlocked.Increment(ref _alerts);

    public void AggregateAcknowledged() => Interlocked.Increment(ref _aggregates);

    public void RuleFailed() => Interlocked.Increment(ref _ruleFailures);

    public void RuleDeadLetterAcknowledged() => Interlocked.Increment(ref _ruleDeadLetters);

    public void SensorStarted() => Interlocked.Increment(ref _activeSensors);

    public void SensorStopped() => Interlocked.Decrement(ref _activeSensors);

    public void AreaStarted() => Interlocked.Increment(ref _activeAreas);

    public void AreaStopped() => Interlocked.Decrement(ref _activeAreas);
}

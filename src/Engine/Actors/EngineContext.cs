using System.Collections.Concurrent;
using Akka.Actor;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Actors;

/// <summary>What every actor of one engine shares: the sink, counters, settings, clock and the current rules.</summary>
internal sealed class EngineContext(
    IOutputSink sink,
    EngineCounters counters,
    EngineOptions options,
    TimeProvider clock,
    RuleSet rules,
    ILogger logger)
{
    private RuleSet _rules = rules;
    private long _unwrittenKeys;
    private long _pendingOutputs;

    public IOutputSink Sink { get; } = sink;

    public EngineCounters Counters { get; } = counters;

    public EngineOptions Options { get; } = options;

    public EventTimeSettings EventTime { get; } = options.ToEventTimeSettings();

    public TimeProvider Clock { get; } = clock;

    public ILogger Logger { get; } = logger;

    /// <summary>The current rules; a new actor starts with these.</summary>
    public RuleSet Rules
    {
        get => Volatile.Read(ref _rules);
        set => Volatile.Write(ref _rules, value);
    }

    public DateTimeOffset Now => Clock.GetUtcNow();

    /// <summary>Partitions of the state topic; 0 when state is not persisted. Set before the first event.</summary>
    public int StatePartitions { get; set; }

    /// <summary>Actors whose rule state changed and is not yet written: a checkpoint now settles them.</summary>
    public ConcurrentDictionary<IActorRef, byte> UnwrittenActors { get; } = new();

    /// <summary>Whether no key has unwritten state and no output waits for the broker (an epoch may commit).</summary>
    public bool Settled => Interlocked.Read(ref _unwrittenKeys) == 0 && Interlocked.Read(ref _pendingOutputs) == 0;

    /// <summary>A key's state changed and is not yet written.</summary>
    public void StateUnwritten() => Interlocked.Increment(ref _unwrittenKeys);

    /// <summary>A key's changed state was written (or turned out not to need writing).</summary>
    public void StateWritten() => Interlocked.Decrement(ref _unwrittenKeys);

    /// <summary>Outputs were sent and wait for the broker.</summary>
    public void OutputsSent() => Interlocked.Increment(ref _pendingOutputs);

    /// <summary>The broker acknowledged them.</summary>
    public void OutputsAcknowledged() => Interlocked.Decrement(ref _pendingOutputs);

    /// <summary>Where each open alert lives (its sensor, or its area), so a command for it can be routed.</summary>
    public ConcurrentDictionary<string, (string? SensorId, string AreaId)> OpenAlerts { get; } = new(StringComparer.Ordinal);
}

using System.Collections.Concurrent;
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

    /// <summary>Where each open alert lives (its sensor, or its area), so a command for it can be routed.</summary>
    public ConcurrentDictionary<string, (string? SensorId, string AreaId)> OpenAlerts { get; } = new(StringComparer.Ordinal);
}

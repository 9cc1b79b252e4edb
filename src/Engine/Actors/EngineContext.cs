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
    private RulesInForce _inForce = new(rules, null);
    private long _unwrittenKeys;
    private long _pendingOutputs;
    private readonly bool _tracksSettling = options.ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce;
    private readonly bool _tracksUnwrittenActors = options.PersistState;

    public IOutputSink Sink { get; } = sink;

    /// <summary>
    /// Whether a key's state is written only after the outputs of what it includes are acknowledged (at-least-once: a
    /// restart that restores the state must never miss an output whose cause it holds). Not in exactly-once mode, where
    /// outputs and state go into one transaction, visible together or not at all.
    /// </summary>
    public bool StateWaitsForOutputs { get; } = options.ProcessingGuarantee != ProcessingGuarantee.ExactlyOnce;

    /// <summary>
    /// Whether changed state is written when the exactly-once epoch asks for it (<see cref="WriteStateNow"/>, once per
    /// epoch), not by the <see cref="Checkpoints"/> clock: the epoch's transaction must hold every key's state as of its
    /// end anyway, so a write between two asks is written again at the next one. At-least-once: the clock.
    /// </summary>
    public bool StateWrittenByEpochs { get; } = options.ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce;

    public EngineCounters Counters { get; } = counters;

    public EngineOptions Options { get; } = options;

    public EventTimeSettings EventTime { get; } = options.ToEventTimeSettings();

    public TimeProvider Clock { get; } = clock;

    public ILogger Logger { get; } = logger;

    /// <summary>The engine's reloads: what each did, and the alerts they closed.</summary>
    public Reloads.RuleReloads Reloads { get; init; } = new(logger, null, clock);

    /// <summary>
    /// Tells actors when their key's state is due to be written; required when state is persisted
    /// (<see cref="StatePartitions"/> above 0) and not <see cref="StateWrittenByEpochs"/>.
    /// </summary>
    public CheckpointClock? Checkpoints { get; init; }

    /// <summary>Told how long each rule handler took (the engine's metrics), or null.</summary>
    public IRuleTimings? RuleTimings { get; init; }

    /// <summary>The current rules; a new actor starts with these.</summary>
    public RuleSet Rules
    {
        get => Volatile.Read(ref _inForce).Rules;
        set => Volatile.Write(ref _inForce, new RulesInForce(value, null));
    }

    /// <summary>The current rules with the reload that installed them (null for the rules the engine started with).</summary>
    public RulesInForce InForce => Volatile.Read(ref _inForce);

    /// <summary>
    /// Installs <paramref name="rules"/> by <paramref name="reload"/>: a key that catches up with them by an event before
    /// the reload's message reaches it counts in that reload, not outside one.
    /// </summary>
    public void Install(RuleSet rules, Reloads.RuleReloadProgress? reload) => Volatile.Write(ref _inForce, new RulesInForce(rules, reload));

    public DateTimeOffset Now => Clock.GetUtcNow();

    /// <summary>Partitions of the state topic; 0 when state is not persisted. Set before the first event.</summary>
    public int StatePartitions { get; set; }

    /// <summary>
    /// Partitions of the sensor-events topic, and so of the repartition topic: the engine's tasks. Partition p of both is
    /// processed by the node the group gave partition p of sensor-events. Set before the first event.
    /// </summary>
    public int TaskPartitions { get; set; } = 1;

    /// <summary>The task (repartition partition) of an area: a stable hash of its id, the same on every node and run.</summary>
    public int AreaTask(string areaId) => StateKeys.AreaPartition(areaId, TaskPartitions);

    /// <summary>
    /// Actors whose rule state changed and is not yet written (when state is persisted), so that
    /// <see cref="WriteStateNow"/> can have them checkpoint now.
    /// </summary>
    public UnwrittenKeys UnwrittenActors { get; } = new();

    /// <summary>The lists a key's changed state keeps what its events wait for in, reused across checkpoints.</summary>
    public StateWaitLists StateWaitLists { get; } = new();

    /// <summary>
    /// Tells every actor whose state changed and is not yet written to write it now rather than at its checkpoint timer:
    /// an exactly-once epoch waits for that state, and at-least-once events awaiting commit wait for it too.
    /// </summary>
    public void WriteStateNow()
    {
        foreach (var actor in UnwrittenActors.Snapshot())
        {
            actor.Tell(Checkpoint.Instance, ActorRefs.NoSender);
        }
    }

    /// <summary>Exactly-once mode: whether no key has unwritten state and no output waits for the broker (an epoch may commit).</summary>
    public bool Settled => Interlocked.Read(ref _unwrittenKeys) == 0 && Interlocked.Read(ref _pendingOutputs) == 0;

    /// <summary>
    /// The state of <paramref name="actor"/>'s key changed and is not yet written: the slot it holds among the unwritten
    /// (for <see cref="StateBeingWritten"/>; -1 when none is kept).
    /// </summary>
    public int StateUnwritten(IActorRef actor)
    {
        if (_tracksSettling)
        {
            Interlocked.Increment(ref _unwrittenKeys);
        }

        return _tracksUnwrittenActors ? UnwrittenActors.Add(actor) : -1;
    }

    /// <summary>The actor holding <paramref name="slot"/> is writing its key's state now (no need to ask it).</summary>
    public void StateBeingWritten(int slot)
    {
        if (slot >= 0)
        {
            UnwrittenActors.Remove(slot);
        }
    }

    /// <summary>A key's changed state was written (or turned out not to need writing).</summary>
    public void StateWritten()
    {
        if (_tracksSettling)
        {
            Interlocked.Decrement(ref _unwrittenKeys);
        }
    }

    /// <summary>Outputs were sent and wait for the broker.</summary>
    public void OutputsSent()
    {
        if (_tracksSettling)
        {
            Interlocked.Increment(ref _pendingOutputs);
        }
    }

    /// <summary>The broker acknowledged them.</summary>
    public void OutputsAcknowledged()
    {
        if (_tracksSettling)
        {
            Interlocked.Decrement(ref _pendingOutputs);
        }
    }

    /// <summary>
    /// Dead-letters a record as too late (stage <c>late</c>, counted as a late event); <paramref name="acknowledged"/>
    /// runs once the broker has the dead letter.
    /// </summary>
    public void SendLate(ConsumedRecord consumed, DateTimeOffset eventTime, DateTimeOffset watermark, Action acknowledged) =>
        SendLate(consumed.Source, eventTime, watermark, acknowledged);

    /// <summary>The same, for the record (or the event of a record of several) at <paramref name="source"/>.</summary>
    public void SendLate(RecordSource source, DateTimeOffset eventTime, DateTimeOffset watermark, Action acknowledged)
    {
        var reason = string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"late: event time {eventTime:O} is more than the allowed lateness {Options.AllowedLateness} behind the watermark {watermark:O}");
        Sink.Send(
            new Kommune.Connectors.Codecs.DeadLetter(source.Key, source.Value, source.Topic, source.Partition, source.Offset, reason, Kommune.Connectors.Codecs.DeadLetterCode.Late),
            () =>
            {
                Counters.LateEventAcknowledged();
                acknowledged();
            });
    }

    /// <summary>The open alerts this node holds: their sensor (or area) and task, dropped when the task goes elsewhere.</summary>
    public ConcurrentDictionary<string, (AlertOwner Owner, string AreaId)> OpenAlerts { get; } = new(StringComparer.Ordinal);
}

/// <summary>The engine's rules and the reload that installed them (null: the rules it started with), read as one.</summary>
internal sealed record RulesInForce(RuleSet Rules, Reloads.RuleReloadProgress? Reload);

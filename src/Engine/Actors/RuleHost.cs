using System.IO.Hashing;
using Akka.Actor;
using Kommune.Rules.Api;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Actors;

/// <summary>
/// The rules of one key inside an actor: runs its <see cref="KeyedRuleRunner"/>, sends what the rules emit,
/// delivers their facts to the area, keeps one Akka timer for the earliest processing-time timer, and persists the
/// key's state to the state topic.
/// </summary>
/// <remarks>
/// State is written at checkpoints, at most one <see cref="EngineOptions.StateInterval"/> after it changed, as one
/// record per key (its snapshot, or a tombstone once it holds nothing), and only when it differs from what was last
/// written. An event whose handling changed the state completes only once that record is acknowledged, so an offset
/// is committed only when the state that includes its event is durable: a restart restores that state and resumes
/// after it. Owned by one actor and used only from its message handlers.
/// </remarks>
internal sealed partial class RuleHost
{
    private const string ProcessingTimerKey = "processing-time";
    private const string CheckpointTimerKey = "checkpoint";
    private readonly EngineContext _engine;
    private readonly ITimerScheduler _timers;
    private readonly IActorRef? _area;
    private readonly IActorRef _self;
    private readonly string _stateKey;
    private DateTimeOffset? _scheduled;
    private int? _partition;
    private UInt128? _written; // a hash of the record last written, not its bytes: a meter's state is kilobytes
    private bool _dirty;
    private bool _checkpointScheduled;
    private List<EventCompletion>? _waiting;
    private Dictionary<int, long>? _covers; // made on first use: only a sensor whose state is persisted has one
    private int _unacknowledged;

    /// <param name="engine">The engine's shared context.</param>
    /// <param name="scope">Sensor or area.</param>
    /// <param name="key">The sensor or area id.</param>
    /// <param name="areaId">The area.</param>
    /// <param name="timers">The owning actor's timers.</param>
    /// <param name="area">Where facts go (the area actor), or null for an area's own rules.</param>
    /// <param name="self">The owning actor (told to checkpoint when an exactly-once epoch wants its state now).</param>
    public RuleHost(EngineContext engine, RuleScope scope, string key, string areaId, ITimerScheduler timers, IActorRef? area, IActorRef self)
    {
        _engine = engine;
        _timers = timers;
        _area = area;
        _self = self;
        // The watermark comes with the messages, in dispatch order: a new actor's first message says it.
        Runner = new KeyedRuleRunner(scope, key, areaId, engine.Rules, engine.EventTime, engine.RuleTimings);
        _stateKey = StateKeys.Of(scope, key);
        if (scope == RuleScope.Area && engine.StatePartitions > 0)
        {
            _partition = StateKeys.AreaPartition(key, engine.StatePartitions);
        }
    }

    public KeyedRuleRunner Runner { get; }

    /// <summary>Whether changed state waits for its checkpoint (the actor must not stop before it).</summary>
    public bool HasUnwrittenState => _dirty;

    /// <summary>Whether this key has event-time timers (and so wants watermark updates).</summary>
    public bool WantsWatermark => Runner.NextEventTimeTimer is not null;

    /// <summary>Runs the rules on an event; the event's completion waits for the outputs and facts.</summary>
    public void OnEvent(RoutedEvent routed)
    {
        var source = routed.Consumed.Source;
        if (Runner.Scope == RuleScope.Sensor && _engine.StatePartitions > 0)
        {
            _partition = source.Partition % _engine.StatePartitions;
            _covers ??= [];
            if (_covers.TryGetValue(source.Partition, out var covered) && source.Offset <= covered)
            {
                // Processed before a crash: the restored state includes its effects and its outputs were
                // acknowledged before that state was written. Applying it again would apply it twice.
                return;
            }

            _covers[source.Partition] = source.Offset;
        }

        CatchUpWithRules();
        var outputs = new EventOutputs(_engine, routed.Consumed);
        Runner.OnEvent(routed.Consumed.Event, routed.Watermark, _engine.Now, outputs);
        Finish(outputs, routed.Watermark, routed);
    }

    /// <summary>Runs the area rules on a fact.</summary>
    public void OnFact(FactMessage message)
    {
        CatchUpWithRules();
        var outputs = new EventOutputs(_engine, message.Origin?.Consumed);
        Runner.OnFact(message.Fact, message.Watermark, _engine.Now, outputs);
        Finish(outputs, message.Watermark, message.Origin);
    }

    /// <summary>Runs the rule whose open alert a command names; completes the command when its outputs are acknowledged.</summary>
    public void OnCommand(CommandMessage message)
    {
        CatchUpWithRules();
        var outputs = new EventOutputs(_engine, null);
        if (!Runner.OnAlertCommand(message.Command, Runner.Watermark, _engine.Now, outputs))
        {
            message.Done.TrySetResult(_engine.Reloads.Closed.NotOpen(message.Command.AlertId));
            return;
        }

        Finish(outputs, Runner.Watermark, null, () => message.Done.TrySetResult(null));
    }

    /// <summary>Moves time forward: fires the timers the watermark and the clock have passed.</summary>
    public void Advance(DateTimeOffset watermark)
    {
        CatchUpWithRules();
        var timers = (Runner.NextEventTimeTimer, Runner.NextProcessingTimeTimer);
        var outputs = new EventOutputs(_engine, null);
        Runner.Advance(watermark, _engine.Now, outputs);
        // Only a timer that fired can have changed the state; a watermark alone is not persisted.
        Finish(outputs, watermark, null, changed: timers != (Runner.NextEventTimeTimer, Runner.NextProcessingTimeTimer) || outputs.Any);
    }

    /// <summary>
    /// Restores the key's state read from the state topic; before its first event. State written under other rules is
    /// carried over to the current ones as a reload would, closing the open alerts of state that cannot be.
    /// </summary>
    public void Restore(RestoreState restore)
    {
        _written = XxHash128.HashToUInt128(restore.Raw);
        _partition = restore.Partition;
        _covers = new Dictionary<int, long>(restore.Covers);
        foreach (var rule in restore.Snapshot.Rules)
        {
            foreach (var alert in rule.OpenAlerts.Values)
            {
                _engine.OpenAlerts[alert.AlertId] = (alert.SensorId, alert.AreaId);
            }
        }

        var outputs = new EventOutputs(_engine, null);
        var changes = Runner.Restore(restore.Snapshot, outputs);
        _engine.Reloads.Applied(null, changes);
        Finish(outputs, Runner.Watermark, null, changed: changes.Count > 0);
    }

    /// <summary>Writes the state if it changed since the last write; then the events that changed it complete.</summary>
    public void Checkpoint()
    {
        _checkpointScheduled = false;
        if (!_dirty)
        {
            return;
        }

        if (Volatile.Read(ref _unacknowledged) > 0)
        {
            // State is written only after the outputs of what it includes are acknowledged: a restart that restores
            // it must never miss an output whose cause the state already holds.
            _checkpointScheduled = true;
            _timers.StartSingleTimer(CheckpointTimerKey, Actors.Checkpoint.Instance, TimeSpan.FromMilliseconds(20));
            return;
        }

        _dirty = false;
        _engine.StateBeingWritten(_self);
        var waiting = _waiting;
        _waiting = null;
        byte[]? state;
        try
        {
            state = Runner.HasState ? Runner.PersistedState() : null;
        }
        catch (Exception exception) when (exception is NotSupportedException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException)
        {
            // A plugin rule keeps a value JSON cannot write. Waiting for a write that can never happen would stall
            // the partition; the events go on, and a restart restores this key's last written state instead.
            _engine.Counters.RuleFailed("(state)");
            LogStateNotWritten(_engine.Logger, _stateKey, exception.Message, exception);
            Complete(waiting);
            _engine.StateWritten();
            return;
        }

        var hash = state is null ? (UInt128?)null : XxHash128.HashToUInt128(state);
        if (_partition is not { } partition || hash == _written)
        {
            Complete(waiting);
            _engine.StateWritten();
            return;
        }

        _written = hash;
        var covers = Runner.Scope == RuleScope.Sensor && _covers is { Count: > 0 } ? new Dictionary<int, long>(_covers) : null;
        _engine.Sink.Send(new StateRecord(_stateKey, state, partition, covers), () =>
        {
            _engine.Counters.StateWrittenOnce();
            Complete(waiting);
            _engine.StateWritten();
        });
    }

    private static void Complete(List<EventCompletion>? waiting)
    {
        if (waiting is null)
        {
            return;
        }

        foreach (var completion in waiting)
        {
            completion.StateDone();
        }
    }

    [LoggerMessage(EventId = 3203, Level = LogLevel.Error,
        Message = "The state of {Key} could not be written to the state topic (a restart restores its last written state): {Reason}")]
    private static partial void LogStateNotWritten(ILogger logger, string key, string reason, Exception exception);

    /// <summary>
    /// Switches to the engine's current rules, carrying each changed binding's state as <see cref="RuleReload"/> says and
    /// sending the records that close the open alerts of state that cannot be carried; what it did goes to
    /// <paramref name="progress"/>.
    /// </summary>
    public void Reload(Reloads.RuleReloadProgress? progress)
    {
        // Always the current rules, never the message's: a key made after a later reload, or that caught up with it
        // already, must not go back.
        var rules = _engine.Rules;
        if (ReferenceEquals(rules, Runner.Rules))
        {
            return;
        }

        var outputs = new EventOutputs(_engine, null);
        var changes = Runner.Reload(rules, outputs);
        _engine.Reloads.Applied(progress, changes);
        Finish(outputs, Runner.Watermark, null, changed: changes.Count > 0 || outputs.Any);
    }

    /// <summary>
    /// Reloads first when the engine's rules changed and this key has not heard yet (it was being passivated when the
    /// reload was passed on, then stayed): no key runs old rules.
    /// </summary>
    private void CatchUpWithRules()
    {
        if (!ReferenceEquals(_engine.Rules, Runner.Rules))
        {
            Reload(null);
        }
    }

    private void Finish(EventOutputs outputs, DateTimeOffset watermark, RoutedEvent? origin, Action? acknowledged = null, bool changed = true)
    {
        if (changed)
        {
            StateMayHaveChanged(origin);
        }

        var facts = outputs.Facts;
        for (var i = 0; i < facts.Count; i++)
        {
            origin?.Completion.Add();
            _area?.Tell(new FactMessage(facts[i], watermark, origin));
        }

        if (outputs.Records == 0)
        {
            // Nothing to wait for (most events): done now, without the callbacks below.
            acknowledged?.Invoke();
            Schedule();
            return;
        }

        Interlocked.Increment(ref _unacknowledged);
        _engine.OutputsSent();
        if (origin is null)
        {
            outputs.Send(() =>
            {
                Interlocked.Decrement(ref _unacknowledged);
                _engine.OutputsAcknowledged();
                acknowledged?.Invoke();
            });
        }
        else
        {
            origin.Completion.Add();
            outputs.Send(() =>
            {
                Interlocked.Decrement(ref _unacknowledged);
                _engine.OutputsAcknowledged();
                origin.Completion.Done();
            });
        }

        Schedule();
    }

    private void StateMayHaveChanged(RoutedEvent? origin)
    {
        if (_engine.StatePartitions == 0 || (!Runner.HasState && _written is null))
        {
            return; // not persisting, or nothing held and nothing written: nothing to write
        }

        if (!_dirty)
        {
            _dirty = true;
            _engine.StateUnwritten(_self);
        }

        if (origin is not null)
        {
            origin.Completion.AddState();
            (_waiting ??= []).Add(origin.Completion);
        }

        if (!_checkpointScheduled)
        {
            _checkpointScheduled = true;
            _timers.StartSingleTimer(CheckpointTimerKey, Actors.Checkpoint.Instance, _engine.Options.StateInterval);
        }
    }

    private void Schedule()
    {
        var next = Runner.NextProcessingTimeTimer;
        if (next == _scheduled)
        {
            return;
        }

        _scheduled = next;
        if (next is null)
        {
            _timers.Cancel(ProcessingTimerKey);
            return;
        }

        var delay = next.Value - _engine.Now;
        _timers.StartSingleTimer(ProcessingTimerKey, ProcessingTimerDue.Instance, delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
    }

    /// <summary>The processing-time Akka timer fired.</summary>
    public void ProcessingTimerFired()
    {
        _scheduled = null;
        Advance(Runner.Watermark);
    }
}

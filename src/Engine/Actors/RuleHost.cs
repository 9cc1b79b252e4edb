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
    private static readonly IReadOnlyDictionary<int, long> NoCovers = new Dictionary<int, long>();
    private const int DeltasThatPayForABase = 2; // a base followed by fewer deltas than this cost more than it saved
    private const byte WholeWritesAfterChurn = 32; // then the state is written whole for this many checkpoints
    private readonly EngineContext _engine;
    private readonly ITimerScheduler _timers;
    private readonly IActorRef _self;
    private readonly string _stateKey;
    private DateTimeOffset? _scheduled;
    private int? _partition;
    private UInt128? _written; // a hash of the record last written, not its bytes: a meter's state is kilobytes
    private bool _dirty;
    private bool _checkpointScheduled;
    private List<StateWait>? _waiting; // what each event that changed the state since its last write waits for (rented)
    private int _unwrittenSlot = -1; // among the engine's unwritten keys while _dirty
    private CoveredOffsets _covers; // only a key whose state is persisted notes any
    private int _unacknowledged;
    private int _checkpointAwaitsOutputs; // 1 while a checkpoint waits for the outputs sent: the last acknowledgement tells it
    private Action? _handedOver;
    private OriginLedger? _origins; // an area's: which repartition records it applied
    private StateDeltaBase? _base; // what the key's state is written as a delta of, while it is
    private sbyte _restoredBaseSlot = -1; // the base slot the restored state's record named (-1: none): the next base goes to the other
    private byte _deltasOfBase; // deltas written of _base (at most 255 counted)
    private byte _wholeWrites; // checkpoints left that write the state whole: its changes outgrew a base at once
    private WholeStateHandOver? _wholeFor; // the hand-over this key writes its whole state for, while it does

    /// <param name="engine">The engine's shared context.</param>
    /// <param name="scope">Sensor or area.</param>
    /// <param name="key">The sensor or area id.</param>
    /// <param name="areaId">The area.</param>
    /// <param name="timers">The owning actor's timers.</param>
    /// <param name="self">The owning actor (told to checkpoint when an exactly-once epoch wants its state now).</param>
    public RuleHost(EngineContext engine, RuleScope scope, string key, string areaId, ITimerScheduler timers, IActorRef self)
    {
        _engine = engine;
        _timers = timers;
        _self = self;
        // The watermark comes with the messages, in dispatch order: a new actor's first message says it.
        Runner = new KeyedRuleRunner(scope, key, areaId, engine.Rules, engine.EventTime, engine.RuleTimings);
        _stateKey = StateKeys.Of(scope, key);
        if (scope == RuleScope.Area)
        {
            _origins = new OriginLedger();
            Task = engine.AreaTask(key);
            if (engine.StatePartitions > 0)
            {
                _partition = Task % engine.StatePartitions;
            }
        }
    }

    /// <summary>
    /// The partition number (task) this key lives in: a sensor's is its sensor-events partition, an area's its
    /// repartition partition; null for a sensor before its first event or restore.
    /// </summary>
    public int? Task { get; private set; }

    /// <summary>Who owns this key's alerts, as their records say (so a command can be forwarded to it).</summary>
    public AlertOwner? Owner => Task is { } task ? new AlertOwner(Runner.Scope == RuleScope.Area, Runner.Key, task) : null;

    public KeyedRuleRunner Runner { get; }

    /// <summary>Whether changed state waits for its checkpoint (the actor must not stop before it).</summary>
    public bool HasUnwrittenState => _dirty;

    /// <summary>Runs the rules on an event; the event's completion waits for the outputs and facts.</summary>
    public void OnEvent(RoutedEvent routed)
    {
        var source = routed.Consumed.Source;
        Task = source.Partition;
        if (AlreadyApplied(source))
        {
            return;
        }

        CatchUpWithRules();
        var outputs = EventOutputs.For(_engine, routed.Consumed, this);
        Runner.OnEvent(routed.Consumed.Event, routed.Watermark, _engine.Now, outputs);
        Finish(outputs, routed.Completion);
    }

    /// <summary>
    /// Runs the area rules on a record of the repartition topic: an event they want, or a sensor's fact; or this area's
    /// events of a record of several (<see cref="RepartitionKind.Events"/>), in order. Whether the key's state already
    /// includes it is judged once for the record: its events of this area are applied together, in one turn, so a
    /// state written after them covers them all.
    /// </summary>
    public void OnAreaRecord(AreaRecord area)
    {
        if (AlreadyApplied(area.Consumed.Source))
        {
            return;
        }

        _origins!.Raise(area.Floors);
        if (area.Parts is not { } parts)
        {
            OnAreaRecord(area, area.Consumed.Record, null);
            return;
        }

        foreach (var part in parts)
        {
            OnAreaRecord(area, part, part);
        }
    }

    // One event or fact of the record: the record's own, or (part) one of its events when it holds several.
    private void OnAreaRecord(AreaRecord area, RepartitionRecord record, RepartitionRecord? part)
    {
        var eventTime = record.EventTime!.Value;
        if (!_origins!.FirstTime(record.Origin, eventTime))
        {
            // Written again by a sensor partition's new owner (after a rebalance or a crash): applied once already.
            _engine.Counters.RepartitionDuplicate();
            return;
        }

        // Not judged before the area's watermark is known here (MinValue: a node that took the area over and has not yet
        // read every sensor partition's report). A record made again from far behind it is caught by the ledger above,
        // which travels with the restored state (a restored key has no watermark: it is not persisted).
        if (area.Watermark != DateTimeOffset.MinValue && eventTime < area.Watermark - _engine.Options.AllowedLateness)
        {
            area.Completion.Add();
            var source = area.Consumed.Source;
            _engine.SendLate(part is null ? source : AreaRecord.SourceOf(source, part), eventTime, area.Watermark, area.Completion.Done);
            return;
        }

        CatchUpWithRules();
        var outputs = EventOutputs.For(_engine, area.Consumed, this, part);
        if (record.Fact is { } fact)
        {
            Runner.OnFact(fact, area.Watermark, _engine.Now, outputs);
        }
        else
        {
            Runner.OnEvent(record.Event!, area.Watermark, _engine.Now, outputs);
        }

        Finish(outputs, area.Completion);
    }

    /// <summary>
    /// Whether the key's restored state already includes this record (processed before a crash: its outputs were
    /// acknowledged before that state was written, so applying it again would apply it twice); otherwise notes it as
    /// covered by the next state written.
    /// </summary>
    private bool AlreadyApplied(Connectors.Kafka.RecordSource source)
    {
        if (_engine.StatePartitions == 0)
        {
            return false;
        }

        if (Runner.Scope == RuleScope.Sensor)
        {
            _partition = source.Partition % _engine.StatePartitions;
        }

        if (_covers.TryGet(source.Partition, out var covered) && source.Offset <= covered)
        {
            return true;
        }

        _covers.Set(source.Partition, source.Offset);
        return false;
    }

    /// <summary>Runs the rule whose open alert a command names; completes the command when its outputs are acknowledged.</summary>
    public void OnCommand(CommandMessage message)
    {
        CatchUpWithRules();
        var outputs = EventOutputs.For(_engine, null, this);
        if (!Runner.OnAlertCommand(message.Command, Runner.Watermark, _engine.Now, outputs))
        {
            message.Done.TrySetResult(_engine.Reloads.Closed.NotOpen(message.Command.AlertId));
            return;
        }

        Finish(outputs, null, () => message.Done.TrySetResult(null));
    }

    /// <summary>
    /// Moves time forward: fires the timers the watermark and the clock have passed. With <paramref name="record"/> (the
    /// area side's watermark record), what they send and the state they change are parts of that record's completion.
    /// </summary>
    public void Advance(DateTimeOffset watermark, EventCompletion? record = null)
    {
        CatchUpWithRules();
        var timers = (Runner.NextEventTimeTimer, Runner.NextProcessingTimeTimer);
        var outputs = EventOutputs.For(_engine, null, this);
        // A record made again this far behind would be too late anyway.
        _origins?.Forget(watermark, 2 * (_engine.Options.AllowedLateness + _engine.Options.OutOfOrderness));
        Runner.Advance(watermark, _engine.Now, outputs);
        // Only a timer that fired can have changed the state; a watermark alone is not persisted.
        Finish(outputs, record, changed: timers != (Runner.NextEventTimeTimer, Runner.NextProcessingTimeTimer) || outputs.Any);
    }

    /// <summary>
    /// Restores the key's state read from the state topic; before its first event. State written under other rules is
    /// carried over to the current ones as a reload would, closing the open alerts of state that cannot be.
    /// </summary>
    public void Restore(RestoreState restore)
    {
        _written = XxHash128.HashToUInt128(restore.Raw);
        _base = null; // the restored record's base is the topic's now, whoever wrote it
        _restoredBaseSlot = (sbyte)(restore.BaseSlot ?? -1);
        _partition = restore.Partition;
        _covers = CoveredOffsets.From(restore.Covers);
        if (_origins is not null)
        {
            _origins = OriginLedger.FromJson(restore.Origins);
        }

        if (Runner.Scope == RuleScope.Sensor && restore.SensorTask(_engine.StatePartitions, _engine.TaskPartitions) is { } task)
        {
            Task = task;
        }

        KeyedStateSnapshot snapshot;
        try
        {
            snapshot = restore.Decode();
        }
        catch (System.Text.Json.JsonException e)
        {
            // Its header was read when it was restored, its values are read now: the key starts empty, as a state the
            // restore could not read at all does (event 3104).
            _engine.Counters.RuleFailed("(state)");
            LogStateNotRestored(_engine.Logger, _stateKey, restore.Partition, e.Message);
            return;
        }

        foreach (var rule in snapshot.Rules)
        {
            foreach (var alert in rule.OpenAlerts.Values)
            {
                _engine.OpenAlerts[alert.AlertId] = (Owner ?? new AlertOwner(Runner.Scope == RuleScope.Area, Runner.Key, -1), alert.AreaId);
            }
        }

        var outputs = EventOutputs.For(_engine, null, this);
        var changes = Runner.Restore(snapshot, outputs);
        _engine.Reloads.Applied(null, changes);
        Finish(outputs, null, changed: changes.Count > 0);
    }

    /// <summary>
    /// The key's state as a restore reads it, for its actor to stop while its area keeps the state as bytes
    /// (<see cref="DormantSensors"/>): only when all it holds is written (or state is not persisted) and JSON can write it;
    /// otherwise null, and the actor stays.
    /// </summary>
    public RestoreState? ToRestoreState()
    {
        if (_dirty || _handedOver is not null || !Runner.HasState)
        {
            return null;
        }

        byte[] raw;
        try
        {
            raw = Runner.PersistedState();
        }
        catch (Exception exception) when (IsUnwritable(exception))
        {
            return null; // a plugin rule keeps a value JSON cannot write: the key stays in its actor
        }

        // The base its next delta would be of: a restore writes its next base to the other slot, as here.
        var baseSlot = _base?.Slot ?? (_restoredBaseSlot >= 0 ? (int)_restoredBaseSlot : null);
        IReadOnlyDictionary<int, long> covers = _covers.Count > 0 ? _covers.ToDictionary() : NoCovers;
        return new RestoreState(Runner.Header(), null, raw, _partition ?? -1, covers, _origins?.ToJson(), baseSlot) { Task = Task };
    }

    /// <summary>What writing a key's state throws when a plugin rule keeps a value JSON cannot write.</summary>
    private static bool IsUnwritable(Exception exception) =>
        exception is NotSupportedException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException;

    /// <summary>
    /// Its partition goes to another node: no processing-time timer fires here any more, and the state is written (once
    /// the outputs it includes are acknowledged); <paramref name="done"/> runs when it is (at once when nothing waits to be
    /// written), possibly on another thread. With <paramref name="whole"/> a key that holds state writes it whole, also
    /// when it has not changed since its last write, and tells <paramref name="whole"/> if it cannot.
    /// </summary>
    public void HandOver(Action done, WholeStateHandOver? whole = null)
    {
        _timers.Cancel(ProcessingTimerKey);
        _scheduled = null;
        if (whole is not null && Runner.HasState && _engine.StatePartitions > 0)
        {
            // Written whole even if unchanged, so that its partition's records before the hand-over are not needed.
            _wholeFor = whole;
            if (!_dirty)
            {
                _dirty = true;
                _unwrittenSlot = _engine.StateUnwritten(_self);
            }
        }

        if (!_dirty)
        {
            done();
            return;
        }

        _handedOver = done;
        Checkpoint();
    }

    /// <summary>
    /// Its partition was lost (another node has it already): no timer fires here any more, nothing is written, and the
    /// events whose state waited to be written are given up, not completed (their offsets are not committed here; the new
    /// owner does them again). Without this they would count as in flight for ever, and an exactly-once epoch would
    /// wait for them until it timed out.
    /// </summary>
    public void GiveUp()
    {
        _timers.Cancel(ProcessingTimerKey);
        _scheduled = null;
        _checkpointScheduled = false; // a checkpoint still due finds nothing to write, or writes early what changed since
        Interlocked.Exchange(ref _checkpointAwaitsOutputs, 0);
        _base = null; // the new owner writes bases of its own: a later write here starts a new one
        if (_dirty)
        {
            _dirty = false;
            _engine.StateBeingWritten(_unwrittenSlot);
            _unwrittenSlot = -1;
            _engine.StateWritten();
        }

        var waiting = _waiting;
        _waiting = null;
        if (waiting is not null)
        {
            foreach (var wait in waiting)
            {
                wait.Abandon();
            }

            _engine.StateWaitLists.Return(waiting);
        }
    }

    /// <summary>Writes the state if it changed since the last write; then the events that changed it complete.</summary>
    public void Checkpoint()
    {
        _checkpointScheduled = false;
        if (!_dirty)
        {
            return;
        }

        if (_engine.StateWaitsForOutputs && Volatile.Read(ref _unacknowledged) > 0 && AwaitOutputs())
        {
            // At-least-once: state is written only after the outputs of what it includes are acknowledged, so a restart
            // that restores it never misses an output whose cause it holds (exactly-once: one transaction holds both).
            return;
        }

        _dirty = false;
        _engine.StateBeingWritten(_unwrittenSlot);
        _unwrittenSlot = -1;
        var waiting = _waiting;
        _waiting = null;
        var hasState = Runner.HasState;
        ReadOnlySpan<byte> state = default;
        try
        {
            if (hasState)
            {
                state = Runner.WritePersistedState();
            }
        }
        catch (Exception exception) when (IsUnwritable(exception))
        {
            // A plugin rule keeps a value JSON cannot write. Waiting for a write that can never happen would stall
            // the partition; the events go on, and a restart restores this key's last written state instead.
            _engine.Counters.RuleFailed("(state)");
            LogStateNotWritten(_engine.Logger, _stateKey, exception.Message, exception);
            if (_partition is { } notWritten)
            {
                _wholeFor?.NotWritten(notWritten); // its last written state is before the hand-over: still needed
            }

            Complete(waiting);
            _engine.StateWritten();
            _handedOver?.Invoke();
            return;
        }

        var hash = hasState ? XxHash128.HashToUInt128(state) : (UInt128?)null;
        var whole = _wholeFor is not null && hasState;
        if (_partition is not { } partition || (hash == _written && !whole))
        {
            Complete(waiting);
            _engine.StateWritten();
            _handedOver?.Invoke();
            return;
        }

        if (whole && Runner.NextProcessingTimeTimer is { } due)
        {
            _wholeFor!.TimerAt(partition, due); // named by the partition's mark: a restore reads partitions with due timers first
        }

        _written = hash;
        var handedOver = _handedOver; // read here: the callback runs on the sink's thread
        var covers = _covers.Count > 0 ? _covers.ToDictionary() : null;
        var record = whole
            ? Whole(state, partition, covers, _origins?.ToJson())
            : hasState
            ? StateRecordOf(state, hash!.Value, partition, covers, _origins?.ToJson())
            : new StateRecord(_stateKey, null, partition, covers) { DropBases = ForgetBase() };
        _engine.Sink.Send(record, () =>
        {
            _engine.Counters.StateWrittenOnce();
            Complete(waiting);
            _engine.StateWritten();
            handedOver?.Invoke();
        });
    }

    /// <summary>
    /// The record that writes <paramref name="state"/>: whole, or, for a state of <see cref="StateRecordFormat.DeltaFrom"/>
    /// bytes up to <see cref="StateRecordFormat.CompressAbove"/>, what changed since the key's base, with a new base
    /// (written first, to the slot the key's newest record does not name) once that would be over half the state. A key
    /// whose changes outgrow a base before it paid for itself is written whole for a while instead.
    /// </summary>
    private StateRecord StateRecordOf(ReadOnlySpan<byte> state, UInt128 hash, int partition, Dictionary<int, long>? covers, byte[]? origins)
    {
        if (!_engine.Options.StateDeltas || state.Length < StateRecordFormat.DeltaFrom || state.Length > StateRecordFormat.CompressAbove)
        {
            return Whole(state, partition, covers, origins);
        }

        if (_wholeWrites > 0)
        {
            _wholeWrites--;
            return Whole(state, partition, covers, origins);
        }

        if (_base is { IsRefused: false } current)
        {
            if (StateDelta.Diff(state, current, state.Length / 2) is { } delta)
            {
                _deltasOfBase = (byte)Math.Min(_deltasOfBase + 1, byte.MaxValue);
                return new StateRecord(_stateKey, delta, partition, covers, origins) { DeltaOf = current };
            }

            if (_deltasOfBase < DeltasThatPayForABase)
            {
                // Its changes between two checkpoints reach half the state (an area whose parking sensors all report):
                // a new base at every write would cost more than writing it whole, so it is written whole for a while.
                _wholeWrites = WholeWritesAfterChurn;
                return Whole(state, partition, covers, origins);
            }
        }

        _deltasOfBase = 0;
        var slot = 1 - (_base?.Slot ?? (_restoredBaseSlot >= 0 ? _restoredBaseSlot : 1));
        var fresh = StateDelta.Capture(state, slot, ((ulong)hash).ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
        _base = fresh;
        _restoredBaseSlot = -1;
        return new StateRecord(_stateKey, StateDelta.Diff(state, fresh, int.MaxValue)!, partition, covers, origins) { DeltaOf = fresh, Base = state.ToArray() };
    }

    /// <summary>The record that writes <paramref name="state"/> whole, deleting the key's base records if it had any.</summary>
    private StateRecord Whole(ReadOnlySpan<byte> state, int partition, Dictionary<int, long>? covers, byte[]? origins) =>
        new(_stateKey, state.ToArray(), partition, covers, origins) { DropBases = ForgetBase() };

    /// <summary>Stops writing the key's state as deltas; whether it had base records to delete.</summary>
    private bool ForgetBase()
    {
        var had = _base is not null || _restoredBaseSlot >= 0;
        _base = null;
        _restoredBaseSlot = -1;
        return had;
    }

    private void Complete(List<StateWait>? waiting)
    {
        if (waiting is null)
        {
            return;
        }

        foreach (var wait in waiting)
        {
            wait.Done();
        }

        _engine.StateWaitLists.Return(waiting);
    }

    [LoggerMessage(EventId = 3205, Level = LogLevel.Error,
        Message = "State record {Key} in partition {Partition} is unreadable and was not restored: {Reason}")]
    private static partial void LogStateNotRestored(ILogger logger, string key, int partition, string reason);

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
        var inForce = _engine.InForce;
        if (ReferenceEquals(inForce.Rules, Runner.Rules))
        {
            return;
        }

        var outputs = EventOutputs.For(_engine, null, this);
        var changes = Runner.Reload(inForce.Rules, outputs);
        // Caught up by an event before the reload's message came (null): counted in the reload that installed the rules,
        // unless that one has finished already (the key was asleep through it), when it is logged as outside one.
        _engine.Reloads.Applied(progress ?? inForce.Reload, changes);
        Finish(outputs, null, changed: changes.Count > 0 || outputs.Any);
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

    /// <summary>
    /// After the rules ran: notes the state as changed, and sends what they emitted (alerts, aggregates, dead letters, and
    /// facts to their area through the repartition topic); the record that caused it, if any, completes once the broker
    /// has all of it.
    /// </summary>
    private void Finish(EventOutputs outputs, EventCompletion? origin, Action? acknowledged = null, bool changed = true)
    {
        if (changed)
        {
            StateMayHaveChanged(origin);
        }

        if (outputs.Records == 0)
        {
            // Nothing to wait for (most events): done now, without the callbacks below.
            outputs.Recycle();
            acknowledged?.Invoke();
            Schedule();
            return;
        }

        Send(outputs, origin, acknowledged);
        Schedule();
    }

    // Apart from Finish so that its closures are made only when outputs are sent: a lambda's captured parameters are
    // hoisted at the start of the method that declares it, so in Finish they cost an object for every event.
    private void Send(EventOutputs outputs, EventCompletion? origin, Action? acknowledged)
    {
        Interlocked.Increment(ref _unacknowledged);
        _engine.OutputsSent();
        if (origin is null)
        {
            outputs.Send(() =>
            {
                OutputAcknowledged();
                _engine.OutputsAcknowledged();
                acknowledged?.Invoke();
            });
        }
        else
        {
            origin.Add();
            outputs.Send(() =>
            {
                OutputAcknowledged();
                _engine.OutputsAcknowledged();
                origin.Done();
            });
        }
    }

    private void StateMayHaveChanged(EventCompletion? origin)
    {
        if (_engine.StatePartitions == 0 || (!Runner.HasState && _written is null))
        {
            return; // not persisting, or nothing held and nothing written: nothing to write
        }

        if (!_dirty)
        {
            _dirty = true;
            _unwrittenSlot = _engine.StateUnwritten(_self);
        }

        if (origin is not null)
        {
            (_waiting ??= _engine.StateWaitLists.Rent()).Add(origin.AwaitState());
        }

        if (!_checkpointScheduled && !_engine.StateWrittenByEpochs)
        {
            _checkpointScheduled = true;
            CheckpointAfter(_engine.Options.StateInterval);
        }
    }

    /// <summary>
    /// Leaves the checkpoint to the last acknowledgement of the outputs sent (<see cref="OutputAcknowledged"/>), which tells
    /// the actor <see cref="Actors.Checkpoint"/> again: nothing asks in between, however long the broker takes. (It asked
    /// every 20 ms: 32,000 sensors woken at once after a restart, whose outputs waited seconds for a loaded broker, kept the
    /// engine's two cores busy telling them.) False when the last one came meanwhile: the state may be written now.
    /// </summary>
    private bool AwaitOutputs()
    {
        _checkpointScheduled = true; // no clock entry meanwhile: the acknowledgement tells it
        Interlocked.Exchange(ref _checkpointAwaitsOutputs, 1);
        if (Volatile.Read(ref _unacknowledged) > 0 || Interlocked.Exchange(ref _checkpointAwaitsOutputs, 0) == 0)
        {
            return true; // outputs wait, or the last acknowledgement took the flag after all and tells the actor
        }

        _checkpointScheduled = false;
        return false;
    }

    /// <summary>An output sent by this key was acknowledged (on the sink's thread); the last one tells a checkpoint waiting for it.</summary>
    private void OutputAcknowledged()
    {
        if (Interlocked.Decrement(ref _unacknowledged) == 0 && Volatile.Read(ref _checkpointAwaitsOutputs) == 1
            && Interlocked.Exchange(ref _checkpointAwaitsOutputs, 0) == 1)
        {
            _self.Tell(Actors.Checkpoint.Instance, ActorRefs.NoSender);
        }
    }

    private void CheckpointAfter(TimeSpan delay) =>
        (_engine.Checkpoints ?? throw new InvalidOperationException("State is persisted, and the engine has no checkpoint clock.")).Due(_self, delay);

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

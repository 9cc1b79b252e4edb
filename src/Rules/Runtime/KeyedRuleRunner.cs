using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>
/// Runs the rules of one scope for one key (a sensor, or an area): owns their keyed state and timers, fires timers
/// in due order once the watermark or the clock passes them, and isolates a rule that throws. The engine's actors
/// and the test kit both host rules through this class. Not thread-safe: one owner calls it at a time.
/// </summary>
internal sealed class KeyedRuleRunner
{
    /// <summary>The largest buffer <see cref="PersistedState"/> keeps for its thread's next call.</summary>
    private const int MaxRetainedBuffer = 1 << 20;

    // One buffer and writer per thread (not per key: a million keys would each hold one), reused by every call.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? PersistBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? PersistWriter;

    private readonly EventTimeSettings _settings;
    private readonly IRuleTimings? _timings;
    private readonly TimerQueue _timers = new();
    private readonly Dictionary<string, BindingState> _states = new(StringComparer.Ordinal);
    private readonly RuleContext _context;
    private RuleBinding[] _bindings = [];
    private RuleSet _rules = RuleSet.Empty;
    private DateTimeOffset _now = DateTimeOffset.MinValue;

    /// <summary>A runner with empty state.</summary>
    /// <param name="scope">Sensor or area.</param>
    /// <param name="key">The sensor id or area id.</param>
    /// <param name="areaId">The key's area.</param>
    /// <param name="rules">The rules; those of <paramref name="scope"/> bound to the area run.</param>
    /// <param name="settings">Event-time settings.</param>
    /// <param name="timings">Told how long each handler took, or null.</param>
    public KeyedRuleRunner(RuleScope scope, string key, string areaId, RuleSet rules, EventTimeSettings settings, IRuleTimings? timings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(areaId);
        ArgumentNullException.ThrowIfNull(settings);
        Scope = scope;
        Key = key;
        AreaId = areaId;
        _settings = settings;
        _timings = timings;
        _context = new RuleContext(this);
        ArgumentNullException.ThrowIfNull(rules);
        _rules = rules;
        _bindings = rules.For(scope, areaId);
    }

    /// <summary>Sensor or area.</summary>
    public RuleScope Scope { get; }

    /// <summary>The sensor id or area id.</summary>
    public string Key { get; }

    /// <summary>The key's area.</summary>
    public string AreaId { get; }

    /// <summary>The newest watermark this key has seen.</summary>
    public DateTimeOffset Watermark { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>The newest event time this key has handled.</summary>
    public DateTimeOffset LastEventTime { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>The rules that run for this key.</summary>
    public IReadOnlyList<RuleBinding> Bindings => _bindings;

    /// <summary>The rule set this key runs (the one given last to the constructor or <see cref="Reload"/>).</summary>
    public RuleSet Rules => _rules;

    /// <summary>Whether any rule holds state, an open alert or a timer for this key (then it must not be dropped).</summary>
    public bool HasState => _timers.Count > 0 || _states.Values.Any(s => !s.IsEmpty);

    /// <summary>Whether some rule holds an open alert for this key.</summary>
    public bool HasOpenAlerts => _states.Values.Any(s => s.OpenAlerts.Count > 0);

    /// <summary>The earliest pending event-time timer, or null.</summary>
    public DateTimeOffset? NextEventTimeTimer => _timers.Next(TimeDomain.EventTime);

    /// <summary>The earliest pending processing-time timer, or null.</summary>
    public DateTimeOffset? NextProcessingTimeTimer => _timers.Next(TimeDomain.ProcessingTime);

    /// <summary>
    /// Handles one event: first fires the timers the watermark and the clock have passed, then runs each rule that
    /// matches the event, then fires any timer those rules set already due. A rule that throws is reported through
    /// <paramref name="outputs"/> and the others go on.
    /// </summary>
    public void OnEvent(SensorEvent sensorEvent, DateTimeOffset watermark, DateTimeOffset now, IRuleOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        ArgumentNullException.ThrowIfNull(outputs);
        Advance(watermark, now, outputs);
        if (sensorEvent.Timestamp > LastEventTime)
        {
            LastEventTime = sensorEvent.Timestamp;
        }

        foreach (var binding in _bindings)
        {
            bool matches;
            try
            {
                matches = binding.Matches(sensorEvent);
            }
#pragma warning disable CA1031 // A failing rule is isolated and reported; the others go on.
            catch (Exception e)
#pragma warning restore CA1031
            {
                outputs.RuleFailed(binding.Name, nameof(Rule.Accepts), e);
                continue;
            }

            if (matches)
            {
                Invoke(binding, outputs, sensorEvent.Timestamp, null, sensorEvent);
            }
        }

        FireDue(outputs);
    }

    /// <summary>Handles a fact sent to this area (area scope only): fires due timers, runs every area rule's OnFact, then fires timers they set already due.</summary>
    public void OnFact(Fact fact, DateTimeOffset watermark, DateTimeOffset now, IRuleOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(fact);
        ArgumentNullException.ThrowIfNull(outputs);
        Advance(watermark, now, outputs);
        foreach (var binding in _bindings)
        {
            Invoke(binding, outputs, fact.EventTime, null, fact);
        }

        FireDue(outputs);
    }

    /// <summary>
    /// Handles an operations centre's command: finds the rule and incident whose open alert has the command's id
    /// and runs that rule's <see cref="Rule.OnAlertCommand"/>.
    /// </summary>
    /// <returns>false when no rule of this key has that alert open (nothing ran).</returns>
    public bool OnAlertCommand(AlertCommand command, DateTimeOffset watermark, DateTimeOffset now, IRuleOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(outputs);
        Advance(watermark, now, outputs);
        foreach (var binding in _bindings)
        {
            if (!_states.TryGetValue(binding.Name, out var state))
            {
                continue;
            }

            var incident = state.OpenAlerts.FirstOrDefault(a => a.Value.AlertId == command.AlertId).Key;
            if (incident is not null)
            {
                Invoke(binding, outputs, command.Timestamp, command.Timestamp, new IncidentCommand(incident, command));
                FireDue(outputs);
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Moves this key's watermark and clock forward (never back), firing every timer they have passed, in due order:
    /// also timers that were set at or behind them, and timers that a timer handler sets already due.
    /// </summary>
    public void Advance(DateTimeOffset watermark, DateTimeOffset now, IRuleOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (now > _now)
        {
            _now = now;
        }

        if (watermark > Watermark)
        {
            Watermark = watermark;
        }

        FireDue(outputs);
    }

    /// <summary>
    /// Switches to a new rule set, carrying each changed binding's state as <see cref="RuleReload"/> says: kept (its
    /// values read afresh by a new build of the rule), migrated by the rule's <see cref="Rule.MigrateState"/>, or dropped;
    /// every open alert of dropped state is closed with a <c>resolved</c> record of its own, sent to
    /// <paramref name="outputs"/> with the next sequence number. Then each rule whose parameters changed is told
    /// (<see cref="Rule.OnParametersChanged"/>), and timers already due fire.
    /// </summary>
    /// <returns>What happened to each binding that held state at this key and changed; empty when nothing did.</returns>
    public IReadOnlyList<BindingStateChange> Reload(RuleSet rules, IRuleOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(outputs);
        var previous = _bindings;
        _rules = rules;
        _bindings = rules.For(Scope, AreaId);
        List<BindingStateChange>? changes = null;
        List<RuleBinding>? told = null;
        foreach (var before in previous)
        {
            var after = Find(_bindings, before.Name);
            if (after is not null && (ReferenceEquals(before, after) || before.Fingerprint == after.Fingerprint))
            {
                continue;
            }

            if (!Holds(before.Name))
            {
                _states.Remove(before.Name); // nothing held, but its empty cells may know the old build's types
                continue;
            }

            (changes ??= []).Add(Carry(BindingOrigin.Of(before), after, outputs, ref told));
        }

        Tell(told, outputs);
        return (IReadOnlyList<BindingStateChange>?)changes ?? [];
    }

    /// <summary>Everything this key's rules hold, to persist.</summary>
    public KeyedStateSnapshot Snapshot()
    {
        var rules = new List<RuleStateSnapshot>();
        foreach (var binding in _bindings)
        {
            var timers = _timers.All.Where(t => t.Binding == binding.Name).Select(t => new RuleTimer(t.Name, t.Time, t.Domain)).ToList();
            _states.TryGetValue(binding.Name, out var state);
            if (timers.Count == 0 && (state is null || state.IsEmpty))
            {
                continue;
            }

            rules.Add(new RuleStateSnapshot(
                binding.Name,
                binding.Fingerprint,
                state?.SnapshotValues() ?? [],
                state is null ? new Dictionary<string, Alert>() : new Dictionary<string, Alert>(state.OpenAlerts),
                timers,
                binding.RuleId,
                binding.StateVersion,
                binding.ParametersFingerprint));
        }

        return new KeyedStateSnapshot(Scope, Key, AreaId, Watermark, LastEventTime, rules);
    }

    /// <summary>
    /// What <see cref="KeyedStateHeader.Read"/> reads from <see cref="PersistedState"/>, made from this runner without
    /// writing or reading the state: the bindings that hold state or timers, in the order they are written, with the
    /// strings of the runner and its bindings (not copies).
    /// </summary>
    public KeyedStateHeader Header()
    {
        var bindings = new List<(string Name, string Fingerprint)>();
        var openAlerts = false;
        foreach (var binding in _bindings)
        {
            if (!IsPersisted(binding, out var state, out _))
            {
                continue;
            }

            bindings.Add((binding.Name, binding.Fingerprint));
            openAlerts |= state is { OpenAlerts.Count: > 0 };
        }

        return new KeyedStateHeader(Scope, Key, AreaId, LastEventTime, bindings, openAlerts, NextEventTimeTimer, NextProcessingTimeTimer);
    }

    /// <summary>
    /// The key's state as the engine persists it: the JSON of <see cref="Snapshot"/> (read back with
    /// <see cref="KeyedStateSnapshot.FromJson"/>) without the watermark, which is not persisted (a restarted engine
    /// takes it from the partitions). Written straight to UTF-8, without building the snapshot's objects first: this
    /// runs at every checkpoint of every key whose state changed.
    /// </summary>
    public byte[] PersistedState() => WritePersistedState().ToArray();

    /// <summary>
    /// <see cref="PersistedState"/> written into a buffer of the calling thread, without copying it out: the bytes are
    /// valid until the thread's next call (of any key).
    /// </summary>
    public ReadOnlySpan<byte> WritePersistedState()
    {
        var buffer = PersistBuffer;
        if (buffer is null || buffer.Capacity > MaxRetainedBuffer)
        {
            // A rare huge state grew the last buffer: do not keep it for the thread's lifetime.
            buffer = PersistBuffer = new ArrayBufferWriter<byte>(1024);
        }

        buffer.ResetWrittenCount();
        var writer = PersistWriter;
        if (writer is null)
        {
            writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = KeyedStateSnapshot.JsonOptions.Encoder });
            PersistWriter = writer;
        }
        else
        {
            writer.Reset(buffer);
        }

        var options = KeyedStateSnapshot.JsonOptions;
        writer.WriteStartObject();
        writer.WritePropertyName("scope");
        JsonSerializer.Serialize(writer, Scope, options);
        writer.WriteString("key", Key);
        writer.WriteString("areaId", AreaId);
        writer.WritePropertyName("watermark");
        JsonSerializer.Serialize(writer, DateTimeOffset.MinValue, options);
        writer.WritePropertyName("lastEventTime");
        JsonSerializer.Serialize(writer, LastEventTime, options);
        writer.WriteStartArray("rules");
        foreach (var binding in _bindings)
        {
            if (!IsPersisted(binding, out var state, out var hasTimers))
            {
                continue;
            }

            writer.WriteStartObject();
            writer.WriteString("name", binding.Name);
            writer.WriteString("fingerprint", binding.Fingerprint);
            writer.WriteStartObject("values");
            state?.WriteValues(writer);
            writer.WriteEndObject();
            writer.WriteStartObject("openAlerts");
            if (state is not null)
            {
                foreach (var (incident, alert) in state.OpenAlerts)
                {
                    writer.WritePropertyName(incident);
                    JsonSerializer.Serialize(writer, alert, options);
                }
            }

            writer.WriteEndObject();
            writer.WriteStartArray("timers");
            if (hasTimers)
            {
                foreach (var timer in _timers.All)
                {
                    if (timer.Binding == binding.Name)
                    {
                        JsonSerializer.Serialize(writer, new RuleTimer(timer.Name, timer.Time, timer.Domain), options);
                    }
                }
            }

            writer.WriteEndArray();
            writer.WriteString("rule", binding.RuleId);
            writer.WriteNumber("stateVersion", binding.StateVersion);
            if (binding.ParametersFingerprint is { } parameters)
            {
                writer.WriteString("parameters", parameters);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        return buffer.WrittenSpan;
    }

    /// <summary>
    /// Whether <paramref name="binding"/>'s part is written to the persisted state (and so named in its header): it holds
    /// state or timers for this key.
    /// </summary>
    private bool IsPersisted(RuleBinding binding, out BindingState? state, out bool hasTimers)
    {
        _states.TryGetValue(binding.Name, out state);
        hasTimers = _timers.HasAny(binding.Name);
        return hasTimers || state is { IsEmpty: false };
    }

    /// <summary>
    /// Restores a snapshot of this key into this (new) runner. State of a binding whose fingerprint is unchanged is
    /// restored as it was; state written by another version of the binding (the rules changed while the engine was
    /// stopped, or on the node that wrote it) is carried as <see cref="Reload"/> carries it, and state of a binding
    /// that is gone is dropped, its open alerts closed through <paramref name="outputs"/>.
    /// </summary>
    /// <param name="snapshot">The key's snapshot.</param>
    /// <param name="outputs">Where closing records and what told rules emit go; may be null only when the snapshot is of
    /// these very bindings.</param>
    /// <returns>What happened to each binding whose state was not restored as it was; empty when all were.</returns>
    /// <exception cref="InvalidOperationException"><paramref name="outputs"/> is null and a binding's state had to be carried or dropped.</exception>
    public IReadOnlyList<BindingStateChange> Restore(KeyedStateSnapshot snapshot, IRuleOutputs? outputs = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Key != Key || snapshot.Scope != Scope)
        {
            throw new ArgumentException($"The snapshot is of {snapshot.Scope} '{snapshot.Key}', not {Scope} '{Key}'.", nameof(snapshot));
        }

        Watermark = snapshot.Watermark;
        LastEventTime = snapshot.LastEventTime;
        List<BindingStateChange>? changes = null;
        List<RuleBinding>? told = null;
        foreach (var rule in snapshot.Rules)
        {
            StateOf(rule.Name).Restore(rule);
            foreach (var timer in rule.Timers)
            {
                _timers.Set(rule.Name, timer.Name, timer.Time, timer.Domain);
            }

            var binding = Find(_bindings, rule.Name);
            if (binding is null || binding.Fingerprint != rule.Fingerprint)
            {
                var carryingTo = outputs ?? throw new InvalidOperationException($"The state of binding '{rule.Name}' was written by other rules; restoring it needs outputs for what that closes.");
                (changes ??= []).Add(Carry(BindingOrigin.Of(rule, Scope), binding, carryingTo, ref told));
            }
        }

        if (outputs is not null)
        {
            Tell(told, outputs);
        }

        return (IReadOnlyList<BindingStateChange>?)changes ?? [];
    }

    /// <summary>Whether a binding holds anything at this key: values, open alerts or timers.</summary>
    private bool Holds(string binding) => (_states.TryGetValue(binding, out var state) && !state.IsEmpty) || _timers.HasAny(binding);

    /// <summary>
    /// Carries the state of the binding <paramref name="before"/> (held in <see cref="_states"/> and the timers under its
    /// name) over to <paramref name="after"/> (null: it is gone from this key), or drops it, closing its open alerts.
    /// </summary>
    private BindingStateChange Carry(BindingOrigin before, RuleBinding? after, IRuleOutputs outputs, ref List<RuleBinding>? told)
    {
        if (after is null)
        {
            var elsewhere = _rules.Bindings.FirstOrDefault(b => b.Name == before.Name);
            return elsewhere is null
                ? Drop(before.Name, BindingChange.Removed, $"binding '{before.Name}' is no longer in the rules file", outputs)
                : elsewhere.Scope != Scope
                    ? Drop(before.Name, BindingChange.Reset, $"binding '{before.Name}' changed scope to {elsewhere.Scope}", outputs)
                    : Drop(before.Name, BindingChange.Removed, $"binding '{before.Name}' no longer covers area {AreaId}", outputs);
        }

        var comparison = RuleReload.Compare(before, after);
        var change = comparison.Change;
        if (change == BindingChange.Reset)
        {
            return Drop(before.Name, change, $"binding '{before.Name}': {comparison.Reason}", outputs);
        }

        var state = _states.GetValueOrDefault(before.Name);
        if (before.Rule is null || before.Rule.GetType() != after.Rule.GetType() || change == BindingChange.Migrated)
        {
            state?.Detach(); // another build's types, or about to be migrated: its values are read afresh from JSON
        }

        if (change == BindingChange.Migrated && !Migrate(before.StateVersion, after, state ?? StateOf(after.Name), outputs))
        {
            return Drop(before.Name, BindingChange.Reset, $"binding '{before.Name}': state version {before.StateVersion} → {after.StateVersion} and MigrateState did not move this key's state", outputs);
        }

        if (comparison.ParametersChanged)
        {
            (told ??= []).Add(after);
        }

        return new BindingStateChange(before.Name, Key, change, []);
    }

    /// <summary>Runs the rule's <see cref="Rule.MigrateState"/> on the key's state; a throw is reported and counts as false.</summary>
    private bool Migrate(int fromVersion, RuleBinding binding, BindingState state, IRuleOutputs outputs)
    {
        try
        {
            return binding.Rule.MigrateState(fromVersion, new StateMigration(this, state));
        }
#pragma warning disable CA1031 // A failing rule is isolated and reported; its state is reset.
        catch (Exception e)
#pragma warning restore CA1031
        {
            outputs.RuleFailed(binding.Name, nameof(Rule.MigrateState), e);
            return false;
        }
    }

    /// <summary>
    /// Drops a binding's state and timers at this key and closes each of its open alerts with a <c>resolved</c> record:
    /// the next sequence number, the key's newest event time (so a record written again after a crash is the same
    /// change), evidence <c>closedBy</c> saying why.
    /// </summary>
    private BindingStateChange Drop(string binding, BindingChange change, string detail, IRuleOutputs outputs)
    {
        _timers.RemoveBinding(binding);
        if (!_states.Remove(binding, out var state) || state.OpenAlerts.Count == 0)
        {
            return new BindingStateChange(binding, Key, change, []);
        }

        var reason = change == BindingChange.Removed ? "rule removed" : "rule state reset";
        var closed = new List<Alert>(state.OpenAlerts.Count);
        foreach (var (_, last) in state.OpenAlerts.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            var at = LastEventTime > last.EventTime ? LastEventTime : last.EventTime;
            var evidence = new Dictionary<string, SensorValue>(last.Evidence, StringComparer.Ordinal) { ["closedBy"] = reason };
            var record = last with
            {
                Status = AlertStatus.Resolved,
                Description = $"Closed by a rules reload: {reason} ({detail}); its condition was not checked again",
                EventTime = at,
                DateIssued = at > last.DateIssued ? at : last.DateIssued,
                Evidence = evidence,
                Sequence = last.Sequence + 1,
            };
            outputs.Alert(record);
            closed.Add(record);
        }

        return new BindingStateChange(binding, Key, change, closed);
    }

    /// <summary>Tells each rule whose parameters changed, then fires the timers that are due.</summary>
    private void Tell(List<RuleBinding>? told, IRuleOutputs outputs)
    {
        foreach (var binding in told ?? [])
        {
            if (Holds(binding.Name))
            {
                Invoke(binding, outputs, LastEventTime, LastEventTime, ParametersChanged.Instance);
            }
        }

        FireDue(outputs);
    }

    // A timer is due once the watermark (event time) or the clock (processing time) has reached it, whenever it was
    // set: one set at or behind them (a late event's, or one a handler sets for "now") fires at once, not when they
    // next move.
    private void FireDue(IRuleOutputs outputs)
    {
        while ((_timers.PopDue(TimeDomain.ProcessingTime, _now) ?? _timers.PopDue(TimeDomain.EventTime, Watermark)) is { } due)
        {
            Fire(due, outputs);
        }

        EnforceTimerLimit(outputs);
    }

    /// <summary>
    /// Over <see cref="EventTimeSettings.MaxEventTimeTimersPerKey"/> event-time timers (a watermark held far behind
    /// this key's events), the earliest fire now, ahead of the watermark: their windows close early instead of piling
    /// up without bound. Each early timer is reported as the problem <c>timer-limit</c>. Bounded, so a rule that sets
    /// two timers for each one that fires cannot keep it busy.
    /// </summary>
    private void EnforceTimerLimit(IRuleOutputs outputs)
    {
        var limit = _settings.MaxEventTimeTimersPerKey;
        var over = _timers.EventTimeCount - limit;
        for (var budget = over + 100; over > 0 && budget > 0; budget--, over = _timers.EventTimeCount - limit)
        {
            var early = _timers.PopEarliest(TimeDomain.EventTime)!;
            outputs.Problem(early.Binding, Key, "timer-limit", string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"{limit} event-time timers were pending (the watermark {Watermark:O} is far behind this key's events); timer '{early.Name}' due {early.Time:O} fired early"));
            Fire(early, outputs);
        }
    }

    private void Fire(TimerQueue.Entry entry, IRuleOutputs outputs)
    {
        var binding = Find(_bindings, entry.Binding);
        if (binding is null)
        {
            return;
        }

        var timer = new RuleTimer(entry.Name, entry.Time, entry.Domain);
        // A processing-time timer holds no event time of its own: its handler sees the key's newest event time, and
        // what it emits is issued at the timer's due time.
        var eventTime = entry.Domain == TimeDomain.EventTime ? entry.Time : LastEventTime;
        Invoke(binding, outputs, eventTime, entry.Time, timer);
    }

    /// <summary>Calls the rule's handler for <paramref name="input"/> (an event, a fact or a timer), isolating a throw.</summary>
    private void Invoke(RuleBinding binding, IRuleOutputs outputs, DateTimeOffset eventTime, DateTimeOffset? issued, object input)
    {
        _context.Enter(binding, outputs, eventTime, issued ?? eventTime, input is RuleTimer);
        var started = _timings is null ? 0 : Stopwatch.GetTimestamp();
        var handler = nameof(Rule.OnEvent);
        try
        {
            switch (input)
            {
                case SensorEvent sensorEvent:
                    binding.Rule.OnEvent(_context, sensorEvent);
                    break;
                case Fact fact:
                    handler = nameof(Rule.OnFact);
                    binding.Rule.OnFact(_context, fact);
                    break;
                case IncidentCommand command:
                    handler = nameof(Rule.OnAlertCommand);
                    binding.Rule.OnAlertCommand(_context, command.Incident, command.Command);
                    break;
                case ParametersChanged:
                    handler = nameof(Rule.OnParametersChanged);
                    binding.Rule.OnParametersChanged(_context);
                    break;
                default:
                    handler = nameof(Rule.OnTimer);
                    binding.Rule.OnTimer(_context, (RuleTimer)input);
                    break;
            }
        }
#pragma warning disable CA1031 // A failing rule is isolated and reported; the others go on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // A number read from a text value names the value and the sensor, in the engine's dead letter as in the test kit.
            outputs.RuleFailed(binding.Name, handler, SensorValueException.Explain(e, input));
        }
        finally
        {
            _context.Leave();
            _timings?.Evaluated(binding, Stopwatch.GetTimestamp() - started);
        }
    }

    private static RuleBinding? Find(IReadOnlyList<RuleBinding> bindings, string name)
    {
        foreach (var binding in bindings)
        {
            if (binding.Name == name)
            {
                return binding;
            }
        }

        return null;
    }

    private BindingState StateOf(string binding)
    {
        if (!_states.TryGetValue(binding, out var state))
        {
            state = new BindingState();
            _states[binding] = state;
        }

        return state;
    }

    private sealed record IncidentCommand(string Incident, AlertCommand Command);

    /// <summary>The input of <see cref="Rule.OnParametersChanged"/>.</summary>
    private sealed class ParametersChanged
    {
        public static ParametersChanged Instance { get; } = new();
    }

    /// <summary>A key's state of one binding, as <see cref="Rule.MigrateState"/> sees it.</summary>
    private sealed class StateMigration(KeyedRuleRunner runner, BindingState state) : IStateMigration
    {
        public string Key => runner.Key;

        public string AreaId => runner.AreaId;

        public IReadOnlyCollection<string> Names => state.Names;

        public bool Has(string name) => state.Has(name);

        public T? Read<T>(string name) => state.Read<T>(name);

        public void Write<T>(string name, T value) => state.Write(name, value);

        public bool Remove(string name) => state.Remove(name);
    }

    private sealed class RuleContext(KeyedRuleRunner runner) : IRuleContext
    {
        private RuleBinding? _binding;
        private IRuleOutputs? _outputs;
        private DateTimeOffset _issued;
        private bool _timer;

        public string RuleName => Binding.Name;

        public string Key => runner.Key;

        public string AreaId => runner.AreaId;

        public DateTimeOffset EventTime { get; private set; }

        public DateTimeOffset Watermark => runner.Watermark;

        public TimeSpan AllowedLateness => runner._settings.AllowedLateness;

        public DateTimeOffset ProcessingTime => runner._now;

        private RuleBinding Binding => _binding ?? throw new InvalidOperationException("A rule context is valid only during the call it was passed to.");

        private IRuleOutputs Outputs => _outputs ?? throw new InvalidOperationException("A rule context is valid only during the call it was passed to.");

        public void Enter(RuleBinding binding, IRuleOutputs outputs, DateTimeOffset eventTime, DateTimeOffset issued, bool timer)
        {
            _binding = binding;
            _outputs = outputs;
            EventTime = eventTime;
            _issued = issued;
            _timer = timer;
        }

        public void Leave()
        {
            _binding = null;
            _outputs = null;
        }

        public IValueState<T> State<T>(string name) => runner.StateOf(Binding.Name).Get<T>(name);

        public void SetEventTimeTimer(string name, DateTimeOffset time)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            runner._timers.Set(Binding.Name, name, time, TimeDomain.EventTime);
        }

        public void SetProcessingTimeTimer(string name, DateTimeOffset time)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            runner._timers.Set(Binding.Name, name, time, TimeDomain.ProcessingTime);
        }

        public bool CancelTimer(string name) => runner._timers.Cancel(Binding.Name, name);

        public bool RaiseAlert(string incident, AlertDraft draft)
        {
            ArgumentException.ThrowIfNullOrEmpty(incident);
            ArgumentNullException.ThrowIfNull(draft);
            var state = runner.StateOf(Binding.Name);
            if (state.OpenAlerts.ContainsKey(incident))
            {
                return false;
            }

            var alert = Build(incident, draft, AlertStatus.Raised);
            state.SetOpenAlert(incident, alert);
            Outputs.Alert(alert);
            return true;
        }

        public bool UpdateAlert(string incident, AlertDraft draft, AlertStatus status)
        {
            ArgumentNullException.ThrowIfNull(draft);
            if (status is AlertStatus.Resolved)
            {
                throw new ArgumentException("UpdateAlert does not resolve; use ResolveAlert.", nameof(status));
            }

            var state = runner.StateOf(Binding.Name);
            if (!state.OpenAlerts.TryGetValue(incident, out var last))
            {
                return false;
            }

            var alert = Build(incident, draft, status) with { Sequence = last.Sequence + 1 };
            state.SetOpenAlert(incident, alert);
            Outputs.Alert(alert);
            return true;
        }

        public bool AcknowledgeAlert(string incident, string description)
        {
            ArgumentNullException.ThrowIfNull(description);
            var state = runner.StateOf(Binding.Name);
            if (!state.OpenAlerts.TryGetValue(incident, out var last) || last.Status == AlertStatus.Acknowledged)
            {
                return false;
            }

            var acknowledged = last with { Status = AlertStatus.Acknowledged, Description = description, EventTime = EventTime, DateIssued = _issued, Sequence = last.Sequence + 1 };
            state.SetOpenAlert(incident, acknowledged);
            Outputs.Alert(acknowledged);
            return true;
        }

        public bool ResolveAlert(string incident, string description)
        {
            ArgumentNullException.ThrowIfNull(description);
            if (!runner.StateOf(Binding.Name).RemoveOpenAlert(incident, out var last))
            {
                return false;
            }

            Outputs.Alert(last with { Status = AlertStatus.Resolved, Description = description, EventTime = EventTime, DateIssued = _issued, Sequence = last.Sequence + 1 });
            return true;
        }

        public Alert? OpenAlert(string incident) =>
            runner._states.TryGetValue(Binding.Name, out var state) && state.OpenAlerts.TryGetValue(incident, out var alert) ? alert : null;

        public void EmitAggregate(string metric, DateTimeOffset windowStart, DateTimeOffset windowEnd, double value, long count)
        {
            ArgumentException.ThrowIfNullOrEmpty(metric);
            if (!double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"The aggregate '{metric}' is not a finite number: it cannot be written.");
            }

            // A sensor rule's aggregate is the sensor's: keyed by it too, so the sensors of an area do not overwrite each other's.
            Outputs.Aggregate(new Aggregate(runner.AreaId, metric, windowStart, windowEnd, value, count)
            {
                SensorId = runner.Scope == RuleScope.Sensor ? runner.Key : null,
            });
        }

        public void ReportProblem(string kind, string message)
        {
            ArgumentException.ThrowIfNullOrEmpty(kind);
            ArgumentNullException.ThrowIfNull(message);
            Outputs.Problem(Binding.Name, runner.Key, kind, message);
        }

        public void SendFact(string name, IReadOnlyDictionary<string, SensorValue> values)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            ArgumentNullException.ThrowIfNull(values);
            if (runner.Scope != RuleScope.Sensor)
            {
                throw new InvalidOperationException("Only sensor-scoped rules send facts; an area rule emits alerts or aggregates.");
            }

            Outputs.Fact(new Fact(name, runner.Key, runner.AreaId, EventTime, values), _timer);
        }

        private Alert Build(string incident, AlertDraft draft, AlertStatus status) => new(
            AlertId: $"{Binding.Name}:{runner.Key}:{incident}",
            Rule: Binding.Name,
            Category: draft.Category,
            SubCategory: draft.SubCategory,
            Severity: draft.Severity,
            Status: status,
            Level: draft.Level,
            SensorId: runner.Scope == RuleScope.Sensor ? runner.Key : null,
            AreaId: runner.AreaId,
            EventTime: EventTime,
            DateIssued: _issued,
            Description: draft.Description,
            Evidence: draft.Evidence)
        {
            Recipients = draft.Recipients,
        };
    }
}

using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Rules.Testing;

/// <summary>
/// Runs rules the way the engine does (the engine's own rule runtime, watermark and lateness rules), on
/// a virtual clock, with no broker and no threads. Feed events with <see cref="Send(SensorEvent, int)"/>, move
/// time with <see cref="AdvanceClock"/> and <see cref="AdvanceWatermarkTo"/>, then assert <see cref="Alerts"/>,
/// <see cref="Aggregates"/>, <see cref="Facts"/>, <see cref="LateEvents"/> and <see cref="Failures"/>.
/// </summary>
public sealed class RuleTestKit : IRuleOutputs
{
    private readonly List<RuleBinding> _bindings = [];
    private readonly Dictionary<string, KeyedRuleRunner> _sensors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KeyedRuleRunner> _areas = new(StringComparer.Ordinal);
    private readonly Queue<Fact> _pendingFacts = new();
    private readonly WatermarkTracker _tracker;
    private readonly List<Alert> _alerts = [];
    private readonly List<Aggregate> _aggregates = [];
    private readonly List<Fact> _facts = [];
    private readonly List<SensorEvent> _late = [];
    private readonly List<RuleFailure> _failures = [];
    private readonly List<RuleProblem> _problems = [];
    private RuleSet? _rules;
    private int _versions;
    private DateTimeOffset _manualWatermark = DateTimeOffset.MinValue;

    /// <summary>A kit with the given event-time settings (the engine's defaults when null), its clock at <paramref name="start"/>.</summary>
    public RuleTestKit(EventTimeSettings? settings = null, DateTimeOffset? start = null)
    {
        Settings = settings ?? new EventTimeSettings();
        _tracker = new WatermarkTracker(Settings);
        Now = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>The event-time settings.</summary>
    public EventTimeSettings Settings { get; }

    /// <summary>The virtual wall clock.</summary>
    public DateTimeOffset Now { get; private set; }

    /// <summary>The watermark: from the events sent, or as set by <see cref="AdvanceWatermarkTo"/>, whichever is later.</summary>
    public DateTimeOffset Watermark => _tracker.Watermark > _manualWatermark ? _tracker.Watermark : _manualWatermark;

    /// <summary>Every alert state change emitted, in order.</summary>
    public IReadOnlyList<Alert> Alerts => _alerts;

    /// <summary>Every aggregate emitted, in order.</summary>
    public IReadOnlyList<Aggregate> Aggregates => _aggregates;

    /// <summary>Every fact sensor rules sent to their areas, in order.</summary>
    public IReadOnlyList<Fact> Facts => _facts;

    /// <summary>Events that were too late (the engine's late output).</summary>
    public IReadOnlyList<SensorEvent> LateEvents => _late;

    /// <summary>Rule handlers that threw.</summary>
    public IReadOnlyList<RuleFailure> Failures => _failures;

    /// <summary>Every problem a rule reported (<see cref="IRuleContext.ReportProblem"/>) or the runtime reported for it, in order.</summary>
    public IReadOnlyList<RuleProblem> Problems => _problems;

    /// <summary>Binds a rule, as a rules file would. Bind every rule before the first event.</summary>
    /// <param name="rule">The rule.</param>
    /// <param name="name">The binding's name; the rule's <see cref="RuleAttribute"/> name or type name when null.</param>
    /// <param name="sensorTypes">Narrows the rule's sensor types.</param>
    /// <param name="areas">The areas it runs for; all when null.</param>
    public RuleTestKit Bind(Rule rule, string? name = null, IEnumerable<string>? sensorTypes = null, IEnumerable<string>? areas = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (_rules is not null)
        {
            throw new InvalidOperationException("Bind every rule before the first event.");
        }

        _bindings.Add(new RuleBinding(NameOf(rule, name), rule, sensorTypes, areas));
        return this;
    }

    /// <summary>
    /// Binds a rule under a name again, as the engine does when the rules file changes that binding or its plugin is
    /// rebuilt (or adds it, when no binding has that name), at any time: every sensor and area carries the binding's
    /// state as the engine would (<see cref="BindingChange"/>). The kit cannot see parameters: another object of the same
    /// type is taken as new parameters, so the rule is told (<see cref="Rule.OnParametersChanged"/>); a rule of another
    /// type with the same <see cref="RuleAttribute"/> name is a new build of it with the same parameters (its
    /// <see cref="Rule.StateVersion"/> decides between keeping the state and <see cref="Rule.MigrateState"/>).
    /// </summary>
    /// <param name="rule">The new rule object.</param>
    /// <param name="name">The binding's name, as in <see cref="Bind"/>.</param>
    /// <param name="sensorTypes">Narrows the rule's sensor types.</param>
    /// <param name="areas">The areas it runs for; all when null.</param>
    /// <returns>What happened to each sensor's and area's state of the binding (closed alerts are also in <see cref="Alerts"/>).</returns>
    public IReadOnlyList<BindingStateChange> Reload(Rule rule, string? name = null, IEnumerable<string>? sensorTypes = null, IEnumerable<string>? areas = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        name = NameOf(rule, name);
        var index = _bindings.FindIndex(b => b.Name == name);
        var unchanged = index >= 0 && ReferenceEquals(_bindings[index].Rule, rule)
            && _bindings[index].SensorTypes.ToHashSet().SetEquals(new RuleBinding(name, rule, sensorTypes).SensorTypes)
            && _bindings[index].Areas.ToHashSet().SetEquals(areas ?? []);
        if (unchanged)
        {
            return [];
        }

        var binding = new RuleBinding(name, rule, sensorTypes, areas, fingerprint: $"test-kit:{name}:{++_versions}");
        if (index >= 0)
        {
            _bindings[index] = binding;
        }
        else
        {
            _bindings.Add(binding);
        }

        return Apply();
    }

    /// <summary>Removes a binding, as the engine does when the rules file drops it: every open alert it holds is closed (<c>rule removed</c>).</summary>
    /// <returns>What happened to each sensor's and area's state of the binding.</returns>
    /// <exception cref="ArgumentException">No binding has that name.</exception>
    public IReadOnlyList<BindingStateChange> Unbind(string name)
    {
        if (_bindings.RemoveAll(b => b.Name == name) == 0)
        {
            throw new ArgumentException($"No rule is bound as '{name}'.", nameof(name));
        }

        return Apply();
    }

    /// <summary>Sends an event from a partition (0 unless you test several partitions' watermarks).</summary>
    /// <returns>false when it was late and went to <see cref="LateEvents"/>.</returns>
    public bool Send(SensorEvent sensorEvent, int partition = 0)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        var rules = _rules ??= new RuleSet(_bindings);
        var watermark = Watermark;
        if (watermark != DateTimeOffset.MinValue && sensorEvent.Timestamp < watermark - Settings.AllowedLateness)
        {
            _late.Add(sensorEvent);
            return false;
        }

        _tracker.Observe(partition, sensorEvent.Timestamp, Now);
        _tracker.SetCaughtUp(partition, true); // the kit hands every event over at once: nothing of a partition waits
        if (rules.SensorBindings.Count > 0)
        {
            Runner(_sensors, RuleScope.Sensor, sensorEvent.SensorId, sensorEvent.AreaId).OnEvent(sensorEvent, watermark, Now, this);
        }

        if (rules.AreaBindings.Count > 0)
        {
            Runner(_areas, RuleScope.Area, sensorEvent.AreaId, sensorEvent.AreaId).OnEvent(sensorEvent, watermark, Now, this);
        }

        DeliverFacts(watermark);
        Advance();
        return true;
    }

    /// <summary>Sends an event built from its parts.</summary>
    public bool Send(string sensorId, string type, DateTimeOffset timestamp, IReadOnlyDictionary<string, SensorValue>? values = null, string areaId = "area-1", int partition = 0) =>
        Send(new SensorEvent(sensorId, areaId, type, timestamp, values ?? new Dictionary<string, SensorValue>()), partition);

    /// <summary>
    /// Delivers an operations centre's command (ack or resolve) to the rule whose open alert it names, as the
    /// engine does for a record on the acks topic.
    /// </summary>
    /// <returns>false when no open alert has that id (the engine dead-letters such a command).</returns>
    public bool Command(AlertCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var runner in _sensors.Values.Concat(_areas.Values).ToList())
        {
            if (runner.OnAlertCommand(command, Watermark, Now, this))
            {
                DeliverFacts(Watermark);
                return true;
            }
        }

        return false;
    }

    /// <summary>Acknowledges an alert by id, sent by <paramref name="by"/> at the kit's clock.</summary>
    public bool Ack(string alertId, string by = "operator") => Command(new AlertCommand(alertId, AlertAction.Ack, by, Now));

    /// <summary>Resolves an alert by id, sent by <paramref name="by"/> at the kit's clock.</summary>
    public bool Resolve(string alertId, string by = "operator") => Command(new AlertCommand(alertId, AlertAction.Resolve, by, Now));

    /// <summary>Moves the virtual clock forward: processing-time timers fire, idle partitions stop holding the watermark.</summary>
    public void AdvanceClock(TimeSpan by)
    {
        if (by < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(by), by, "The clock only moves forward.");
        }

        Now += by;
        _tracker.Refresh(Now);
        Advance();
    }

    /// <summary>Moves the watermark forward as if every partition had reached <paramref name="watermark"/>: event-time timers fire.</summary>
    public void AdvanceWatermarkTo(DateTimeOffset watermark)
    {
        if (watermark > _manualWatermark)
        {
            _manualWatermark = watermark;
        }

        Advance();
    }

    /// <summary>Forgets the outputs collected so far (state and timers stay).</summary>
    public void ClearOutputs()
    {
        _alerts.Clear();
        _aggregates.Clear();
        _facts.Clear();
        _late.Clear();
        _failures.Clear();
    }

    /// <summary>A snapshot of a sensor's rule state, or null when the sensor was never seen.</summary>
    public KeyedState? SensorState(string sensorId) => _sensors.TryGetValue(sensorId, out var runner) ? new KeyedState(runner.Snapshot()) : null;

    /// <summary>A snapshot of an area's rule state, or null when the area was never seen.</summary>
    public KeyedState? AreaState(string areaId) => _areas.TryGetValue(areaId, out var runner) ? new KeyedState(runner.Snapshot()) : null;

    void IRuleOutputs.Alert(Alert alert) => _alerts.Add(alert);

    void IRuleOutputs.Aggregate(Aggregate aggregate) => _aggregates.Add(aggregate);

    void IRuleOutputs.Fact(Fact fact)
    {
        _facts.Add(fact);
        _pendingFacts.Enqueue(fact);
    }

    void IRuleOutputs.RuleFailed(string ruleName, string handler, Exception exception) =>
        _failures.Add(new RuleFailure(ruleName, handler, exception));

    void IRuleOutputs.Problem(string ruleName, string key, string kind, string message) =>
        _problems.Add(new RuleProblem(ruleName, key, kind, message));

    private static string NameOf(Rule rule, string? name) =>
        name ?? rule.GetType().GetCustomAttributes(typeof(RuleAttribute), false).OfType<RuleAttribute>().FirstOrDefault()?.Name ?? rule.GetType().Name;

    /// <summary>Switches every sensor and area to the kit's bindings now, as the engine's reload does.</summary>
    private List<BindingStateChange> Apply()
    {
        var rules = _rules = new RuleSet(_bindings);
        var changes = new List<BindingStateChange>();
        var watermark = Watermark;
        foreach (var runner in _sensors.Values.Concat(_areas.Values).ToList())
        {
            runner.Advance(watermark, Now, this);
            changes.AddRange(runner.Reload(rules, this));
        }

        DeliverFacts(watermark);
        return changes;
    }

    private void Advance()
    {
        var watermark = Watermark;
        foreach (var runner in _sensors.Values.Concat(_areas.Values).ToList())
        {
            runner.Advance(watermark, Now, this);
        }

        DeliverFacts(watermark);
    }

    private void DeliverFacts(DateTimeOffset watermark)
    {
        while (_pendingFacts.TryDequeue(out var fact))
        {
            if (_rules is { AreaBindings.Count: > 0 })
            {
                Runner(_areas, RuleScope.Area, fact.AreaId, fact.AreaId).OnFact(fact, watermark, Now, this);
            }
        }
    }

    private KeyedRuleRunner Runner(Dictionary<string, KeyedRuleRunner> runners, RuleScope scope, string key, string areaId)
    {
        if (!runners.TryGetValue(key, out var runner))
        {
            runner = new KeyedRuleRunner(scope, key, areaId, _rules ??= new RuleSet(_bindings), Settings);
            runners[key] = runner;
        }

        return runner;
    }
}

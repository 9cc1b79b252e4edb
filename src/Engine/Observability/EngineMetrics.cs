using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Prometheus;

namespace Kommune.Engine.Observability;

/// <summary>
/// The engine's Prometheus metrics (README, "For SREs", lists them), in a registry of its own so that each engine
/// counts only what it did. Counters that the hot path updates are kept as label children made once; no label takes
/// a value from the input (a sensor type no rule knows is <c>other</c>, a dead letter's reason is a fixed code).
/// Gauges and counters that mirror the engine's statistics are set just before each scrape by whoever owns that
/// state (<see cref="KommuneEngine"/>), through <see cref="CollectorRegistry.AddBeforeCollectCallback(Action)"/>.
/// </summary>
internal sealed class EngineMetrics : IRuleTimings
{
    /// <summary>The label value for a sensor type no rule declares.</summary>
    public const string OtherType = "other";

    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] RuleBuckets = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];
    private static readonly double[] CommitBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly string _topic;
    private readonly Counter _processed;
    private readonly Counter.Child _processedOther;
    private readonly ConcurrentDictionary<string, Counter.Child> _processedByType = new(StringComparer.Ordinal);
    private readonly Counter _deadLetters;
    private readonly Counter _alerts;
    private readonly Counter _aggregates;
    private readonly Counter _ruleFailures;
    private readonly Counter _actorFailures;
    private readonly Counter _ruleProblems;
    private readonly ConcurrentDictionary<(string Rule, string Kind), Counter.Child> _ruleProblemsByKind = new();
    private readonly Histogram _eventProcessing;
    private readonly Histogram _ruleEvaluation;
    private readonly ConcurrentDictionary<string, Histogram.Child> _ruleEvaluationByRule = new(StringComparer.Ordinal);
    private readonly Histogram _transactionCommit;
    private readonly Histogram _epochSettle;
    private readonly Counter _ruleReloads;
    private readonly Counter _reloadBindings;
    private readonly Counter _reloadClosedAlerts;
    private FrozenSet<string> _knownTypes = FrozenSet<string>.Empty;

    /// <param name="topic">The sensor-events topic (the <c>topic</c> label).</param>
    /// <param name="rules">The rules: the sensor types they declare are the <c>type</c> label's values.</param>
    public EngineMetrics(string topic, RuleSet rules)
    {
        _topic = topic;
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);
        RuntimeMetrics.Register(factory, Registry);

        Consumed = factory.CreateCounter("kommune_events_consumed_total", "Records taken from the sensor-events topic, valid or not.", ["topic"]).WithLabels(topic);
        _processed = factory.CreateCounter(
            "kommune_events_processed_total",
            "Events whose rules ran and whose outputs the broker acknowledged, by sensor type (other: a type no rule declares).",
            ["topic", "type"]);
        _processedOther = _processed.WithLabels(topic, OtherType);
        _deadLetters = factory.CreateCounter(
            "kommune_dead_letters_total",
            "Records sent to the dead-letter topic (acknowledged), by stage (decode, late, rule, command, output) and reason code.",
            ["stage", "reason"]);
        Late = factory.CreateCounter(
            "kommune_late_events_total", "Events older than the watermark minus the allowed lateness (dead-lettered).", ["topic"]).WithLabels(topic);
        _alerts = factory.CreateCounter("kommune_alerts_emitted_total", "Alert records acknowledged by the broker.", ["rule", "severity", "status"]);
        _aggregates = factory.CreateCounter("kommune_aggregates_emitted_total", "Aggregate records acknowledged by the broker.", ["metric"]);
        _ruleFailures = factory.CreateCounter("kommune_rule_failures_total", "Rule handlers that threw (the event is dead-lettered; in a timer, logged).", ["rule"]);
        _ruleProblems = factory.CreateCounter(
            "kommune_rule_problems_total",
            "Problems rules reported: input a rule could not use (unusable-event), timers fired early at the per-key limit (timer-limit), and the like.",
            ["rule", "kind"]);
        _ruleReloads = factory.CreateCounter(
            "kommune_rule_reloads_total", "Reloads of the rules, by outcome: applied, or refused (a rules file with mistakes: the running rules stay).", ["outcome"]);
        _ruleReloads.WithLabels("applied");
        _ruleReloads.WithLabels("refused");
        _reloadBindings = factory.CreateCounter(
            "kommune_rule_reload_bindings_total",
            "Bindings in applied reloads, by what happened to their state: unchanged, added, kept, new_parameters, migrated, reset, removed.",
            ["change"]);
        _reloadClosedAlerts = factory.CreateCounter(
            "kommune_rule_reload_closed_alerts_total",
            "Open alerts closed by reloads (their binding removed, or its state reset), by reason: rule_removed, rule_state_reset.",
            ["reason"]);
        _actorFailures = factory.CreateCounter("kommune_actor_failures_total", "Engine actors that threw (a bug: the actor resumes, see the log).");
        StateWritten = factory.CreateCounter("kommune_state_records_written_total", "Rule-state checkpoint records acknowledged by the broker.");
        StateRestored = factory.CreateCounter("kommune_state_records_restored_total", "Rule-state records read back when partitions were assigned.");
        DeliveryFailures = factory.CreateCounter("kommune_producer_delivery_failures_total", "Output deliveries that failed (retried, or in exactly-once mode aborting the epoch).");
        RecordsRefused = factory.CreateCounter(
            "kommune_output_records_refused_total",
            "Output records refused for what they hold (too large, invalid): written again reduced, or dead-lettered in their place.");
        RecordsUnwritten = factory.CreateCounter(
            "kommune_output_records_unwritten_total",
            "Output records that could not be written in any form (dead letters and state): only in the log (events 2010, 2011).");
        Pauses = factory.CreateCounter("kommune_consumer_pauses_total", "Times the consumer paused its partitions because too many events were in flight.");
        StateWritesAsked = factory.CreateCounter(
            "kommune_state_writes_asked_total",
            "Times the consumer was paused by events awaiting commit and the changed state they waited for was written before its checkpoint interval.");
        LostRecords = factory.CreateCounter("kommune_records_lost_total", "Records the broker deleted (retention) before the engine read them.", ["topic"]).WithLabels(topic);
        var commits = factory.CreateCounter("kommune_offset_commits_total", "Consumer offset commits, by result (at-least-once mode).", ["result"]);
        CommitsOk = commits.WithLabels("ok");
        CommitsFailed = commits.WithLabels("failed");
        EpochsCommitted = factory.CreateCounter("kommune_transactions_committed_total", "Epoch transactions committed (exactly-once mode).");
        EpochsAborted = factory.CreateCounter("kommune_transactions_aborted_total", "Epoch transactions aborted, each redone from the last committed state (exactly-once mode).");
        EpochAbortsInARow = factory.CreateGauge("kommune_transaction_aborts_in_a_row", "Epochs aborted since the last one committed (exactly-once mode); /readyz fails at AbortedEpochsBeforeNotReady.");
        PartitionStalled = factory.CreateGauge(
            "kommune_partition_stalled",
            "1 when a partition's committed offset has not moved for StallTimeout while records wait beyond it (then /readyz fails), else 0.",
            ["topic", "partition"]);

        _eventProcessing = factory.CreateHistogram(
            "kommune_event_processing_seconds",
            "From an event's consumption to the broker's acknowledgement of all its outputs.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _ruleEvaluation = factory.CreateHistogram(
            "kommune_rule_evaluation_seconds",
            "One rule handler's run on one event, fact, command or timer.",
            new HistogramConfiguration { LabelNames = ["rule"], Buckets = RuleBuckets });
        _transactionCommit = factory.CreateHistogram(
            "kommune_transaction_commit_seconds",
            "One epoch's transaction commit, offsets included (exactly-once mode).",
            new HistogramConfiguration { Buckets = CommitBuckets });
        _epochSettle = factory.CreateHistogram(
            "kommune_epoch_settle_seconds",
            "How long one epoch held intake before its commit: until every taken event was complete and the engine had written its changed state (exactly-once mode).",
            new HistogramConfiguration { Buckets = CommitBuckets });

        RepartitionDuplicates = factory.CreateCounter(
            "kommune_repartition_duplicates_total",
            "Records of the repartition topic an area had applied already (written again by a sensor partition's new owner after a rebalance or crash), skipped.");
        CommandsForwarded = factory.CreateCounter(
            "kommune_commands_forwarded_total",
            "Operations centres' commands that reached this node, the owner of their alert, through the repartition topic (from whichever node read them).");
        CommandReaderFailures = factory.CreateCounter(
            "kommune_command_reader_failures_total",
            "Times the reader of operations centres' commands failed (its consumer, a command's handling or its dead letter threw) and read on with a new consumer.");
        ConsumerLag = factory.CreateGauge("kommune_consumer_lag_records", "Records after the consumer's position, per assigned partition.", ["topic", "partition"]);
        Processing = factory.CreateGauge("kommune_events_in_flight", "Events taken and still being processed.");
        AwaitingCommit = factory.CreateGauge("kommune_events_uncommitted", "Events taken whose offsets cannot be committed yet (in flight, or waiting for their state).");
        ActiveSensors = factory.CreateGauge("kommune_active_sensor_actors", "Live sensor actors.");
        ActiveAreas = factory.CreateGauge("kommune_active_area_actors", "Live area actors.");
        DormantSensors = factory.CreateGauge("kommune_dormant_sensors", "Sensors kept as their state's bytes, without an actor, until an event, timer, command or hand-over needs them: restored ones, and idle ones that fell asleep.");
        MailboxBacklog = factory.CreateGauge("kommune_mailbox_backlog_messages", "Events handed to the actors and not yet taken by their area's actor.");
        Watermark = factory.CreateGauge("kommune_watermark_timestamp_seconds", "The engine's event-time watermark, Unix seconds (absent until known).");
        WatermarkLag = factory.CreateGauge("kommune_watermark_lag_seconds", "The wall clock minus the watermark, in seconds (absent until known).");
        ProducerQueue = factory.CreateGauge("kommune_producer_queue_records", "Output records produced and not yet acknowledged by the broker.");
        OpenAlerts = factory.CreateGauge("kommune_open_alerts", "Alerts raised and not yet resolved, held by this node.");
        AssignedPartitions = factory.CreateGauge("kommune_assigned_partitions", "Partitions of the sensor-events topic assigned to this node.");
        Ready = factory.CreateGauge("kommune_ready", "1 when the node is ready (/readyz): its partitions are assigned, restored and consumed.");
        factory.CreateGauge("kommune_build_info", "Always 1; the engine's version as a label.", ["version"])
            .WithLabels(typeof(EngineMetrics).Assembly.GetName().Version?.ToString() ?? "unknown").Set(1);
        RulesChanged(rules);
    }

    /// <summary>The registry to export (<c>/metrics</c>).</summary>
    public CollectorRegistry Registry { get; }

    public Counter.Child Consumed { get; }

    public Counter.Child Late { get; }

    public Counter StateWritten { get; }

    public Counter StateRestored { get; }

    public Counter DeliveryFailures { get; }

    public Counter RecordsRefused { get; }

    public Counter RecordsUnwritten { get; }

    public Counter Pauses { get; }

    public Counter StateWritesAsked { get; }

    public Counter.Child LostRecords { get; }

    public Counter.Child CommitsOk { get; }

    public Counter.Child CommitsFailed { get; }

    public Counter EpochsCommitted { get; }

    public Counter EpochsAborted { get; }

    public Gauge EpochAbortsInARow { get; }

    public Gauge PartitionStalled { get; }

    public Counter RepartitionDuplicates { get; }

    public Counter CommandsForwarded { get; }

    public Counter CommandReaderFailures { get; }

    public Gauge ConsumerLag { get; }

    public Gauge Processing { get; }

    public Gauge AwaitingCommit { get; }

    public Gauge ActiveSensors { get; }

    public Gauge ActiveAreas { get; }

    public Gauge DormantSensors { get; }

    public Gauge MailboxBacklog { get; }

    public Gauge Watermark { get; }

    public Gauge WatermarkLag { get; }

    public Gauge ProducerQueue { get; }

    public Gauge OpenAlerts { get; }

    public Gauge AssignedPartitions { get; }

    public Gauge Ready { get; }

    /// <summary>The rules changed: the sensor types they declare (and the built-in ones) are the known types.</summary>
    public void RulesChanged(RuleSet rules)
    {
        var types = new HashSet<string>(StringComparer.Ordinal) { SensorTypes.Fall, SensorTypes.Traffic, SensorTypes.Parking, SensorTypes.Energy };
        foreach (var binding in rules.Bindings)
        {
            types.UnionWith(binding.SensorTypes);
        }

        types.Remove(OtherType);
        Volatile.Write(ref _knownTypes, types.ToFrozenSet(StringComparer.Ordinal));
        foreach (var binding in rules.Bindings)
        {
            // Published at zero, so that a rate or increase over the first failure sees it.
            _ruleFailures.WithLabels(binding.Name);
        }
    }

    /// <summary>An event of <paramref name="type"/> completed.</summary>
    public void EventProcessed(string type)
    {
        if (!_processedByType.TryGetValue(type, out var child))
        {
            child = Volatile.Read(ref _knownTypes).Contains(type)
                ? _processedByType.GetOrAdd(type, t => _processed.WithLabels(_topic, t))
                : _processedOther;
        }

        child.Inc();
    }

    /// <summary>An event's work is done and its outputs acknowledged; it was consumed at <paramref name="consumedAt"/> (<see cref="Stopwatch"/> ticks).</summary>
    public void EventReleased(long consumedAt) => _eventProcessing.Observe(Stopwatch.GetElapsedTime(consumedAt).TotalSeconds);

    public void AlertEmitted(Alert alert) =>
        _alerts.WithLabels(alert.Rule, Lower(alert.Severity), Lower(alert.Status)).Inc();

    public void AggregateEmitted(Aggregate aggregate) => _aggregates.WithLabels(aggregate.Metric).Inc();

    /// <summary>A dead letter the broker acknowledged, counted by its stage and code (chosen where it was made; never its reason text).</summary>
    public void DeadLettered(DeadLetter deadLetter) =>
        _deadLetters.WithLabels(deadLetter.Stage.Label, deadLetter.Code.Label).Inc();

    public void RuleFailed(string rule) => _ruleFailures.WithLabels(rule).Inc();

    public void ActorFailed() => _actorFailures.Inc();

    /// <summary>
    /// A rule's problem, by rule and kind. The kind comes from rule code, not from input, but a plugin could still
    /// pass anything: one that is not a short lowercase word, or beyond 200 distinct (rule, kind) pairs, counts as
    /// <c>other</c>.
    /// </summary>
    public void RuleProblem(string rule, string kind)
    {
        if (!_ruleProblemsByKind.TryGetValue((rule, kind), out var child))
        {
            var label = kind.Length <= 40 && kind.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') && _ruleProblemsByKind.Count < 200 ? kind : OtherType;
            child = _ruleProblemsByKind.GetOrAdd((rule, kind), _ => _ruleProblems.WithLabels(rule, label));
        }

        child.Inc();
    }

    /// <summary>A reload of the rules was applied, or refused.</summary>
    public void RulesReloaded(bool applied) => _ruleReloads.WithLabels(applied ? "applied" : "refused").Inc();

    /// <summary>One binding of an applied reload, by what happens to its state.</summary>
    public void BindingReloaded(BindingChange change) => _reloadBindings.WithLabels(change switch
    {
        BindingChange.NewParameters => "new_parameters",
        _ => Lower(change),
    }).Inc();

    /// <summary>A reload closed an open alert: <c>rule removed</c> or <c>rule state reset</c>.</summary>
    public void AlertClosedByReload(string reason) => _reloadClosedAlerts.WithLabels(reason.Replace(' ', '_')).Inc();

    public void TransactionCommitted(TimeSpan elapsed) => _transactionCommit.Observe(elapsed.TotalSeconds);

    public void EpochSettled(TimeSpan elapsed) => _epochSettle.Observe(elapsed.TotalSeconds);

    /// <inheritdoc />
    public void Evaluated(RuleBinding binding, long elapsedTicks)
    {
        if (!_ruleEvaluationByRule.TryGetValue(binding.Name, out var child))
        {
            child = _ruleEvaluationByRule.GetOrAdd(binding.Name, name => _ruleEvaluation.WithLabels(name));
        }

        child.Observe((double)elapsedTicks / Stopwatch.Frequency);
    }

    private static string Lower<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();
}

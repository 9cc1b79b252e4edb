using System.Diagnostics;
using Akka.Actor;
using System.Globalization;
using Akka.Configuration;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Actors;
using Kommune.Engine.Observability;
using Kommune.Engine.Plugins;
using Kommune.Engine.Reloads;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine;

/// <summary>
/// One engine node: a Kafka consumer in the engine's group, the actor topology (an actor per area, an actor per
/// sensor), the rules, and an idempotent producer for alerts, aggregates and dead letters.
/// </summary>
public sealed partial class KommuneEngine : IAsyncDisposable
{
    /// <summary>The engine's Akka settings (also used by the benchmarks that run its actors).</summary>
    internal static readonly string AkkaConfig = $$"""
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          loggers = ["{{typeof(AkkaLogBridge).FullName}}, {{typeof(AkkaLogBridge).Assembly.GetName().Name}}"]
          log-dead-letters = 10
          log-dead-letters-during-shutdown = off
          actor.default-dispatcher.throughput = 100
          coordinated-shutdown.run-by-clr-shutdown-hook = off
          coordinated-shutdown.exit-clr = off
        }
        {{CompactMailbox.ConfigPath}} {
          mailbox-type = "{{typeof(CompactMailbox).FullName}}, {{typeof(CompactMailbox).Assembly.GetName().Name}}"
        }
        """;

    private readonly EngineOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly EngineMetrics _metrics;
    private readonly EngineCounters _counters;
    private readonly Lock _time = new();
    private readonly SemaphoreSlim _pipeline = new(1, 1);
    private readonly TaskCompletionSource _consumerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WatermarkTracker _watermarks;
    private readonly Dictionary<int, PartitionProgress> _progress = []; // per sensor partition here; under _time
    private readonly bool _timeWrittenWithCommits; // with state: WritePartitionTimeBeforeCommit
    private readonly Dictionary<int, AreaWatermarks> _areaWatermarks = []; // per repartition partition here; under _time
    private readonly HashSet<int> _tasks = []; // the partitions (tasks) this node holds; under _time
    private readonly List<RoutedEvent> _dispatchedEvents = []; // routed by the dispatch, not yet sent (SendDispatched); under _time
    private readonly List<AreaRecord> _dispatchedRecords = []; // the same for the area side; under _time
    private readonly BatchByKey<string, RepartitionRecord> _partsByArea = new(); // an events record's parts by area; under _time
    private DateTimeOffset _reported = DateTimeOffset.MinValue; // the watermark of the last report passed to the area side (written, or held back to be); under _time
    private DateTimeOffset _reportedAt;
    private Dictionary<int, DateTimeOffset?> _lastReport = []; // per sensor partition, what the last report passed said (written, or held back to be); under _time
    private Dictionary<int, long> _lastFloors = []; // and the floors with it; under _time
    private WatermarkReportPacing<WatermarkReport>? _reportPacing; // made for the pipeline's partition count; under _time
    private readonly Lock _reportWriting = new(); // reports are written in the order they were decided; taken before _time
    private IActorRef? _areaRouter;
    private AlertDirectory? _directory;
    private long _appliedProgress = -1; // the consumer's progress version last applied to the watermarks; under _time
    private SourceStatistics _earlierSources = new(0, 0, 0, 0, 0, 0, 0, 0);
    private long _restarts;
    private int _abortsInARow;
    private long _epochsAborted;
    private string? _lastAbort;
    private readonly RuleLoader? _loader;
    private readonly RuleReloads _reloads;
    private readonly Lock _reloading = new();
    private RuleSet _rules;
    private EngineContext? _context;
    private IActorRef? _router;
    private ITimer? _watermarkTimer;
    private DateTimeOffset _announced = DateTimeOffset.MinValue;
    private DateTimeOffset _announcedAt = DateTimeOffset.MinValue;
    private bool _announcePending; // a watermark moved within the interval after the last announcement
    private KafkaOutputSink? _sink;
    private MeteredOutputSink? _outputs;
    private long _earlierDeliveryFailures;
    private long _earlierRefused;
    private long _earlierUnwritten;
    private long _earlierCommandReaderFailures;
    private readonly RefusedRecords _refusals = new();
    private readonly StateChunkLedger _stateChunks = new();
    private KafkaEventSource? _source;
#pragma warning disable CA1859 // The engine knows the restorer by its contract; its Kafka client is the connector's.
    private IStateRestorer? _restorer;
#pragma warning restore CA1859
    private readonly HashSet<int> _statePartitionsNotRestored = []; // restore timed out: not all their keys are here; under _time
    private readonly Dictionary<int, PartitionRestore> _restoring = []; // tasks whose state is being restored, by the restore; under _time
    private readonly List<PartitionRestore> _restores = []; // restores running; under _time
    private KafkaCommandSource? _commands;
    private ActorSystem? _actors;
    private Task? _dispatch;
    private int _state; // a Lifecycle, as an int for Interlocked; read and moved through State, TryMove and MoveTo

    /// <summary>Creates an engine; <see cref="StartAsync"/> connects it.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="loggerFactory">Where logs go.</param>
    /// <param name="rules">
    /// The rules to run; when null, the rules file and plugins of <paramref name="options"/> (every built-in
    /// municipal rule when there is no rules file), which <see cref="ReloadRules"/> reloads.
    /// </param>
    /// <exception cref="RulesFileException">The rules file has mistakes; the message lists them all.</exception>
    /// <param name="clock">The wall clock: event times are checked against it and processing-time timers follow it; the system clock when null.</param>
    internal KommuneEngine(EngineOptions options, ILoggerFactory loggerFactory, RuleSet? rules = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _options = options;
        _timeWrittenWithCommits = options.PersistState;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<KommuneEngine>();
        _metrics = new EngineMetrics(options.ToKafkaTopics().SensorEvents, RuleSet.Empty);
        _counters = new EngineCounters(_metrics);
        _metrics.Registry.AddBeforeCollectCallback(CollectMetrics);
        if (rules is null)
        {
            _loader = new RuleLoader(options.RulesFile, options.PluginsFolder, loggerFactory.CreateLogger<RuleLoader>());
            try
            {
                var loaded = _loader.Load();
                _counters.PluginsFailed(loaded.PluginFailures);
                rules = loaded.Rules;
            }
            catch
            {
                _loader.Dispose();
                throw;
            }
        }

        _rules = rules;
        _metrics.RulesChanged(rules);
        _clock = clock ?? TimeProvider.System;
        _reloads = new RuleReloads(loggerFactory.CreateLogger<RuleReloads>(), _metrics, _clock);
        _watermarks = new WatermarkTracker(options.ToEventTimeSettings());
        KafkaClients = options.ToKafkaClientSettings();
    }

    /// <summary>
    /// The librdkafka settings from the options, which every Kafka client of the engine is made with (tests replace
    /// them before the start with ones that record each client's configuration).
    /// </summary>
    internal KafkaClientSettings KafkaClients { get; set; }

    /// <summary>Completes once this node has been assigned its first partitions.</summary>
    public Task Assigned => _source?.Assigned ?? throw new InvalidOperationException("The engine has not started.");

    /// <summary>
    /// Completes when the consumer has stopped and committed (during <see cref="StopAsync"/>); faults if the consume
    /// loop failed, after which the engine takes no more events and should be restarted.
    /// </summary>
    public Task ConsumerCompletion => _source is null ? throw new InvalidOperationException("The engine has not started.") : _consumerEnded.Task;

    /// <summary>What the engine has done so far.</summary>
    public EngineStatistics Statistics => StatisticsOf(SourceTotals);

    /// <summary>The consumer's counts over every run of the pipeline (a restart starts a new consumer).</summary>
    private SourceStatistics SourceTotals => _earlierSources.Add(_source?.Statistics ?? new SourceStatistics(0, 0, 0, 0, 0, 0, 0, 0));

    private EngineStatistics StatisticsOf(SourceStatistics source) => new()
    {
        Consumed = source.Consumed,
        LostRecords = source.LostRecords,
        AssignedPartitions = source.AssignedPartitions,
        LateEvents = _counters.LateEvents,
        Watermark = Watermark,
        Processed = _counters.Processed,
        Processing = source.Processing,
        PeakProcessing = source.PeakProcessing,
        PeakAwaitingCommit = source.PeakAwaitingCommit,
        Pauses = source.Pauses,
        StateWritesAsked = source.StateWritesAsked,
        ActiveSensors = _counters.ActiveSensors,
        ActiveAreas = _counters.ActiveAreas,
        DormantSensors = _counters.DormantSensors,
        Alerts = _counters.Alerts,
        Aggregates = _counters.Aggregates,
        DeadLettered = source.DeadLettered + _counters.RuleDeadLetters + _counters.LateEvents + (_commands?.Refused ?? 0),
        RuleFailures = _counters.RuleFailures,
        PluginFailures = _counters.PluginFailures,
        RuleReloads = _counters.RuleReloads,
        Commands = _commands?.Handled ?? 0,
        CommandsRefused = _commands?.Refused ?? 0,
        CommandReaderFailures = _earlierCommandReaderFailures + (_commands?.Failures ?? 0),
        StateWritten = _counters.StateWritten,
        StateRestored = _counters.StateRestored,
        EpochsCommitted = source.EpochsCommitted,
        Restarts = Interlocked.Read(ref _restarts),
    };

    /// <summary>The engine's event-time watermark: the minimum over active partitions of newest event time minus the out-of-orderness bound.</summary>
    public DateTimeOffset Watermark
    {
        get
        {
            lock (_time)
            {
                return _watermarks.Watermark;
            }
        }
    }

    /// <summary>The rules running now.</summary>
    internal RuleSet Rules => _context?.Rules ?? _rules;

    /// <summary>
    /// Switches to new rules without a restart. Every sensor and area carries each binding's state, timers and open
    /// alerts as <see cref="RuleReload"/> says (kept, kept with new parameters, migrated); state that cannot be carried,
    /// and that of removed bindings, is dropped and its open alerts closed with a record each. The plan, and then what
    /// every key did, are logged.
    /// </summary>
    internal void ApplyRules(RuleSet rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        if (_context is null || _router is null)
        {
            _rules = rules;
            return;
        }

        lock (_reloading)
        {
            // The plan compares with the rules running now: reloads (the watcher's, SIGHUP's) go one at a time.
            var progress = _reloads.Begin(_context.Rules, rules);
            _rules = rules; // a pipeline restarted after an aborted epoch runs these too
            _context.Install(rules, progress);
            _metrics.RulesChanged(rules);
            _counters.RulesReloaded();
            // The sensor side's router and the area side's each take a share.
            progress?.Expect(1);
            _router.Tell(new RulesChanged(rules, progress), ActorRefs.NoSender);
            _areaRouter!.Tell(new RulesChanged(rules, progress), ActorRefs.NoSender);
        }
        LogRulesApplied(_logger, rules.Bindings.Count);
    }

    /// <summary>
    /// Reloads the rules file and plugins given in the options and applies them (see <see cref="ApplyRules"/>). A
    /// rules file with mistakes changes nothing: the mistakes are logged and false is returned.
    /// </summary>
    /// <exception cref="InvalidOperationException">The engine was given its rules directly, not from options.</exception>
    public bool ReloadRules()
    {
        if (_loader is null)
        {
            throw new InvalidOperationException("This engine was given its rules directly; use ApplyRules.");
        }

        try
        {
            var loaded = _loader.Load();
            _counters.PluginsFailed(loaded.PluginFailures);
            ApplyRules(loaded.Rules);
            return true;
        }
        catch (RulesFileException e)
        {
            _reloads.Refused();
            LogReloadRefused(_logger, e.Message);
            return false;
        }
    }

    /// <summary>Where an engine is in its life: it starts once and stops once.</summary>
    private enum Lifecycle
    {
        /// <summary>Made, not started.</summary>
        New,

        /// <summary>Started: consuming, or restarting its pipeline after an aborted epoch.</summary>
        Started,

        /// <summary>Stopped, or stopping (it does not start again).</summary>
        Stopped,
    }

    private Lifecycle State => (Lifecycle)Volatile.Read(ref _state);

    /// <summary>Moves from <paramref name="from"/> to <paramref name="to"/>, if the engine is still in <paramref name="from"/>.</summary>
    private bool TryMove(Lifecycle from, Lifecycle to) => Interlocked.CompareExchange(ref _state, (int)to, (int)from) == (int)from;

    /// <summary>Moves to <paramref name="to"/> from wherever it was; where it was.</summary>
    private Lifecycle MoveTo(Lifecycle to) => (Lifecycle)Interlocked.Exchange(ref _state, (int)to);

    /// <summary>Starts the producer, the actors and the consumer. Returns without waiting for partitions.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (!TryMove(Lifecycle.New, Lifecycle.Started))
        {
            throw new InvalidOperationException("An engine starts once.");
        }

        if (!KafkaClients.IsEmpty)
        {
            LogKafkaClientSettings(_logger, KafkaClients);
            try
            {
                // librdkafka checks its settings when a client is built: a mistake stops the start here, with its
                // message, rather than later on a consumer's thread.
                KafkaClients.ThrowIfRefusedByClient(_options.BootstrapServers);
            }
            catch (ArgumentException)
            {
                _loader?.Dispose();
                MoveTo(Lifecycle.Stopped); // nothing was started: a stop has nothing to do
                throw;
            }
        }

        StartPipeline();
        LogStarted(_logger, _options.BootstrapServers, _options.Topics.SensorEvents, _options.GroupId, _options.EffectiveNodeId,
            _options.StaticMembership ? "static member" : "dynamic member");
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: no new records, events in flight finish (up to the shutdown timeout), done offsets are
    /// committed (in exactly-once mode: the last epoch's transaction), outputs are flushed, then the actors stop.
    /// </summary>
    /// <param name="cancellationToken">The deadline of the whole stop: when it passes, the stop is left unfinished.</param>
    /// <exception cref="TimeoutException">The stop did not finish before <paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var previous = MoveTo(Lifecycle.Stopped);
        if (previous != Lifecycle.Started)
        {
            if (previous == Lifecycle.New)
            {
                _loader?.Dispose();
            }

            return;
        }

        LogStopping(_logger, _source!.Statistics.Processing, _options.ShutdownTimeout.TotalSeconds);
        await _pipeline.WaitAsync(CancellationToken.None);
        try
        {
            int unsent;
            try
            {
                unsent = await StopPipelineAsync(_options.ShutdownTimeout).WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // A Kafka client that does not answer (a close or a commit waiting on a broker) must not hold the
                // process for good: what was not committed is consumed again by the partitions' next owner.
                LogStopUnfinished(_logger);
                throw new TimeoutException("The engine's stop did not finish before the shutdown deadline; events not committed are processed again by the next owner.");
            }

            _loader?.Dispose();
            _consumerEnded.TrySetResult();
            LogStopped(_logger, Statistics.Processed, unsent);
        }
        finally
        {
            _pipeline.Release();
        }
    }

    /// <summary>Stops the engine.</summary>
    public async ValueTask DisposeAsync() => await StopAsync();

    private static readonly TimeSpan WatermarkRefresh = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan AnnounceInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan WatermarkReportInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CommandLookupTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Creates the producer, the actors, the state restorer and the consumers: everything one run of the node needs.</summary>
    private void StartPipeline()
    {
        var topics = _options.ToKafkaTopics();
        var exactlyOnce = _options.ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce;
        _sink = new KafkaOutputSink(
            new KafkaSinkOptions
            {
                BootstrapServers = _options.BootstrapServers,
                ClientSettings = KafkaClients,
                Topics = topics,
                Linger = _options.ProducerLinger,
                TransactionalId = exactlyOnce ? _options.EffectiveTransactionalId : null,
                Refusals = _refusals,
                StateChunks = _stateChunks,
            },
            _loggerFactory.CreateLogger<KafkaOutputSink>());
        _actors = ActorSystem.Create("kommune", BootstrapSetup.Create().WithConfig(ConfigurationFactory.ParseString(AkkaConfig)).And(new AkkaLogSetup(_loggerFactory)));
        // Akka's scheduler starts its timer thread on first use and blocks the caller until it runs. If that first
        // use is thousands of new sensor actors setting their idle timeouts at once on the thread pool, they can
        // starve the very thread they wait for. Start it here, off the pool.
        _actors.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });
        var outputs = _outputs = new MeteredOutputSink(_sink, _metrics);
        var context = _context = new EngineContext(outputs, _counters, _options, _clock, _rules, _loggerFactory.CreateLogger("Kommune.Engine.Rules"))
        {
            RuleTimings = _metrics,
            Reloads = _reloads,
            // Exactly-once: state is written when the epoch asks (EngineContext.StateWrittenByEpochs), so no clock ticks.
            Checkpoints = exactlyOnce ? null : new CheckpointClock(_actors.Scheduler, _options.StateInterval),
        };
        using (var metadata = new KafkaTopicMetadata(_options.BootstrapServers, KafkaClients))
        {
            _context.TaskPartitions = metadata.PartitionCount(topics.SensorEvents) is { } tasks and > 0 ? tasks : _options.Partitions;
            CheckRepartitionTopic(metadata, topics, _context.TaskPartitions);
            if (_options.PersistState)
            {
                _restorer = new KafkaStateRestorer(_options.BootstrapServers, KafkaClients, topics.State, _options.StateRestoreTimeout, _stateChunks, _loggerFactory.CreateLogger<KafkaStateRestorer>());
                _context.StatePartitions = _restorer.Partitions(metadata);
            }
        }

        var router = _router = _actors.ActorOf(EventRouterActor.Props(_context), "areas");
        _areaRouter = _actors.ActorOf(AreaRulesRouterActor.Props(_context), "area-rules");
        _directory = new AlertDirectory(_options.BootstrapServers, KafkaClients, topics.Alerts, _loggerFactory.CreateLogger<AlertDirectory>());
        _directory.Start();
        var source = _source = new KafkaEventSource(
            new KafkaSourceOptions
            {
                BootstrapServers = _options.BootstrapServers,
                ClientSettings = KafkaClients,
                GroupId = _options.GroupId,
                GroupInstanceId = _options.StaticMembership ? _options.EffectiveNodeId : null,
                Topics = topics,
                MaxInFlightEvents = _options.MaxInFlightEvents,
                MaxEventsAwaitingCommit = _options.EffectiveMaxEventsAwaitingCommit,
                ValuesWanted = (areaId, type) => RuleInterest.AnyRuleWants(Rules, areaId, type),
                CommitInterval = _options.CommitInterval,
                SessionTimeout = _options.SessionTimeout,
                StallTimeout = _options.StallTimeout,
                IdlePartitionTimeout = _options.IdlePartitionTimeout,
                HandOverTimeout = _options.HandOverTimeout,
                Limits = _options.ToLimits(),
                OnPartitionsAssigned = PartitionsAssigned,
                OnPartitionsRevoked = PartitionsRevoked,
                Transactions = exactlyOnce
                    ? new SourceTransactions
                    {
                        Committer = _sink,
                        Committed = _metrics.TransactionCommitted,
                        HeldIntake = _metrics.EpochSettled,
                        Settled = () => context.Settled,
                    }
                    : null,
                // Off the consume thread: a node may hold a hundred thousand keys with unwritten state.
                WriteStateNow = _options.PersistState ? () => ThreadPool.UnsafeQueueUserWorkItem(_ => context.WriteStateNow(), null) : null,
                WriteBeforeCommit = _timeWrittenWithCommits ? WritePartitionTimeBeforeCommit : null,
            },
            outputs,
            _clock,
            _loggerFactory.CreateLogger<KafkaEventSource>());
        _dispatch = DispatchAsync(source, router);
        _watermarkTimer = _clock.CreateTimer(_ => RefreshWatermark(), null, WatermarkRefresh, WatermarkRefresh);
        source.Start();
        _ = source.Completion.ContinueWith(SourceEnded, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _commands = new KafkaCommandSource(
            new KafkaCommandSourceOptions
            {
                BootstrapServers = _options.BootstrapServers,
                ClientSettings = KafkaClients,
                GroupId = _options.GroupId + "-acks",
                Topic = topics.Acks,
                Handle = HandleCommandAsync,
                SessionTimeout = _options.SessionTimeout,
            },
            outputs,
            _loggerFactory.CreateLogger<KafkaCommandSource>());
        _commands.Start();
    }

    /// <summary>Stops the consumers (draining for up to <paramref name="drain"/>), the actors and the producer.</summary>
    /// <returns>How many outputs were still unacknowledged.</returns>
    private async Task<int> StopPipelineAsync(TimeSpan drain)
    {
        _commands?.Stop();
        try
        {
            await _source!.StopAsync(drain);
        }
#pragma warning disable CA1031 // Stopping goes on whatever the consumer's end was; the failure is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (e is not EpochAbortedException)
            {
                LogStopFailed(_logger, e);
            }
        }

        await _dispatch!;
        await StopRestoresAsync();
        _watermarkTimer?.Dispose();
        _directory?.Dispose();
        // The actors stop first (each finishes the message it is on: an area's timers can emit a burst), then
        // everything they sent is flushed, records still waiting for room in the producer's queue included.
        await _actors!.Terminate();
        _context?.Checkpoints?.Dispose();
        var unsent = _sink!.Flush(TimeSpan.FromSeconds(10));
        _sink.Dispose();
        _commands?.Dispose();
        return unsent;
    }

    /// <summary>Stops the restores still running (their partitions are not read any more) and waits for their threads.</summary>
    private async Task StopRestoresAsync()
    {
        List<Task> running;
        lock (_time)
        {
            foreach (var restore in _restores)
            {
                restore.Cancel.Cancel();
            }

            running = [.. _restores.Select(r => r.Running).OfType<Task>()];
        }

        await Task.WhenAll(running);
    }

    private void SourceEnded(Task ended)
    {
        if (!ended.IsFaulted)
        {
            return; // stopped: StopAsync completes the consumer's task
        }

        if (ended.Exception!.InnerException is EpochAbortedException aborted && State == Lifecycle.Started)
        {
            Interlocked.Increment(ref _epochsAborted);
            Interlocked.Increment(ref _abortsInARow);
            Volatile.Write(ref _lastAbort, aborted.Message);
            _ = RestartPipelineAsync();
            return;
        }

        _consumerEnded.TrySetException(ended.Exception.InnerExceptions);
    }

    /// <summary>
    /// After an aborted epoch: the actors' state holds effects the aborted transaction took back, so everything goes and
    /// starts again, exactly as after a restart of the process: state restored from the state topic, consumption resumed
    /// at the committed offsets, a new producer with the same transactional.id.
    /// </summary>
    private async Task RestartPipelineAsync()
    {
        await _pipeline.WaitAsync(CancellationToken.None);
        try
        {
            if (State != Lifecycle.Started)
            {
                return;
            }

            LogRestarting(_logger);
            var before = _source!.Statistics;
            await StopPipelineAsync(TimeSpan.Zero);
            _earlierSources = _earlierSources.Add(before);
            _earlierDeliveryFailures += _sink!.FailedDeliveries;
            _earlierRefused += _sink.Refused;
            _earlierUnwritten += _sink.Unwritten;
            _earlierCommandReaderFailures += _commands?.Failures ?? 0;
            lock (_time)
            {
                // As in a new process: watermarks start over, or replayed events would be judged against the aborted epoch's.
                _watermarks = new WatermarkTracker(_options.ToEventTimeSettings());
                _progress.Clear();
                _areaWatermarks.Clear();
                _tasks.Clear(); // the new pipeline's consumer is assigned them again
                _restoring.Clear();
                _reported = DateTimeOffset.MinValue;
                _lastReport = [];
                _lastFloors = [];
                _reportPacing = null;
                _appliedProgress = -1;
                _announced = DateTimeOffset.MinValue;
                _announcedAt = DateTimeOffset.MinValue;
            }

            Interlocked.Increment(ref _restarts);
            StartPipeline();
        }
#pragma warning disable CA1031 // A restart that fails leaves the node without a consumer: report it as the consumer's failure.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogRestartFailed(_logger, e);
            _consumerEnded.TrySetException(e);
        }
        finally
        {
            _pipeline.Release();
        }
    }

    private async Task DispatchAsync(KafkaEventSource source, IActorRef router)
    {
        try
        {
            await foreach (var batch in source.Events.ReadAllAsync())
            {
                // The batch under one hold of the lock, so that what it routes is sent before anything else the lock
                // orders (a watermark, a hand-over, a restore) can be told to the actors.
                lock (_time)
                {
                    try
                    {
                        foreach (var consumed in batch)
                        {
                            if (consumed is ConsumedEvent sensorEvent)
                            {
                                Dispatch(sensorEvent, router);
                            }
                            else
                            {
                                DispatchInternal((ConsumedRepartitionRecord)consumed);
                            }
                        }
                    }
                    finally
                    {
                        SendDispatched(); // what was routed goes on, even if a record after it failed the dispatch
                    }
                }
            }
        }
        catch (Exception) when (source.Events.Completion.IsFaulted)
        {
            // The consume loop failed; it logged why, and StopAsync reports it.
        }
    }

    /// <summary>
    /// Judges an event against the watermark (too late: dead letter), moves the partition's watermark, and routes the
    /// event with the watermark it arrived under. Under one lock with the watermark announcements, so every actor
    /// sees events and watermarks in dispatch order.
    /// </summary>
    private void Dispatch(ConsumedEvent consumed, IActorRef router)
    {
        var now = _clock.GetUtcNow();
        lock (_time)
        {
            ApplyProgress();
            var partition = consumed.Source.Partition;
            if (!_tasks.Contains(partition))
            {
                // Read before its partition was handed over, taken from the channel after: the new owner reads it again.
                // Given up, not completed: a commit of the revoked partition must not move past an event not done.
                consumed.Abandon();
                return;
            }

            var progress = _progress[partition];
            var offset = consumed.Source.Offset;
            progress.Judged(offset);
            var eventTime = consumed.Event.Timestamp;
            if (_watermarks.IsLate(partition, eventTime, now))
            {
                SendLate(consumed, _watermarks.WatermarkOf(partition, now));
                return;
            }

            var watermark = _watermarks.WatermarkOf(partition, now);
            var advanced = _watermarks.Observe(partition, eventTime, now, out var own) | _watermarks.WatermarkOf(partition, now) > watermark;
            if (_timeWrittenWithCommits)
            {
                progress.WatermarkAfter(offset, own);
            }

            if (RuleInterest.AnyRuleWants(Rules, consumed.Event))
            {
                _counters.EventRouted();
                _dispatchedEvents.Add(new RoutedEvent(consumed, watermark, _counters));
            }
            else
            {
                // No rule takes this type in this area (the area's actor would drop it): done here, without two actor messages.
                new EventCompletion(consumed, _counters).Done();
            }

            if (advanced)
            {
                if (now - _announcedAt >= AnnounceInterval)
                {
                    Announce(router, now);
                }
                else
                {
                    _announcePending = true;
                }
            }
        }
    }

    /// <summary>
    /// A record of the repartition topic, on the area side: a watermark record moves its partition's area watermark; an
    /// event or fact goes to its area's rules with that watermark (or, too far behind it, to the dead letters as late);
    /// a forwarded command goes to the sensor or area here that holds its alert.
    /// </summary>
    private void DispatchInternal(ConsumedRepartitionRecord consumed)
    {
        var record = consumed.Record;
        var partition = consumed.Source.Partition;
        if (record.Kind == RepartitionKind.Command)
        {
            SendDispatched(); // after the records before it: the alert it is for may be raised by one of them
            ApplyCommand(consumed);
            return;
        }

        lock (_time)
        {
            if (!_tasks.Contains(partition))
            {
                consumed.Abandon(); // read before its partition was handed over: the new owner reads it again
                return;
            }

            if (!_areaWatermarks.TryGetValue(partition, out var area))
            {
                area = _areaWatermarks[partition] = new AreaWatermarks(_context!.TaskPartitions);
            }

            if (record.Kind == RepartitionKind.Watermark)
            {
                area.RaiseFloors(record.Floors);
                if (area.Report(record.Watermarks!))
                {
                    SendDispatched(); // the records dispatched under the old watermark first
                    // Completed once what the areas send on it is acknowledged: a crash before then reads it again.
                    _areaRouter!.Tell(new AreaWatermarkAdvanced(partition, area.Watermark, new EventCompletion(consumed, _counters)), ActorRefs.NoSender);
                }
                else
                {
                    consumed.Complete();
                }

                return;
            }

            if (record.Kind == RepartitionKind.Events)
            {
                // Several events of one dispatch batch (AreaSideRecords): one area record per area of them, each with that
                // area's events in the record's order; the record completes when all of them have.
                var parent = new EventCompletion(consumed, _counters);
                try
                {
                    foreach (var part in record.Parts!)
                    {
                        _partsByArea.Add(part.Event!.AreaId, part);
                    }

                    foreach (var (_, group) in _partsByArea.Groups)
                    {
                        parent.Add();
                        _dispatchedRecords.Add(new AreaRecord(consumed, area.Watermark, _counters, area.Floors, [.. group], parent));
                    }
                }
                finally
                {
                    _partsByArea.Clear();
                }

                parent.Done();
                return;
            }

            // The area's rules judge whether it is too late, once they know it is not one they already applied.
            _dispatchedRecords.Add(new AreaRecord(consumed, area.Watermark, _counters, area.Floors));
        }
    }

    /// <summary>Applies a command to an alert this node holds, without the repartition topic; the refusal, if any.</summary>
    private Task<string?> ApplyHereAsync(AlertCommand command, AlertOwner owner, string area)
    {
        var done = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _router!.Tell(new CommandMessage(command, owner.Key, area, done), ActorRefs.NoSender);
        return done.Task;
    }

    /// <summary>A command forwarded here, where its alert's owner lives: applied, or dead-lettered with why not.</summary>
    private void ApplyCommand(ConsumedRepartitionRecord consumed)
    {
        var record = consumed.Record;
        var owner = record.Owner!;
        var done = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (owner.IsArea)
        {
            _areaRouter!.Tell(new CommandMessage(record.Command!, null, owner.Key, done), ActorRefs.NoSender);
        }
        else
        {
            _router!.Tell(new CommandMessage(record.Command!, owner.Key, record.OwnerArea!, done), ActorRefs.NoSender);
        }

        _counters.CommandForwarded();
        done.Task.ContinueWith(
            t =>
            {
                if (t.Result is not { } refused)
                {
                    _counters.CommandApplied();
                    consumed.Complete();
                    return;
                }

                var source = record.CommandSource!.Value;
                _counters.CommandRefused();
                _outputs!.Send(new DeadLetter(source.Key, source.Value, source.Topic, source.Partition, source.Offset, refused, DeadLetterCode.CommandRefused), () => consumed.Complete());
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// An operations centre's command, read from the acks topic by this node: forwarded to the partition of the
    /// repartition topic where its alert's owner lives (this node or another), which applies it. An alert not open
    /// anywhere is refused here.
    /// </summary>
    private async Task<string?> HandleCommandAsync(AlertCommand command, RecordSource source, CancellationToken cancellationToken)
    {
        var (owner, area) = await FindOpenAlertAsync(command.AlertId, cancellationToken);
        if (owner is null)
        {
            return _reloads.Closed.NotOpen(command.AlertId);
        }

        if (owner.Partition < 0)
        {
            // Raised before alert records named their owner's partition: an area's is known; a sensor's only when this
            // node holds it, which then applies the command itself.
            if (!owner.IsArea)
            {
                return _context!.OpenAlerts.ContainsKey(command.AlertId)
                    ? await ApplyHereAsync(command, owner, area)
                    : $"no open alert '{command.AlertId}' on this node, and its record (written by an older version) does not say which node holds it";
            }

            owner = owner with { Partition = _context!.AreaTask(owner.Key) };
        }

        var forwarded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outputs!.Send(owner.Partition, RepartitionCodec.Command(source.Key, source.Value, owner, area, source), forwarded.SetResult);
        await forwarded.Task.WaitAsync(cancellationToken);
        if (_sink is { IsTransactional: true } sink)
        {
            // Exactly-once: the command is forwarded when the transaction holding it commits. If it aborts, the command
            // waits for the restart to stop this reader, so its offset is not committed and it is read again.
            try
            {
                await sink.OpenTransaction.WaitAsync(cancellationToken);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }

        return null;
    }

    /// <summary>
    /// This node now processes these partitions (tasks): their sensors and the areas whose repartition partition they
    /// are. Each is read once the state of its keys is restored (sensors to the sensor side, areas to the area side):
    /// the restore runs on its own thread, a state partition at a time, and each partition is ready as soon as its own
    /// state partition is (as Kafka Streams starts each task once its changelogs are restored), so neither the partitions
    /// this node already had nor those restored first wait for the rest. Until then a partition holds event time back.
    /// </summary>
    private void PartitionsAssigned(AssignedPartitions assignment)
    {
        var starts = assignment.Starts;
        var partitions = starts.Keys.ToList();
        var now = _clock.GetUtcNow();
        var job = _restorer is not null && _context is { StatePartitions: > 0 } && _router is not null && _areaRouter is not null
            ? new PartitionRestore(assignment)
            : null;
        if (job is not null)
        {
            // Its thread is known before the restore is registered: a stop in between waits for it too.
            job.Running = new Task(() => Restore(job), TaskCreationOptions.LongRunning);
        }

        lock (_time)
        {
            foreach (var partition in partitions)
            {
                _tasks.Add(partition);
                _watermarks.Assign(partition, now); // assigned again with what its restore found (PartitionRestored)
                _progress[partition] = new PartitionProgress(starts[partition], null);
                _areaWatermarks[partition] = new AreaWatermarks(_context!.TaskPartitions);
                if (job is not null)
                {
                    _restoring[partition] = job;
                }
            }

            if (job is not null)
            {
                _restores.Add(job);
            }
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            var taken = string.Join(", ", partitions.Order());
            LogTasks(_logger, taken, "taken");
        }

        if (job is null)
        {
            assignment.Ready(partitions);
            return;
        }

        job.Running!.Start(TaskScheduler.Default);
    }

    /// <summary>
    /// Reads the state partitions of a restore's tasks, on its own thread; each one done is handed to the actors and
    /// its tasks made ready (<see cref="PartitionRestored"/>). A failure to read fails the consume loop: its partitions
    /// could never be read with their state.
    /// </summary>
    private void Restore(PartitionRestore job)
    {
        var context = _context!;
        var tasks = job.Tasks;
        var statePartitions = tasks.Select(p => p % context.StatePartitions).Distinct().ToList();
        var unfinished = new List<int>();
        try
        {
            _restorer!.Restore(statePartitions, restoredState => RestoredStateDecoder.Take(restoredState, (header, snapshot, state) =>
            {
                var covers = state.Covers;
                var restore = new RestoreState(header, snapshot, state.Value, state.Partition, covers, state.Origins, state.BaseSlot);
                if (header.Scope == Kommune.Rules.Api.RuleScope.Area)
                {
                    var areaTask = context.AreaTask(header.Key);
                    if (tasks.Contains(areaTask))
                    {
                        job.Add(new RestoredKey(restore, areaTask, []));
                        return true;
                    }
                }
                else if (covers.Count == 0 || covers.Keys.Any(tasks.Contains))
                {
                    var mine = covers.Keys.Where(tasks.Contains).ToList();
                    foreach (var partition in mine)
                    {
                        job.Resumed.Add(partition);
                        if (header.LastEventTime > job.RestoredUpTo.GetValueOrDefault(partition, DateTimeOffset.MinValue))
                        {
                            job.RestoredUpTo[partition] = header.LastEventTime;
                        }
                    }

                    job.Add(new RestoredKey(restore, null, mine));
                    return true;
                }

                return false; // another task's key in a shared state partition
            },
            (partition, time) =>
            {
                // Written with each commit and at each hand-over, each with the partition's time as of its offset. One
                // whose offset consumption resumes at or after is a time every event before it made (none is read again
                // to make it twice): the latest such is where the partition starts. Not one past where it resumes: the
                // events read again must not be judged by a watermark they made.
                if (tasks.Contains(partition) && time.Next >= 0 && job.Assignment.Starts[partition] >= time.Next
                    && time.Watermark > job.PartitionTimes.GetValueOrDefault(partition, DateTimeOffset.MinValue))
                {
                    job.PartitionTimes[partition] = time.Watermark;
                }
            }), statePartition => PartitionRestored(job, statePartition, whole: true), unfinished, job.Cancel.Token);

            foreach (var statePartition in unfinished)
            {
                PartitionRestored(job, statePartition, whole: false); // gone on without the rest of its keys (logged)
            }
        }
#pragma warning disable CA1031 // Whatever stopped the restore, the consume loop fails with it: its partitions are never read without their state.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogRestoreFailed(_logger, e);
            job.Assignment.Fail(e);
        }
        finally
        {
            lock (_time)
            {
                _restores.Remove(job);
            }
        }
    }

    /// <summary>
    /// A state partition of a restore is read (<paramref name="whole"/>, or as far as the restore's timeout let it): its
    /// keys go to their actors, and its tasks still waiting for this restore take the time it found and are ready. Under
    /// <see cref="_time"/>, so a hand-over of those tasks comes wholly before (and then none of this is told) or after.
    /// </summary>
    private void PartitionRestored(PartitionRestore job, int statePartition, bool whole)
    {
        var context = _context!;
        var keys = job.TakeKeys(statePartition);
        var ready = new List<int>();
        var taken = 0;
        var now = _clock.GetUtcNow();
        lock (_time)
        {
            bool Waiting(int task) => _restoring.TryGetValue(task, out var restore) && ReferenceEquals(restore, job);
            var anyWaiting = TasksOf(statePartition, context).Any(Waiting);
            foreach (var key in keys)
            {
                var wanted = key.AreaTask is { } areaTask ? Waiting(areaTask) : anyWaiting && (key.Tasks.Count == 0 || key.Tasks.Any(Waiting));
                if (wanted)
                {
                    (key.AreaTask is null ? _router! : _areaRouter!).Tell(key.State);
                    taken++;
                }
            }

            foreach (var task in TasksOf(statePartition, context).Where(Waiting))
            {
                _restoring.Remove(task);
                DateTimeOffset? from = job.PartitionTimes.TryGetValue(task, out var time) ? time : null;
                _watermarks.Remove(task);
                _watermarks.Assign(task, now, job.Resumed.Contains(task), from, job.RestoredUpTo.TryGetValue(task, out var newest) ? newest : null);
                _progress[task] = new PartitionProgress(job.Assignment.Starts[task], from);
                ready.Add(task);
            }

            if (anyWaiting && !whole)
            {
                _statePartitionsNotRestored.Add(statePartition); // its keys are not all here: never marked as handed over whole
            }
            else if (anyWaiting)
            {
                _statePartitionsNotRestored.Remove(statePartition);
            }
        }

        _counters.StatesRestored(taken);
        job.Assignment.Ready(ready);
    }

    /// <summary>
    /// These partitions go to another node. Every sensor and area actor of them finishes, writes its state (unless the
    /// partitions were lost: another node has them already) and stops, so no timer of theirs fires here afterwards;
    /// waits for that (at most <see cref="EngineOptions.HandOverTimeout"/>).
    /// </summary>
    private void PartitionsRevoked(IReadOnlyList<int> partitions, bool lost)
    {
        var released = new ManualResetEventSlim();
        var countdown = new Countdown(released.Set);
        var set = partitions.ToHashSet();
        var routers = (_router, _areaRouter);
        var marks = lost ? null : HandOverMarksFrom(set); // before the keys write: where their state partitions end now
        var whole = marks is { Count: > 0 } ? new WholeStateHandOver() : null;
        var refusedBefore = RefusedOrUnwritten(); // a state the broker refuses during the hand-over: no marks
        Dictionary<int, PartitionTime>? times = null; // what to hand over with them
        lock (_time)
        {
            // From now on nothing is reported for them (their keys stop before a later watermark reaches them: a report
            // would claim timers fired that will fire on the new owner), and records of them still coming are not routed.
            foreach (var partition in partitions)
            {
                // Up to the newest event judged here, or, when none was, up to where this node started it (a partition
                // it was handed over with a time and got no event of).
                var next = _progress.Remove(partition, out var progress) ? progress.NextToJudge : -1;
                if (!lost && _watermarks.PartitionWatermarkOf(partition) is { } own && next >= 0)
                {
                    (times ??= [])[partition] = new PartitionTime(own, next);
                }

                _tasks.Remove(partition);
                _watermarks.Remove(partition);
                _restoring.Remove(partition); // what its restore reads of it from now on is not told to the actors
            }

            foreach (var restore in _restores)
            {
                if (!_restoring.ContainsValue(restore))
                {
                    restore.Cancel.Cancel(); // none of its tasks is here any more
                }
            }

            // Told under the lock: no watermark announced without them (which may be ahead of theirs) overtakes it.
            if (routers is ({ } sensors, { } areas))
            {
                countdown.Add(); // one part for each router, each released by it once its children have theirs
                sensors.Tell(new ReleasePartitions(set, lost, countdown, whole));
                areas.Tell(new ReleasePartitions(set, lost, countdown, whole));
            }
        }

        var handedOver = Stopwatch.StartNew();
        if (routers is ({ }, { }))
        {
            if (!released.Wait(_options.HandOverTimeout))
            {
                LogHandOverIncomplete(_logger, string.Join(", ", partitions.Order()), _options.HandOverTimeout.TotalSeconds);
                times = null; // their keys may not have handled every event taken: the next owner goes without
            }
        }

        if (WritePartitionTimes(times, _options.HandOverTimeout - handedOver.Elapsed) && marks is not null && whole is not null)
        {
            WriteHandOverMarks(marks, whole, times!, refusedBefore, _options.HandOverTimeout - handedOver.Elapsed);
        }

        Dictionary<int, DateTimeOffset?>? final = null;
        Dictionary<int, long>? finalFloors = null;
        lock (_time)
        {
            foreach (var partition in partitions)
            {
                _areaWatermarks.Remove(partition);
                if (!lost && _lastReport.TryGetValue(partition, out var last))
                {
                    (final ??= [])[partition] = last;
                    if (_lastFloors.TryGetValue(partition, out var floor))
                    {
                        (finalFloors ??= [])[partition] = floor;
                    }
                }
            }
        }

        if (final is not null && _outputs is { } outputs && _context is { } tasks)
        {
            // A last report of the partitions handed over, after their keys stopped: what was reported of them already,
            // written after the offsets this node commits, so that the new owners' area sides read it. Without it a
            // partition that gets no new event would hold area time back there (they start reading after every
            // earlier report) until it counts as idle.
            // A report still held back goes first: it is older than this one.
            lock (_reportWriting)
            {
                WriteHeldReport(whetherDueOrNot: true);
                SendToEveryTask(outputs, tasks.TaskPartitions, RepartitionCodec.Watermark(final, finalFloors));
            }
        }

        foreach (var (alertId, owner) in _context?.OpenAlerts ?? [])
        {
            if (set.Contains(owner.Owner.Partition))
            {
                _context!.OpenAlerts.TryRemove(alertId, out _);
            }
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            var given = string.Join(", ", partitions.Order());
            LogTasks(_logger, given, lost ? "lost" : "handed over");
        }
    }

    /// <summary>
    /// Writes, for each partition handed over, how far event time had come on it (<see cref="PartitionTimeRecord"/>) and
    /// waits for the writes, at most <paramref name="timeout"/>: its next owner starts from it.
    /// </summary>
    /// <returns>Whether there were times to write and all were written.</returns>
    private bool WritePartitionTimes(Dictionary<int, PartitionTime>? times, TimeSpan timeout)
    {
        if (times is null || _outputs is not { } outputs || _context is not { StatePartitions: > 0 } context) // StatePartitions: only with PersistState
        {
            return false;
        }

        using var written = new CountdownEvent(times.Count);
        foreach (var (partition, time) in times)
        {
            var record = PartitionTimeRecord.For(partition, time, context.StatePartitions);
            outputs.Send(record, () => written.Signal());
        }

        if (!written.Wait(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero))
        {
            LogPartitionTimesNotWritten(_logger, string.Join(", ", times.Keys.Order()));
            return false;
        }

        return true;
    }

    /// <summary>
    /// The state partitions that a graceful hand-over of <paramref name="tasks"/> can mark as handed over whole, with their
    /// end offsets now: those all of whose tasks go, and whose keys were all restored here. Null when none can.
    /// </summary>
    private IReadOnlyDictionary<int, long>? HandOverMarksFrom(HashSet<int> tasks)
    {
        if (_restorer is null || _context is not { StatePartitions: > 0 } context || _options.HandOverWholeStateMaxActors <= 0)
        {
            return null;
        }

        var actors = _counters.ActiveSensors + _counters.ActiveAreas;
        if (actors > _options.HandOverWholeStateMaxActors)
        {
            LogNoWholeHandOver(_logger, actors, _options.HandOverWholeStateMaxActors);
            return null;
        }

        var candidates = new List<int>();
        lock (_time)
        {
            foreach (var statePartition in tasks.Select(t => t % context.StatePartitions).Distinct())
            {
                if (TasksOf(statePartition, context).All(t => tasks.Contains(t) && !_restoring.ContainsKey(t)) && !_statePartitionsNotRestored.Contains(statePartition))
                {
                    candidates.Add(statePartition);
                }
            }
        }

        return candidates.Count == 0 ? null : _restorer.EndOffsets(candidates);
    }

    /// <summary>The tasks (sensor partitions) whose keys' state lives in <paramref name="statePartition"/>.</summary>
    private static IEnumerable<int> TasksOf(int statePartition, EngineContext context)
    {
        for (var task = statePartition; task < context.TaskPartitions; task += context.StatePartitions)
        {
            yield return task;
        }
    }

    /// <summary>Records the broker refused for good, and states not written because of it (at-least-once), so far.</summary>
    private long RefusedOrUnwritten() => _sink is { } sink ? sink.Refused + sink.Unwritten : 0;

    /// <summary>
    /// After every key of the partitions handed over wrote its whole state and their times were written: marks each state
    /// partition whose keys all did and all of whose tasks got a time (<see cref="StateHandOverMark"/>), so that its next
    /// owner restores it from where the hand-over began; none when the broker refused a record meanwhile. Waits for the
    /// marks, at most <paramref name="timeout"/>.
    /// </summary>
    private void WriteHandOverMarks(IReadOnlyDictionary<int, long> ends, WholeStateHandOver whole, Dictionary<int, PartitionTime> times, long refusedBefore, TimeSpan timeout)
    {
        if (_outputs is not { } outputs || _context is not { StatePartitions: > 0 } context)
        {
            return;
        }

        if (RefusedOrUnwritten() != refusedBefore)
        {
            // A record the broker refused for what it holds (logged with it) may have been a key's whole state.
            return;
        }

        var marked = new List<int>();
        foreach (var statePartition in ends.Keys)
        {
            // Each of its tasks got a time now: a time written before the hand-over would otherwise be passed over.
            if (TasksOf(statePartition, context).All(times.ContainsKey) && whole.AllWritten(statePartition))
            {
                marked.Add(statePartition);
            }
        }

        if (marked.Count == 0)
        {
            return;
        }

        using var written = new CountdownEvent(marked.Count);
        foreach (var statePartition in marked)
        {
            outputs.Send(StateHandOverMark.For(statePartition, ends[statePartition], whole.FirstTimer(statePartition)), () => written.Signal());
        }

        if (!written.Wait(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero))
        {
            LogHandOverMarksNotWritten(_logger, string.Join(", ", marked.Order()));
        }
    }

    /// <summary>
    /// Before a sensor partition is committed up to <paramref name="next"/>: writes how far event time had come on it as
    /// of that offset (<see cref="PartitionTimeRecord"/>, its covers <paramref name="next"/>), then lets the commit go on
    /// (<paramref name="written"/>; exactly-once: the record is in the epoch's transaction, which settles once it is
    /// acknowledged). The node that takes the partition after a crash starts it from that time, as after a clean
    /// hand-over: with nothing left to read it holds no area's time back (the crashed node may have committed its last
    /// events without reporting their time), and what it reads is judged as one node that never stopped judges it. A
    /// time that did not move since the last one written needs no new record.
    /// </summary>
    private void WritePartitionTimeBeforeCommit(int partition, long next, Action written)
    {
        StateRecord? record = null;
        if (_outputs is { } outputs && _context is { StatePartitions: > 0 } context)
        {
            lock (_time)
            {
                if (_tasks.Contains(partition) && _progress.TryGetValue(partition, out var progress))
                {
                    var asOf = progress.WatermarkAt(next);
                    // Every event judged is before it: the time now (which includes what restored keys brought).
                    var watermark = next >= progress.NextToJudge ? _watermarks.PartitionWatermarkOf(partition) ?? asOf : asOf;
                    if (progress.TimeWritten(watermark))
                    {
                        record = PartitionTimeRecord.For(partition, new PartitionTime(watermark, next), context.StatePartitions);
                    }
                }
            }

            if (record is not null)
            {
                context.OutputsSent(); // counted only in exactly-once mode, where the epoch waits for it
                outputs.Send(record, () =>
                {
                    context.OutputsAcknowledged();
                    written();
                });
                return;
            }
        }

        written();
    }

    private void RefreshWatermark()
    {
        var router = _router;
        if (router is null)
        {
            return;
        }

        var now = _clock.GetUtcNow();
        lock (_time)
        {
            ApplyProgress(force: true);
            _watermarks.Refresh(now);
            if (_watermarks.Watermark > _announced || _announcePending)
            {
                Announce(router, now);
            }
            else
            {
                ReportWatermarkAgain(router, now);
            }
        }

        WriteHeldReport();
    }

    /// <summary>
    /// Tells the watermarks which partitions are caught up: the consumer has taken every record the broker holds and
    /// every taken one has been judged here (records still in the channel wait): only then may silence make one idle.
    /// Under <see cref="_time"/>; reads the consumer's progress only when it was published anew (or when forced: a
    /// judged record can make a partition caught up without a new publication).
    /// </summary>
    private void ApplyProgress(bool force = false)
    {
        if (_source is not { } source || (!force && source.ProgressVersion == _appliedProgress))
        {
            return;
        }

        _appliedProgress = source.ProgressVersion;
        var topic = _options.Topics.SensorEvents;
        foreach (var partition in source.Progress)
        {
            if (partition.Topic != topic)
            {
                continue; // the repartition topic's partitions have the area side's watermarks
            }

            var judged = _progress.TryGetValue(partition.Partition, out var progress) ? progress.LastJudged : -1;
            // One whose state is being restored is not read yet: it holds time back, whatever its log holds.
            _watermarks.SetCaughtUp(partition.Partition, partition.CaughtUp && judged >= partition.LastTaken && !_restoring.ContainsKey(partition.Partition));
        }
    }

    /// <summary>
    /// Where the directory says an open alert lives; an alert not found waits (briefly) for the directory to read the
    /// newest alert records, since the operations centre may have seen one that this node has not read yet.
    /// </summary>
    private async Task<(AlertOwner? Owner, string AreaId)> FindOpenAlertAsync(string alertId, CancellationToken cancellationToken)
    {
        var directory = _directory!;
        await directory.CaughtUp.WaitAsync(cancellationToken);
        var deadline = DateTime.UtcNow + CommandLookupTimeout;
        while (true)
        {
            // This node's own open alerts first: it knows them before their records are read back, and knows those whose
            // records the alerts topic no longer keeps (retention) or that were raised before records named their owner.
            if (_context!.OpenAlerts.TryGetValue(alertId, out var local))
            {
                return (local.Owner, local.AreaId);
            }

            if (directory.TryFind(alertId, out var owner, out var area))
            {
                return (owner, area);
            }

            if (DateTime.UtcNow >= deadline)
            {
                return (null, string.Empty);
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// Sends what the dispatch has routed since the last send: the events to the sensor side's router, the repartition
    /// records to the area side's, one message each (a single one as itself). Under the lock, before anything else is
    /// told to either router, so every actor sees events, records and watermarks in dispatch order.
    /// </summary>
    private void SendDispatched()
    {
        if (_dispatchedEvents.Count > 0)
        {
            _router!.Tell(_dispatchedEvents.Count == 1 ? _dispatchedEvents[0] : new RoutedEvents([.. _dispatchedEvents]), ActorRefs.NoSender);
            _dispatchedEvents.Clear();
        }

        if (_dispatchedRecords.Count > 0)
        {
            _areaRouter!.Tell(_dispatchedRecords.Count == 1 ? _dispatchedRecords[0] : new AreaRecords([.. _dispatchedRecords]), ActorRefs.NoSender);
            _dispatchedRecords.Clear();
        }
    }

    private void Announce(IActorRef router, DateTimeOffset now)
    {
        SendDispatched(); // the events dispatched under the old watermark go before it
        var watermark = _announced = _watermarks.Watermark;
        _announcedAt = now;
        _announcePending = false;
        // Every event dispatched so far is handled before the barrier passes: the records it made are written before the
        // report, so the area side can tell a record made again after a rebalance or crash (below its floor) from a new one.
        var floors = _progress.Where(p => p.Value.LastJudged >= 0).ToDictionary(p => p.Key, p => p.Value.LastJudged + 1);
        // Per partition, how far event time has come for its keys: as told to them, and as reported (null: idle). Only
        // partitions tracked now: the keys of one assigned after this (restored meanwhile) must not take it.
        var report = new Dictionary<int, DateTimeOffset?>();
        var told = new Dictionary<int, DateTimeOffset>();
        foreach (var partition in _watermarks.Partitions)
        {
            told[partition] = _watermarks.WatermarkOf(partition, now);
            report[partition] = _watermarks.ReportedWatermarkOf(partition, now);
        }

        // Once every actor that may emit facts for these watermarks has handled them, the area side may take them as past.
        router.Tell(new WatermarkAdvanced(watermark, new Countdown(() => WatermarkPassed(watermark, report, floors)), told), ActorRefs.NoSender);
    }

    /// <summary>
    /// Every fact and area event up to <paramref name="watermark"/> from this node's sensor partitions has been sent:
    /// tells every repartition partition how far event time has come on them (or that a partition is idle), after those
    /// records. Runs on an actor's thread.
    /// </summary>
    private void WatermarkPassed(DateTimeOffset watermark, Dictionary<int, DateTimeOffset?> report, Dictionary<int, long> floors)
    {
        lock (_reportWriting)
        {
            WatermarkReport? written;
            lock (_time)
            {
                if (watermark < _reported)
                {
                    return;
                }

                // What a hand-over writes last is this report even when it is held back: its records are all sent.
                _reported = watermark;
                _reportedAt = _clock.GetUtcNow();
                _lastReport = report;
                _lastFloors = floors;
                if (report.Count == 0 || _context is not { } context)
                {
                    return;
                }

                _reportPacing ??= new WatermarkReportPacing<WatermarkReport>(context.TaskPartitions, AnnounceInterval, WatermarkReportInterval);
                written = _reportPacing.Passed(new WatermarkReport(report, floors), _reportedAt);
            }

            Write(written);
        }
    }

    /// <summary>
    /// The report held back by <see cref="_reportPacing"/>, once its time has come (or at once, before a hand-over's last
    /// report). Not under <see cref="_time"/>.
    /// </summary>
    private void WriteHeldReport(bool whetherDueOrNot = false)
    {
        lock (_reportWriting)
        {
            WatermarkReport? held;
            lock (_time)
            {
                var now = _clock.GetUtcNow();
                held = whetherDueOrNot ? _reportPacing?.Flush(now) : _reportPacing?.Due(now);
            }

            Write(held);
        }
    }

    /// <summary>Writes <paramref name="report"/> (when there is one) to every repartition partition. Under <see cref="_reportWriting"/>.</summary>
    private void Write(WatermarkReport? report)
    {
        if (report is not null && _outputs is { } outputs && _context is { } context)
        {
            SendToEveryTask(outputs, context.TaskPartitions, RepartitionCodec.Watermark(report.Partitions, report.Floors));
        }
    }

    /// <summary>A watermark report as passed: per sensor partition how far event time has come (null: idle), and its floors.</summary>
    private sealed record WatermarkReport(Dictionary<int, DateTimeOffset?> Partitions, Dictionary<int, long> Floors);

    /// <summary>A watermark report to every repartition partition, encoded once (paced by <see cref="WatermarkReportPacing{TReport}"/>).</summary>
    private static void SendToEveryTask(MeteredOutputSink outputs, int taskPartitions, Confluent.Kafka.Message<byte[]?, byte[]?> report)
    {
        for (var partition = 0; partition < taskPartitions; partition++)
        {
            outputs.Send(partition, partition == 0 ? report : RepartitionCodec.WatermarkAgain(report), static () => { });
        }
    }

    /// <summary>
    /// About once a second, the watermark again (with which partitions are idle now, and newer floors), through the
    /// actors like any: a repartition partition that moved to another node, or was restored, learns it without waiting
    /// for event time to move. Under <see cref="_time"/>.
    /// </summary>
    private void ReportWatermarkAgain(IActorRef router, DateTimeOffset now)
    {
        // Also before any event: a node whose partitions are all empty still says so (idle), or area time would wait for them.
        if (now - _reportedAt < WatermarkReportInterval || _watermarks.Partitions.Count == 0)
        {
            return;
        }

        _reportedAt = now;
        Announce(router, now);
    }

    private void SendLate(ConsumedEvent consumed, DateTimeOffset watermark) =>
        _context!.SendLate(consumed, consumed.Event.Timestamp, watermark, () => consumed.Complete());

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Engine started against {BootstrapServers}, consuming {Topic} in group {GroupId} as node {NodeId} ({Membership})")]
    private static partial void LogStarted(ILogger logger, string bootstrapServers, string topic, string groupId, string nodeId, string membership);

    [LoggerMessage(EventId = 3026, Level = LogLevel.Information, Message = "This hand-over writes only the states that changed and marks no state partition: the node holds {Actors} sensor and area actors, more than HandOverWholeStateMaxActors ({Max}); the next owner reads the state partitions from their start")]
    private static partial void LogNoWholeHandOver(ILogger logger, long actors, int max);

    [LoggerMessage(EventId = 3025, Level = LogLevel.Warning, Message = "The hand-over marks of state partitions {Partitions} were not acknowledged in time: their next owner may read them whole")]
    private static partial void LogHandOverMarksNotWritten(ILogger logger, string partitions);

    [LoggerMessage(EventId = 3017, Level = LogLevel.Warning, Message = "How far event time had come on partitions {Partitions} was not written in time at their hand-over: their next owner's area time waits for their next events (or for them to count as idle)")]
    private static partial void LogPartitionTimesNotWritten(ILogger logger, string partitions);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Stopping: draining {InFlight} events in flight, then committing and flushing (at most {Seconds} s; a second SIGTERM or Ctrl+C exits at once)")]
    private static partial void LogStopping(ILogger logger, long inFlight, double seconds);

    [LoggerMessage(EventId = 3016, Level = LogLevel.Information, Message = "Kafka client settings from configuration (secrets masked): {Settings}")]
    private static partial void LogKafkaClientSettings(ILogger logger, KafkaClientSettings settings);

    [LoggerMessage(EventId = 3018, Level = LogLevel.Error, Message = "The stop did not finish before the shutdown deadline (a Kafka client, the actors or the producer did not answer): leaving without it; events not committed are processed again by their partitions' next owner")]
    private static partial void LogStopUnfinished(ILogger logger);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Engine stopped after {Processed} events; {Unsent} outputs unacknowledged")]
    private static partial void LogStopped(ILogger logger, long processed, int unsent);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Rules applied: {Bindings} bindings")]
    private static partial void LogRulesApplied(ILogger logger, int bindings);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "Rules not reloaded, the running rules stay: {Errors}")]
    private static partial void LogReloadRefused(ILogger logger, string errors);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "An epoch's transaction was aborted: restarting the node's pipeline from the last committed state and offsets")]
    private static partial void LogRestarting(ILogger logger);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Critical, Message = "Restarting after an aborted epoch failed; the node takes no more events")]
    private static partial void LogRestartFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3030, Level = LogLevel.Error, Message = "Restoring the state of newly assigned partitions failed: they cannot be read, and the consume loop stops")]
    private static partial void LogRestoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Information, Message = "Partitions (tasks) {Partitions} {What}")]
    private static partial void LogTasks(ILogger logger, string partitions, string what);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "Handing over partitions {Partitions} took longer than {Seconds} s; their actors that had not finished stop anyway, and the new owner restores their last written state")]
    private static partial void LogHandOverIncomplete(ILogger logger, string partitions, double seconds);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Error, Message = "The repartition topic {Topic} {Problem}: area rules and commands cannot be routed correctly across nodes; create it with {Partitions} partitions, as many as the sensor-events topic")]
    private static partial void LogRepartitionTopicWrong(ILogger logger, string topic, string problem, int partitions);

    /// <summary>Logs, at start, a repartition topic that is missing or has another partition count than the sensor-events topic.</summary>
    private void CheckRepartitionTopic(KafkaTopicMetadata metadata, KafkaTopics topics, int tasks)
    {
        var count = metadata.PartitionCount(topics.Repartition);
        if (count is null)
        {
            LogRepartitionTopicWrong(_logger, topics.Repartition, "does not exist", tasks);
        }
        else if (count != tasks)
        {
            LogRepartitionTopicWrong(_logger, topics.Repartition, $"has {count} partitions, not {tasks}", tasks);
        }
    }

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "The consumer failed while stopping")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);
}

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
    private readonly Dictionary<int, long> _lastDispatched = []; // per partition, the newest offset judged (routed or late); under _time
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
    private KafkaOutputSink? _sink;
    private MeteredOutputSink? _outputs;
    private long _earlierDeliveryFailures;
    private long _earlierRefused;
    private long _earlierUnwritten;
    private readonly RefusedRecords _refusals = new();
    private readonly StateChunkLedger _stateChunks = new();
    private KafkaEventSource? _source;
    private StateRestorer? _restorer;
    private KafkaCommandSource? _commands;
    private ActorSystem? _actors;
    private Task? _dispatch;
    private int _state; // 0 new, 1 started, 2 stopped

    /// <summary>Creates an engine; <see cref="StartAsync"/> connects it.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="loggerFactory">Where logs go.</param>
    /// <param name="rules">
    /// The rules to run; when null, the rules file and plugins of <paramref name="options"/> (every built-in
    /// municipal rule when there is no rules file), which <see cref="ReloadRules"/> reloads.
    /// </param>
    /// <exception cref="RulesFileException">The rules file has mistakes; the message lists them all.</exception>
    /// <param name="clock">The wall clock: event times are checked against it and processing-time timers follow it; the system clock when null.</param>
    public KommuneEngine(EngineOptions options, ILoggerFactory loggerFactory, RuleSet? rules = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _options = options;
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
    }

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

    private EngineStatistics StatisticsOf(SourceStatistics source) =>
        new EngineStatistics(
            source.Consumed,
            _counters.Processed,
            source.DeadLettered + _counters.RuleDeadLetters + _counters.LateEvents + (_commands?.Refused ?? 0),
            _counters.Alerts,
            _counters.Aggregates,
            _counters.RuleFailures,
            source.LostRecords,
            source.InFlight,
            source.PeakInFlight,
            source.Pauses,
            _counters.ActiveSensors,
            _counters.ActiveAreas,
            source.AssignedPartitions,
            _counters.LateEvents,
            _counters.PluginFailures,
            _counters.RuleReloads,
            Watermark,
            _commands?.Handled ?? 0,
            _commands?.Refused ?? 0,
            _counters.StateWritten,
            _counters.StateRestored,
            source.PeakUncommitted,
            source.EpochsCommitted,
            Interlocked.Read(ref _restarts));

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
    public RuleSet Rules => _context?.Rules ?? _rules;

    /// <summary>
    /// Switches to new rules without a restart. Every sensor and area carries each binding's state, timers and open
    /// alerts as <see cref="RuleReload"/> says (kept, kept with new parameters, migrated); state that cannot be carried,
    /// and that of removed bindings, is dropped and its open alerts closed with a record each. The plan, and then what
    /// every key did, are logged.
    /// </summary>
    public void ApplyRules(RuleSet rules)
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
            _context.Rules = rules;
            _metrics.RulesChanged(rules);
            _counters.RulesReloaded();
            _router.Tell(new RulesChanged(rules, progress), ActorRefs.NoSender);
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

    /// <summary>Starts the producer, the actors and the consumer. Returns without waiting for partitions.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("An engine starts once.");
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
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var previous = Interlocked.Exchange(ref _state, 2);
        if (previous != 1)
        {
            if (previous == 0)
            {
                _loader?.Dispose();
            }

            return;
        }

        LogStopping(_logger, _source!.Statistics.InFlight, _options.ShutdownTimeout.TotalSeconds);
        await _pipeline.WaitAsync(CancellationToken.None);
        try
        {
            var unsent = await StopPipelineAsync(_options.ShutdownTimeout);
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

    /// <summary>Creates the producer, the actors, the state restorer and the consumers: everything one run of the node needs.</summary>
    private void StartPipeline()
    {
        var topics = _options.ToKafkaTopics();
        var exactlyOnce = _options.ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce;
        _sink = new KafkaOutputSink(
            new KafkaSinkOptions
            {
                BootstrapServers = _options.BootstrapServers,
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
        };
        if (_options.PersistState)
        {
            _restorer = new StateRestorer(_options.BootstrapServers, topics.State, _options.StateRestoreTimeout, _stateChunks, _loggerFactory.CreateLogger<StateRestorer>());
            _context.StatePartitions = _restorer.Partitions();
        }

        var router = _router = _actors.ActorOf(EventRouterActor.Props(_context), "areas");
        var source = _source = new KafkaEventSource(
            new KafkaSourceOptions
            {
                BootstrapServers = _options.BootstrapServers,
                GroupId = _options.GroupId,
                GroupInstanceId = _options.StaticMembership ? _options.EffectiveNodeId : null,
                Topics = topics,
                MaxInFlightEvents = _options.MaxInFlightEvents,
                CommitInterval = _options.CommitInterval,
                SessionTimeout = _options.SessionTimeout,
                StallTimeout = _options.StallTimeout,
                IdlePartitionTimeout = _options.IdlePartitionTimeout,
                Limits = _options.ToLimits(),
                OnPartitionsAssigned = PartitionsAssigned,
                OnPartitionsRevoked = PartitionsRevoked,
                Transactions = exactlyOnce
                    ? new SourceTransactions
                    {
                        Committer = _sink,
                        Committed = _metrics.TransactionCommitted,
                        Settled = () => context.Settled,
                        SettleNow = () =>
                        {
                            foreach (var actor in context.UnwrittenActors.Keys)
                            {
                                actor.Tell(Checkpoint.Instance, ActorRefs.NoSender);
                            }
                        },
                    }
                    : null,
            },
            outputs,
            _clock,
            _loggerFactory.CreateLogger<KafkaEventSource>());
        _dispatch = DispatchAsync(source, router);
        _watermarkTimer = _clock.CreateTimer(_ => RefreshWatermark(), null, WatermarkRefresh, WatermarkRefresh);
        source.Start();
        _ = source.Completion.ContinueWith(SourceEnded, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _commands = new KafkaCommandSource(
            _options.BootstrapServers,
            _options.GroupId + "-acks",
            topics.Acks,
            outputs,
            HandleCommandAsync,
            _loggerFactory.CreateLogger<KafkaCommandSource>(),
            _options.SessionTimeout);
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
        _watermarkTimer?.Dispose();
        var unsent = _sink!.Flush(TimeSpan.FromSeconds(10));
        await _actors!.Terminate();
        _sink.Dispose();
        _commands?.Dispose();
        return unsent;
    }

    private void SourceEnded(Task ended)
    {
        if (!ended.IsFaulted)
        {
            return; // stopped: StopAsync completes the consumer's task
        }

        if (ended.Exception!.InnerException is EpochAbortedException aborted && Volatile.Read(ref _state) == 1)
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
            if (Volatile.Read(ref _state) != 1)
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
            lock (_time)
            {
                // As in a new process: watermarks start over, or replayed events would be judged against the aborted epoch's.
                _watermarks = new WatermarkTracker(_options.ToEventTimeSettings());
                _lastDispatched.Clear();
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
            await foreach (var consumed in source.Events.ReadAllAsync())
            {
                Dispatch(consumed, router);
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
            _lastDispatched[consumed.Source.Partition] = consumed.Source.Offset;
            var eventTime = consumed.Event.Timestamp;
            if (_watermarks.IsLate(eventTime))
            {
                SendLate(consumed, _watermarks.Watermark);
                return;
            }

            var watermark = _watermarks.Watermark;
            var advanced = _watermarks.Observe(consumed.Source.Partition, eventTime, now);
            _counters.EventRouted();
            router.Tell(new RoutedEvent(consumed, watermark, new EventCompletion(consumed, _counters)), ActorRefs.NoSender);
            if (advanced && now - _announcedAt >= AnnounceInterval)
            {
                Announce(router, now);
            }
        }
    }

    /// <summary>Routes an operations centre's command to the sensor or area whose rule has that alert open.</summary>
    private async Task<string?> HandleCommandAsync(AlertCommand command, CancellationToken cancellationToken)
    {
        if (!_context!.OpenAlerts.TryGetValue(command.AlertId, out var owner))
        {
            return _reloads.Closed.NotOpen(command.AlertId);
        }

        var done = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _router!.Tell(new CommandMessage(command, owner.SensorId, owner.AreaId, done), ActorRefs.NoSender);
        var refused = await done.Task.WaitAsync(cancellationToken);
        if (refused is null && _sink is { IsTransactional: true } sink)
        {
            // Exactly-once: the command is done when the transaction holding its outputs commits. If it aborts, the
            // command waits for the restart to stop this reader, so its offset is not committed and it is read again.
            try
            {
                await sink.OpenTransaction.WaitAsync(cancellationToken);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }

        return refused;
    }

    private void PartitionsAssigned(IReadOnlyList<int> partitions)
    {
        // Before any event of these partitions: their state first (this blocks the consumer, as it should).
        if (_restorer is not null && _context is { StatePartitions: > 0 } context && _router is { } stateRouter)
        {
            var statePartitions = partitions.Select(p => p % context.StatePartitions).Distinct().ToList();
            var restored = _restorer.Restore(statePartitions, (snapshot, raw, partition, covers) =>
                stateRouter.Tell(new RestoreState(snapshot, raw, partition, covers)));
            _counters.StatesRestored(restored);
        }

        var now = _clock.GetUtcNow();
        lock (_time)
        {
            foreach (var partition in partitions)
            {
                _watermarks.Assign(partition, now);
            }
        }
    }

    private void PartitionsRevoked(IReadOnlyList<int> partitions)
    {
        lock (_time)
        {
            foreach (var partition in partitions)
            {
                _watermarks.Remove(partition);
                _lastDispatched.Remove(partition);
            }
        }
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
            if (_watermarks.Watermark > _announced)
            {
                Announce(router, now);
            }
        }
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
        foreach (var partition in source.Progress)
        {
            var judged = _lastDispatched.TryGetValue(partition.Partition, out var last) ? last : -1;
            _watermarks.SetCaughtUp(partition.Partition, partition.CaughtUp && judged >= partition.LastTaken);
        }
    }

    private void Announce(IActorRef router, DateTimeOffset now)
    {
        _announced = _watermarks.Watermark;
        _announcedAt = now;
        router.Tell(new WatermarkAdvanced(_announced), ActorRefs.NoSender);
    }

    private void SendLate(ConsumedEvent consumed, DateTimeOffset watermark)
    {
        var source = consumed.Source;
        var reason = string.Create(
            CultureInfo.InvariantCulture,
            $"late: event time {consumed.Event.Timestamp:O} is more than the allowed lateness {_options.AllowedLateness} behind the watermark {watermark:O}");
        _outputs!.Send(
            new DeadLetter(source.Key, source.Value, source.Topic, source.Partition, source.Offset, reason, "late"),
            () =>
            {
                _counters.LateEventAcknowledged();
                consumed.Complete();
            });
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Engine started against {BootstrapServers}, consuming {Topic} in group {GroupId} as node {NodeId} ({Membership})")]
    private static partial void LogStarted(ILogger logger, string bootstrapServers, string topic, string groupId, string nodeId, string membership);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Stopping: draining {InFlight} events in flight, then committing and flushing (at most {Seconds} s; a second SIGTERM or Ctrl+C exits at once)")]
    private static partial void LogStopping(ILogger logger, long inFlight, double seconds);

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

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "The consumer failed while stopping")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);
}

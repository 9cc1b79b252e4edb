using Akka.Actor;
using Akka.Configuration;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Actors;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine;

/// <summary>
/// One engine node: a Kafka consumer in the engine's group, the actor topology (an actor per area, an actor per
/// sensor), the rules, and an idempotent producer for alerts, aggregates and dead letters.
/// </summary>
public sealed partial class KommuneEngine : IAsyncDisposable
{
    private const string AkkaConfig = """
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = 10
          log-dead-letters-during-shutdown = off
          actor.default-dispatcher.throughput = 100
          coordinated-shutdown.run-by-clr-shutdown-hook = off
          coordinated-shutdown.exit-clr = off
        }
        """;

    private readonly EngineOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly RuleCatalog _rules;
    private readonly EngineCounters _counters = new();
    private KafkaOutputSink? _sink;
    private KafkaEventSource? _source;
    private ActorSystem? _actors;
    private Task? _dispatch;
    private int _state; // 0 new, 1 started, 2 stopped

    /// <summary>Creates an engine; <see cref="StartAsync"/> connects it.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="loggerFactory">Where logs go.</param>
    /// <param name="rules">The rules to run; the built-in rules when null.</param>
    /// <param name="clock">The clock event times are checked against; the system clock when null.</param>
    public KommuneEngine(EngineOptions options, ILoggerFactory loggerFactory, RuleCatalog? rules = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<KommuneEngine>();
        _rules = rules ?? RuleCatalog.BuiltIn;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>Completes once this node has been assigned its first partitions.</summary>
    public Task Assigned => _source?.Assigned ?? throw new InvalidOperationException("The engine has not started.");

    /// <summary>
    /// Completes when the consumer has stopped and committed (during <see cref="StopAsync"/>); faults if the consume
    /// loop failed, after which the engine takes no more events and should be restarted.
    /// </summary>
    public Task ConsumerCompletion => _source?.Completion ?? throw new InvalidOperationException("The engine has not started.");

    /// <summary>What the engine has done so far.</summary>
    public EngineStatistics Statistics
    {
        get
        {
            var source = _source?.Statistics ?? new SourceStatistics(0, 0, 0, 0, 0, 0, 0, 0);
            return new EngineStatistics(
                source.Consumed,
                _counters.Processed,
                source.DeadLettered + _counters.RuleDeadLetters,
                _counters.Alerts,
                _counters.Aggregates,
                _counters.RuleFailures,
                source.LostRecords,
                source.InFlight,
                source.PeakInFlight,
                source.Pauses,
                _counters.ActiveSensors,
                _counters.ActiveAreas,
                source.AssignedPartitions);
        }
    }

    /// <summary>Starts the producer, the actors and the consumer. Returns without waiting for partitions.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("An engine starts once.");
        }

        var topics = _options.ToKafkaTopics();
        _sink = new KafkaOutputSink(
            new KafkaSinkOptions { BootstrapServers = _options.BootstrapServers, Topics = topics, Linger = _options.ProducerLinger },
            _loggerFactory.CreateLogger<KafkaOutputSink>());
        _actors = ActorSystem.Create("kommune", ConfigurationFactory.ParseString(AkkaConfig));
        // Akka's scheduler starts its timer thread on first use and blocks the caller until it runs. If that first
        // use is thousands of new sensor actors setting their idle timeouts at once on the thread pool, they can
        // starve the very thread they wait for. Start it here, off the pool.
        _actors.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });
        var router = _actors.ActorOf(EventRouterActor.Props(_rules, _sink, _counters, _options), "areas");
        _source = new KafkaEventSource(
            new KafkaSourceOptions
            {
                BootstrapServers = _options.BootstrapServers,
                GroupId = _options.GroupId,
                Topics = topics,
                MaxInFlightEvents = _options.MaxInFlightEvents,
                CommitInterval = _options.CommitInterval,
                SessionTimeout = _options.SessionTimeout,
                Limits = _options.ToLimits(),
            },
            _sink,
            _clock,
            _loggerFactory.CreateLogger<KafkaEventSource>());
        _dispatch = DispatchAsync(_source, router);
        _source.Start();
        LogStarted(_logger, _options.BootstrapServers, topics.SensorEvents, _options.GroupId);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops gracefully: no new records, events in flight finish (up to the shutdown timeout), done offsets are
    /// committed, outputs are flushed, then the actors stop.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        try
        {
            await _source!.StopAsync(_options.ShutdownTimeout);
        }
#pragma warning disable CA1031 // Stopping goes on whatever the consumer's end was; the failure is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogStopFailed(_logger, e);
        }

        await _dispatch!;
        var unsent = _sink!.Flush(TimeSpan.FromSeconds(10));
        await _actors!.Terminate();
        _sink.Dispose();
        LogStopped(_logger, Statistics.Processed, unsent);
    }

    /// <summary>Stops the engine.</summary>
    public async ValueTask DisposeAsync() => await StopAsync();

    private static async Task DispatchAsync(KafkaEventSource source, IActorRef router)
    {
        try
        {
            await foreach (var consumed in source.Events.ReadAllAsync())
            {
                router.Tell(consumed, ActorRefs.NoSender);
            }
        }
        catch (Exception) when (source.Events.Completion.IsFaulted)
        {
            // The consume loop failed; it logged why, and StopAsync reports it.
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Engine started against {BootstrapServers}, consuming {Topic} in group {GroupId}")]
    private static partial void LogStarted(ILogger logger, string bootstrapServers, string topic, string groupId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Engine stopped after {Processed} events; {Unsent} outputs unacknowledged")]
    private static partial void LogStopped(ILogger logger, long processed, int unsent);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "The consumer failed while stopping")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);
}

using System.Text;
using Akka.Actor;
using Akka.Configuration;
using BenchmarkDotNet.Attributes;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Engine;
using Kommune.Engine.Actors;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Benchmarks;

/// <summary>
/// The engine's hot path after Kafka, through its real actors: a record's bytes decoded, wrapped as the consumer
/// wraps it, routed by the router actor to its area's actor and on to its sensor's actor, the congestion rule (a
/// threshold rule with a minute window) run, and the event completed. One call sends <see cref="Events"/> records of
/// <see cref="Sensors"/> road sensors in 10 areas and waits until every one is complete, so time and allocations
/// are per 1,000 events; BenchmarkDotNet divides by <see cref="Events"/> (OperationsPerInvoke). State is not
/// persisted (that is the checkpoint benchmarks'), outputs are acknowledged at once by a counting stand-in sink
/// (Kafka's cost is the load test's). <see cref="WithRule"/> false runs no rule: routing alone.
/// </summary>
[BenchmarkCategory("route")]
public class RouteBenchmarks
{
    /// <summary>Events per call.</summary>
    public const int Events = 1_000;

    /// <summary>Road sensors the events go to, in turn.</summary>
    public const int Sensors = 1_000;

    private const int Partitions = 12;
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);

    private readonly EngineCounters _counters = new();
    private readonly CountingSink _sink = new();
    private readonly PartitionOffsetTracker[] _trackers = new PartitionOffsetTracker[Partitions];
    private readonly long[] _offsets = new long[Partitions];
    private SensorEventDecoder _decoder = null!;
    private ActorSystem _system = null!;
    private IActorRef _router = null!;
    private byte[][] _keys = [];
    private byte[][] _values = [];
    private long _sent;

    /// <summary>Whether the congestion rule runs (true) or no rule at all (false: routing alone).</summary>
    [Params(true, false)]
    public bool WithRule { get; set; }

    /// <summary>The actor system and router as the engine makes them; every sensor's actor started by a first round.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _decoder = new SensorEventDecoder(SensorEventLimits.Default, TimeProvider.System);
        var options = new EngineOptions { PersistState = false, SensorIdleTimeout = TimeSpan.FromHours(1), AreaIdleTimeout = TimeSpan.FromHours(1) };
        var rules = WithRule ? new RuleSet([new RuleBinding(CongestionRule.RuleName, new CongestionRule())]) : RuleSet.Empty;
        _system = ActorSystem.Create("kommune-bench", ConfigurationFactory.ParseString(KommuneEngine.AkkaConfig));
        var context = new EngineContext(_sink, _counters, options, TimeProvider.System, rules, NullLogger.Instance);
        _router = _system.ActorOf(EventRouterActor.Props(context), "areas");
        for (var p = 0; p < Partitions; p++)
        {
            _trackers[p] = new PartitionOffsetTracker("kommune.sensor-events", p, 0);
        }

        _keys = new byte[Sensors][];
        _values = new byte[Sensors][];
        var ts = Start.ToUnixTimeMilliseconds();
        for (var i = 0; i < Sensors; i++)
        {
            var id = $"traffic-{i:D6}";
            _keys[i] = Encoding.UTF8.GetBytes(id);
            _values[i] = Encoding.UTF8.GetBytes($$"""{"sensorId":"{{id}}","areaId":"area-{{i % 10:D3}}","type":"traffic","ts":{{ts}},"values":{"speed":47.5,"flow":1210,"occupancy":23.4""" + "}}");
        }

        SendAll(); // starts every area's and sensor's actor
    }

    /// <summary>Stops the actor system; checks that every event completed and the rule did not fail.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _system.Terminate().GetAwaiter().GetResult();
        if (_counters.Processed != _sent || _counters.RuleFailures > 0)
        {
            throw new InvalidOperationException($"{_counters.Processed} of {_sent} events completed, {_counters.RuleFailures} rule failures.");
        }
    }

    /// <summary>1,000 records decoded, routed through router, area and sensor actors, ruled and completed.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public long DecodeRouteRule() => SendAll();

    private long SendAll()
    {
        for (var i = 0; i < Events; i++)
        {
            var sensor = i % Sensors;
            if (!_decoder.TryDecode(_keys[sensor], _values[sensor], out var sensorEvent, out var failure))
            {
                throw new InvalidOperationException(failure.Text);
            }

            var partition = sensor % Partitions;
            var offset = _offsets[partition]++;
            _trackers[partition].Start(offset);
            var consumed = new ConsumedEvent(sensorEvent!, _trackers[partition], offset, _keys[sensor], _values[sensor]);
            _sent++;
            _router.Tell(new RoutedEvent(consumed, Start, _counters), ActorRefs.NoSender);
        }

        var spin = new SpinWait();
        while (_counters.Processed < _sent)
        {
            spin.SpinOnce(sleep1Threshold: -1); // yields the core to the actors rather than burn it
        }

        return _sink.Records;
    }

    /// <summary>Acknowledges every record at once and counts them: Kafka's cost is the load test's, not this one's.</summary>
    private sealed class CountingSink : IOutputSink
    {
        private long _records;

        public long Records => Interlocked.Read(ref _records);

        public void Send(Alert alert, AlertOwner? owner, Action onAcknowledged) => Acknowledge(onAcknowledged);

        public void Send(int partition, Confluent.Kafka.Message<byte[]?, byte[]?> record, Action onAcknowledged) => Acknowledge(onAcknowledged);

        public void Send(Aggregate aggregate, Action onAcknowledged) => Acknowledge(onAcknowledged);

        public void Send(StateRecord state, Action onAcknowledged) => Acknowledge(onAcknowledged);

        public void Send(DeadLetter deadLetter, Action onAcknowledged) => Acknowledge(onAcknowledged);

        private void Acknowledge(Action onAcknowledged)
        {
            Interlocked.Increment(ref _records);
            onAcknowledged();
        }
    }
}

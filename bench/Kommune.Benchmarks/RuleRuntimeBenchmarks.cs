using BenchmarkDotNet.Attributes;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Windows;

namespace Kommune.Benchmarks;

/// <summary>
/// The per-event cost of the rule runtime, without Akka or Kafka: <see cref="KeyedRuleRunner.OnEvent"/> for one
/// sensor with keyed state, with a windowed aggregation whose timers fire, and with the built-in fall rule, and
/// <see cref="WatermarkTracker.Observe"/>. Outputs are only counted. Every benchmark's state stays bounded however
/// many times BenchmarkDotNet calls it: event times move forward, but windows are purged and fall alerts are dropped
/// with their runner every <see cref="FallRunnerEvents"/> events.
/// </summary>
[BenchmarkCategory("rules")]
public class RuleRuntimeBenchmarks
{
    /// <summary>How many fall alerts one runner collects before the benchmark replaces it (bounds its open alerts).</summary>
    public const int FallRunnerEvents = 1024;

    private const string SensorId = "sensor-000123";
    private const string AreaId = "area-007";
    private const int Partitions = 12;

    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan OutOfOrderness = TimeSpan.FromSeconds(5);

    private readonly EventTimeSettings _settings = new();
    private readonly CountingOutputs _outputs = new();
    private readonly Dictionary<string, SensorValue> _trafficValues = new(StringComparer.Ordinal)
    {
        ["speed"] = 47.5,
        ["flow"] = 1210,
        ["occupancy"] = 23.4,
    };

    private readonly Dictionary<string, SensorValue> _fallValues = new(StringComparer.Ordinal)
    {
        ["confidence"] = 0.97,
        ["posture"] = SensorValue.FromText("lying"),
    };

    private KeyedRuleRunner _stateRunner = null!;
    private KeyedRuleRunner _windowRunner = null!;
    private KeyedRuleRunner _fallRunner = null!;
    private RuleSet _fallRules = RuleSet.Empty;
    private WatermarkTracker _tracker = null!;
    private SensorEvent _trafficEvent = null!;
    private DateTimeOffset _fixedWatermark;
    private DateTimeOffset _windowTime;
    private DateTimeOffset _fallTime;
    private DateTimeOffset _observeTime;
    private int _fallEvents;
    private int _partition;

    /// <summary>Fresh runners, tracker and clocks.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _stateRunner = new KeyedRuleRunner(RuleScope.Sensor, SensorId, AreaId, new RuleSet([new RuleBinding("count", new CountingRule())]), _settings);
        _windowRunner = new KeyedRuleRunner(RuleScope.Sensor, SensorId, AreaId, new RuleSet([new RuleBinding("speed-1m", new SpeedWindowRule(WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), withPercentile: false))]), _settings);
        _fallRules = new RuleSet([new RuleBinding(FallAlertRule.RuleName, new FallAlertRule())]);
        _fallRunner = NewFallRunner();
        _tracker = new WatermarkTracker(_settings);
        _trafficEvent = new SensorEvent(SensorId, AreaId, SensorTypes.Traffic, Start, _trafficValues);
        _fixedWatermark = Start - OutOfOrderness;
        _windowTime = Start;
        _fallTime = Start;
        _observeTime = Start;
        _fallEvents = 0;
        _partition = 0;
    }

    /// <summary>A rule that reads and updates one keyed <c>State&lt;int&gt;</c>: the state access overhead.</summary>
    [Benchmark]
    public long KeyedState()
    {
        _stateRunner.OnEvent(_trafficEvent, _fixedWatermark, _trafficEvent.Timestamp, _outputs);
        return _outputs.Total;
    }

    /// <summary>
    /// A rule with a tumbling 1-minute <see cref="WindowedAggregation"/>, events 1 s apart and the watermark 5 s behind
    /// each: every 60th event fires a window's timer and emits its mean; purge timers drop windows a minute later.
    /// Includes allocating the event (its time moves on each call).
    /// </summary>
    [Benchmark]
    public long WindowedMean()
    {
        var e = new SensorEvent(SensorId, AreaId, SensorTypes.Traffic, _windowTime, _trafficValues);
        _windowRunner.OnEvent(e, _windowTime - OutOfOrderness, _windowTime, _outputs);
        _windowTime += TimeSpan.FromSeconds(1);
        return _outputs.Total;
    }

    /// <summary>The engine's watermark over 12 partitions, one event each in turn, 1 ms apart.</summary>
    [Benchmark]
    public bool WatermarkObserve()
    {
        var advanced = _tracker.Observe(_partition, _observeTime, _observeTime);
        _partition = _partition == Partitions - 1 ? 0 : _partition + 1;
        _observeTime += TimeSpan.FromMilliseconds(1);
        return advanced;
    }

    /// <summary>The fall rule for a traffic event: the cost of the sensor-type filter.</summary>
    [Benchmark]
    public long FallRuleFiltered()
    {
        _fallRunner.OnEvent(_trafficEvent, _fixedWatermark, _trafficEvent.Timestamp, _outputs);
        return _outputs.Total;
    }

    /// <summary>
    /// The fall rule for a fall event: a new incident (1 ms later) and so a new alert each call. Includes allocating
    /// the event, and a new runner every <see cref="FallRunnerEvents"/> events to drop the open alerts.
    /// </summary>
    [Benchmark]
    public long FallRuleAlert()
    {
        if (++_fallEvents == FallRunnerEvents)
        {
            _fallEvents = 0;
            _fallRunner = NewFallRunner();
        }

        var e = new SensorEvent(SensorId, AreaId, SensorTypes.Fall, _fallTime, _fallValues);
        _fallRunner.OnEvent(e, _fallTime - OutOfOrderness, _fallTime, _outputs);
        _fallTime += TimeSpan.FromMilliseconds(1);
        return _outputs.Total;
    }

    /// <summary>Checks that the benchmarks did what they claim (alerts and aggregates emitted, no rule failed).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        if (_outputs.Failures > 0)
        {
            throw new InvalidOperationException($"{_outputs.Failures} rule failures during the benchmark.");
        }
    }

    private KeyedRuleRunner NewFallRunner() => new(RuleScope.Sensor, SensorId, AreaId, _fallRules, _settings);

    /// <summary>Reads and updates one keyed int.</summary>
    private sealed class CountingRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            ArgumentNullException.ThrowIfNull(context);
            var count = context.State<int>("count");
            count.Update(unchecked(count.Value + 1));
        }
    }
}

using BenchmarkDotNet.Attributes;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Benchmarks;

/// <summary>
/// The built-in rules per event, and what a checkpoint costs per key: <see cref="KeyedRuleRunner.PersistedState"/>, for a road sensor (congestion) and an energy meter (anomaly detector) whose state has filled in, and the
/// encoding of one alert record. Readings are one a second (road) or one a minute (energy), the watermark 5 s behind.
/// </summary>
[BenchmarkCategory("rules")]
public class BuiltInRuleBenchmarks
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan OutOfOrderness = TimeSpan.FromSeconds(5);
    private const string GenericSeries = """{ "nightHours": "none", "threshold": 2, "smoothing": 0.4, "quietAfter": "12h", "calibratedRate": 0.005, "rangeTolerance": 0.05, "minConsecutive": 1, "scoreClip": 4, "maxCalibration": 4 }""";
    private readonly CountingOutputs _outputs = new();
    private readonly EventTimeSettings _settings = new();
    private readonly Random _random = new(5);
    private KeyedRuleRunner _congestion = null!;
    private KeyedRuleRunner _energy = null!;
    private SeriesAnomalyDetector _detector = null!;
    private SeriesAnomalyState _detectorState = null!;
    private DateTimeOffset _detectorTime;
    private DateTimeOffset _roadTime;
    private DateTimeOffset _meterTime;
    private StateDeltaBase _energyBase = null!;
    private byte[] _congestionState = [];
    private byte[] _energyState = [];
    private Alert _alert = null!;

    [GlobalSetup]
    public void Setup()
    {
        _congestion = new KeyedRuleRunner(RuleScope.Sensor, "traffic-000101", "area-001", new RuleSet([new RuleBinding("congestion", new CongestionRule())]), _settings);
        _energy = new KeyedRuleRunner(RuleScope.Sensor, "energy-000109", "area-001", new RuleSet([new RuleBinding("energy-anomaly", new EnergyAnomalyRule(RuleParameters.Empty))]), _settings);
        _roadTime = Start;
        _meterTime = Start;
        // State as a running node has it: an hour of road readings, four weeks of meter readings.
        for (var i = 0; i < 3_600; i++)
        {
            RoadEvent();
        }

        for (var i = 0; i < 4 * 7 * 24 * 60; i++)
        {
            MeterEvent();
        }

        // The base a delta is written against: the meter's state one reading earlier (one reading later is what a
        // checkpoint writes).
        _energyBase = StateDelta.Capture(_energy.WritePersistedState(), 0, "base");
        MeterEvent();
        _congestionState = _congestion.PersistedState();
        _energyState = _energy.PersistedState();

        // The detector alone, with the generic-series parameters (bench/Kommune.Detection), four weeks of minute readings.
        _detector = new SeriesAnomalyDetector(new EnergyAnomalyRule(RuleParameters.FromJson(GenericSeries)).Options);
        _detectorState = new SeriesAnomalyState();
        _detectorTime = Start;
        for (var i = 0; i < 4 * 7 * 24 * 60; i++)
        {
            DetectorReading();
        }

        _alert = new Alert(
            "fall-detection:fall-000401:1795770268638",
            "fall-detection",
            "health",
            "fall",
            AlertSeverity.Critical,
            AlertStatus.Raised,
            1,
            "fall-000401",
            "area-001",
            Start,
            Start,
            "Fall detected by fall-000401 in area-001 (confidence 0.97): care team alerted",
            new Dictionary<string, SensorValue> { ["confidence"] = 0.97, ["posture"] = SensorValue.FromText("lying") })
        {
            Recipients = ["care team"],
        };
    }

    /// <summary>One road reading through the congestion rule (a minute window closes every 60th call).</summary>
    [Benchmark]
    public long CongestionPerEvent() => RoadEvent();

    /// <summary>One meter reading through the energy anomaly detector.</summary>
    [Benchmark]
    public long EnergyAnomalyPerEvent() => MeterEvent();

    /// <summary>One reading through <see cref="SeriesAnomalyDetector.Observe"/> alone (no rule runtime, no event).</summary>
    [Benchmark]
    public int AnomalyDetectorAlone() => DetectorReading();

    /// <summary>A road sensor's checkpoint: its state as the engine persists it (<see cref="KeyedRuleRunner.PersistedState"/>).</summary>
    [Benchmark]
    public int CongestionSnapshot() => _congestion.PersistedState().Length;

    /// <summary>An energy meter's checkpoint: its state as the engine persists it.</summary>
    [Benchmark]
    public int EnergySnapshot() => _energy.PersistedState().Length;

    /// <summary>An energy meter's checkpoint as a delta: its state written, then what changed since its base (one reading earlier), as the engine writes it with <c>StateDeltas</c> on.</summary>
    [Benchmark]
    public int EnergyDelta() => StateDelta.Diff(_energy.WritePersistedState(), _energyBase, int.MaxValue)!.Length;

    /// <summary>A new base of an energy meter's state: the hashes of its properties.</summary>
    [Benchmark]
    public StateDeltaBase EnergyBaseCapture() => StateDelta.Capture(_energy.WritePersistedState(), 0, "base");

    /// <summary>A road sensor's restore: its persisted state decoded and restored into a new runner, as a restarted node does for each key.</summary>
    [Benchmark]
    public int CongestionRestore() => Restore(_congestion, _congestionState);

    /// <summary>An energy meter's restore: its persisted state decoded and restored into a new runner.</summary>
    [Benchmark]
    public int EnergyRestore() => Restore(_energy, _energyState);

    /// <summary>What a restore reads of a road sensor's state while the sensor waits without an actor: its header only.</summary>
    [Benchmark]
    public int CongestionHeader() => KeyedStateHeader.Read(_congestionState)!.Bindings.Count;

    /// <summary>What a restore reads of an energy meter's state while it waits without an actor: its header only.</summary>
    [Benchmark]
    public int EnergyHeader() => KeyedStateHeader.Read(_energyState)!.Bindings.Count;

    /// <summary>One alert record's JSON.</summary>
    [Benchmark]
    public int AlertEncode() => OutputCodec.Encode(_alert).Length;

    private int Restore(KeyedRuleRunner like, byte[] state)
    {
        var runner = new KeyedRuleRunner(RuleScope.Sensor, like.Key, "area-001", like.Rules, _settings);
        return runner.Restore(KeyedStateSnapshot.FromJson(state), _outputs).Count + (runner.HasState ? 1 : 0);
    }

    private long RoadEvent()
    {
        _roadTime = _roadTime.AddSeconds(1);
        var e = new SensorEvent("traffic-000101", "area-001", SensorTypes.Traffic, _roadTime, new Dictionary<string, SensorValue>
        {
            ["speed"] = 40 + (_random.NextDouble() * 30),
            ["occupancy"] = _random.NextDouble() * 40,
        });
        _congestion.OnEvent(e, _roadTime - OutOfOrderness, _roadTime, _outputs);
        return _outputs.Total;
    }

    private int DetectorReading()
    {
        _detectorTime = _detectorTime.AddMinutes(1);
        return _detector.Observe(_detectorState, _detectorTime, 50 + (_random.NextDouble() * 10)).Count;
    }

    private long MeterEvent()
    {
        _meterTime = _meterTime.AddMinutes(1);
        var e = new SensorEvent("energy-000109", "area-001", SensorTypes.Energy, _meterTime, new Dictionary<string, SensorValue>
        {
            ["kw"] = 50 + (_random.NextDouble() * 10),
        });
        _energy.OnEvent(e, _meterTime - OutOfOrderness, _meterTime, _outputs);
        return _outputs.Total;
    }
}

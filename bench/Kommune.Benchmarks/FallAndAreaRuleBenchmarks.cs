using BenchmarkDotNet.Attributes;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Benchmarks;

/// <summary>
/// The built-in rules <see cref="BuiltInRuleBenchmarks"/> does not cover, one event (or fact) per call through
/// <see cref="KeyedRuleRunner"/>: the fall escalation rule for one fall sensor, and the area rules for one area
/// (parking with 30 bays, energy per area with 20 meters, congestion per area with the facts of 40 road segments),
/// at about the rates one area gets in the load test with 10,000 sensors in 100 areas. Event times move on with
/// each call, the watermark 5 s behind (for the congestion area, the segments' windows close as it passes their
/// end), processing time with the event time. Outputs are only counted; each allocates its event or fact. State
/// stays bounded however often BenchmarkDotNet calls a method: alerts are resolved or updated in place, minutes and
/// windows are emitted and purged as the watermark moves on; <see cref="Cleanup"/> checks the outputs.
/// </summary>
[BenchmarkCategory("rules")]
public class FallAndAreaRuleBenchmarks
{
    private const string FallSensor = "fall-000401";
    private const string AreaId = "area-001";
    private const int Bays = 30;
    private const int Meters = 20;
    private const int Segments = 40;
    private const long BayEveryMs = 300;
    private const long MeterEveryMs = 500;
    private const long FactEveryMs = 250;
    private const int CongestionCycleMinutes = 10;

    private static readonly DateTimeOffset Start = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan OutOfOrderness = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan EnergyWindow = TimeSpan.FromMinutes(15);

    private readonly EventTimeSettings _settings = new();
    private readonly Dictionary<string, SensorValue> _fallValues = new(StringComparer.Ordinal)
    {
        ["confidence"] = 0.93,
        ["posture"] = SensorValue.FromText("lying"),
        ["inactivitySeconds"] = 40,
    };

    private readonly Dictionary<string, SensorValue> _okValues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SensorValue> _occupied = new(StringComparer.Ordinal) { ["occupied"] = true };
    private readonly Dictionary<string, SensorValue> _vacant = new(StringComparer.Ordinal) { ["occupied"] = false };
    private readonly Dictionary<string, SensorValue>[] _meterReadings = new Dictionary<string, SensorValue>[64];
    private readonly Dictionary<string, SensorValue>[] _segmentFacts = new Dictionary<string, SensorValue>[Segments];
    private readonly bool[] _bayOccupied = new bool[256];
    private readonly bool[] _segmentCongested = new bool[CongestionCycleMinutes * Segments];
    private readonly string[] _bayIds = new string[Bays];
    private readonly string[] _meterIds = new string[Meters];
    private readonly string[] _segmentIds = new string[Segments];
    private CountingOutputs _fallOutputs = new();
    private CountingOutputs _updateOutputs = new();
    private CountingOutputs _parkingOutputs = new();
    private CountingOutputs _energyOutputs = new();
    private CountingOutputs _congestionOutputs = new();
    private KeyedRuleRunner _fallRunner = null!;
    private KeyedRuleRunner _updateRunner = null!;
    private KeyedRuleRunner _parkingRunner = null!;
    private KeyedRuleRunner _energyRunner = null!;
    private KeyedRuleRunner _congestionRunner = null!;
    private long _fallCalls;
    private long _updateCalls;
    private long _parkingEvents;
    private long _energyEvents;
    private long _facts;

    /// <summary>Fresh runners; the update benchmark's alert raised; readings and facts prepared.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(17);
        for (var i = 0; i < _bayOccupied.Length; i++)
        {
            _bayOccupied[i] = random.NextDouble() < 0.6;
        }

        for (var i = 0; i < _meterReadings.Length; i++)
        {
            _meterReadings[i] = new Dictionary<string, SensorValue>(StringComparer.Ordinal) { ["kw"] = Math.Round(20 + (random.NextDouble() * 40), 2), ["temperature"] = 21.0 };
        }

        for (var i = 0; i < _segmentCongested.Length; i++)
        {
            // Five minutes with about 60 % of the segments congested, then five with about 15 %: the area's alert is
            // raised after three minutes of the first and resolved after three of the second, every 10 minutes.
            _segmentCongested[i] = random.NextDouble() < (i / Segments < CongestionCycleMinutes / 2 ? 0.6 : 0.15);
        }

        for (var i = 0; i < Segments; i++)
        {
            _segmentFacts[i] = new Dictionary<string, SensorValue>(StringComparer.Ordinal)
            {
                ["congested"] = false,
                ["speed"] = Math.Round(20 + (random.NextDouble() * 40), 1),
                ["occupancy"] = Math.Round(random.NextDouble() * 50, 1),
                ["freeFlow"] = 55.0,
                ["windowStart"] = 0L,
            };
            _segmentIds[i] = $"traffic-{(i * 100) + 1:D6}";
        }

        for (var i = 0; i < Bays; i++)
        {
            _bayIds[i] = $"parking-{(i * 100) + 501:D6}";
        }

        for (var i = 0; i < Meters; i++)
        {
            _meterIds[i] = $"energy-{(i * 100) + 801:D6}";
        }

        var fallRules = new RuleSet([new RuleBinding(FallEscalationRule.RuleName, new FallEscalationRule())]);
        _fallRunner = new KeyedRuleRunner(RuleScope.Sensor, FallSensor, AreaId, fallRules, _settings);
        _updateRunner = new KeyedRuleRunner(RuleScope.Sensor, FallSensor, AreaId, fallRules, _settings);
        _parkingRunner = AreaRunner(new ParkingRule());
        _energyRunner = AreaRunner(new EnergyAreaRule(RuleParameters.Empty));
        _congestionRunner = AreaRunner(new CongestionAreaRule());
        (_fallOutputs, _updateOutputs, _parkingOutputs, _energyOutputs, _congestionOutputs) = (new(), new(), new(), new(), new());
        (_fallCalls, _updateCalls, _parkingEvents, _energyEvents, _facts) = (0, 0, 0, 0, 0);

        // The alert the update benchmark's falls update.
        _updateRunner.OnEvent(new SensorEvent(FallSensor, AreaId, SensorTypes.Fall, Start, _fallValues), Start - OutOfOrderness, Start, new CountingOutputs());
    }

    /// <summary>
    /// Alternately a fall (raises the level-1 alert, sets its escalation timer) and the resident's OK a second later
    /// (cancels the timer, resolves the alert): one event per call, one alert record each.
    /// </summary>
    [Benchmark]
    public long FallEscalationRaiseOrOk()
    {
        var time = Start + TimeSpan.FromSeconds(_fallCalls);
        var e = (_fallCalls & 1) == 0
            ? new SensorEvent(FallSensor, AreaId, SensorTypes.Fall, time, _fallValues)
            : new SensorEvent(FallSensor, AreaId, FallEscalationRule.ResidentOk, time, _okValues);
        _fallRunner.OnEvent(e, time - OutOfOrderness, time, _fallOutputs);
        _fallCalls++;
        return _fallOutputs.Total;
    }

    /// <summary>
    /// A fall while the sensor's alert is open (a fall probe every 2 s): the alert is updated with the new evidence;
    /// nobody acknowledges, so it escalates twice (after 60 s and 120 s more), then stays at level 3.
    /// </summary>
    [Benchmark]
    public long FallEscalationUpdate()
    {
        var time = Start + TimeSpan.FromSeconds(2 * (_updateCalls + 1));
        _updateRunner.OnEvent(new SensorEvent(FallSensor, AreaId, SensorTypes.Fall, time, _fallValues), time - OutOfOrderness, time, _updateOutputs);
        _updateCalls++;
        return _updateOutputs.Total;
    }

    /// <summary>
    /// One bay reading through the parking rule of an area with 30 bays, readings 300 ms apart in turn (each bay every
    /// 9 s): every 200th call a minute end passes and the rule emits free spaces and occupancy.
    /// </summary>
    [Benchmark]
    public long ParkingPerEvent()
    {
        var time = Start + TimeSpan.FromMilliseconds(BayEveryMs * _parkingEvents);
        var values = _bayOccupied[_parkingEvents & (_bayOccupied.Length - 1)] ? _occupied : _vacant;
        var e = new SensorEvent(_bayIds[_parkingEvents % Bays], AreaId, SensorTypes.Parking, time, values);
        _parkingRunner.OnEvent(e, time - OutOfOrderness, time, _parkingOutputs);
        _parkingEvents++;
        return _parkingOutputs.Total;
    }

    /// <summary>
    /// One meter reading through the energy-area rule of an area with 20 meters, readings 500 ms apart in turn: every
    /// 1,800th call a 15-minute window closes and the rule emits the area's kWh.
    /// </summary>
    [Benchmark]
    public long EnergyAreaPerEvent()
    {
        var time = Start + TimeSpan.FromMilliseconds(MeterEveryMs * _energyEvents);
        var e = new SensorEvent(_meterIds[_energyEvents % Meters], AreaId, SensorTypes.Energy, time, _meterReadings[_energyEvents & (_meterReadings.Length - 1)]);
        _energyRunner.OnEvent(e, time - OutOfOrderness, time, _energyOutputs);
        _energyEvents++;
        return _energyOutputs.Total;
    }

    /// <summary>
    /// One <c>segment-minute</c> fact through the congestion-area rule: 40 segments per minute, their facts 250 ms
    /// apart as the watermark passes the minute's end; every 40th call the previous minute is emitted (share and mean
    /// speed) and judged; the area's alert is raised and resolved once every 10 minutes. Includes allocating the fact.
    /// </summary>
    [Benchmark]
    public long CongestionAreaPerFact()
    {
        var minute = _facts / Segments;
        var segment = (int)(_facts % Segments);
        var windowStart = Start + TimeSpan.FromMinutes(minute);
        var windowEnd = windowStart + TimeSpan.FromMinutes(1);
        var values = _segmentFacts[segment];
        values["windowStart"] = windowStart.ToUnixTimeMilliseconds();
        values["congested"] = _segmentCongested[_facts % _segmentCongested.Length];
        var watermark = windowEnd + TimeSpan.FromMilliseconds(FactEveryMs * segment);
        _congestionRunner.OnFact(new Fact(CongestionRule.FactName, _segmentIds[segment], AreaId, windowEnd, values), watermark, watermark, _congestionOutputs);
        _facts++;
        return _congestionOutputs.Total;
    }

    /// <summary>
    /// Checks that each benchmark did what it claims: no rule failed, one alert record per fall-or-OK call, an update
    /// (or escalation) per update call, the aggregates of every minute or window the watermark passed, and the area
    /// congestion alert raised and resolved.
    /// </summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        var outputs = new[] { _fallOutputs, _updateOutputs, _parkingOutputs, _energyOutputs, _congestionOutputs };
        if (outputs.Sum(o => o.Failures) is var failures and > 0)
        {
            throw new InvalidOperationException($"{failures} rule failures during the benchmark.");
        }

        Expect("fall raise/OK alert records", _fallOutputs.Alerts, _fallCalls);
        var escalations = Math.Min(2, (_updateCalls * 2 >= 60 ? 1 : 0) + (_updateCalls * 2 >= 180 ? 1 : 0));
        Expect("fall update alert records", _updateOutputs.Alerts, _updateCalls + escalations);
        Expect("parking aggregates", _parkingOutputs.Aggregates, 2 * Passed(_parkingEvents, BayEveryMs, TimeSpan.FromMinutes(1)));
        Expect("energy-area aggregates", _energyOutputs.Aggregates, Passed(_energyEvents, MeterEveryMs, EnergyWindow));
        Expect("congestion-area aggregates", _congestionOutputs.Aggregates, _facts > 0 ? 2 * ((_facts - 1) / Segments) : 0);
        if (_facts > 2 * CongestionCycleMinutes * Segments && _congestionOutputs.Alerts < 2)
        {
            throw new InvalidOperationException($"congestion-area: {_congestionOutputs.Alerts} alert records after {_facts / Segments} minutes, expected a raise and a resolve.");
        }
    }

    /// <summary>How many window ends (every <paramref name="window"/> from Start) the watermark passed by the last of <paramref name="events"/>.</summary>
    private static long Passed(long events, long everyMs, TimeSpan window)
    {
        var watermark = (everyMs * (events - 1)) - (long)OutOfOrderness.TotalMilliseconds;
        return events > 0 && watermark > 0 ? watermark / (long)window.TotalMilliseconds : 0;
    }

    private static void Expect(string what, long actual, long expected)
    {
        if (actual != expected)
        {
            throw new InvalidOperationException($"{what}: {actual}, expected {expected}.");
        }
    }

    private KeyedRuleRunner AreaRunner(Rule rule) =>
        new(RuleScope.Area, AreaId, AreaId, new RuleSet([new RuleBinding(rule.GetType().Name, rule)]), _settings);
}

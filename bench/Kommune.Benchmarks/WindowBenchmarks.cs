using BenchmarkDotNet.Attributes;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Windows;

namespace Kommune.Benchmarks;

/// <summary>
/// The window operations of <c>Kommune.Rules.Windows</c>, from the parts to the whole: assigning an event time to
/// tumbling and sliding windows (<see cref="WindowSpec"/>), adding a value to one window's statistics
/// (<see cref="WindowAccumulator"/>) and to a quantile sketch, querying a minute's sketch, computing a window's
/// result (<see cref="WindowResult"/>), and one reading through a rule with a <see cref="WindowedAggregation"/>
/// (tumbling, and sliding so that each value goes to five windows) whose windows fire and are purged. Values are
/// speeds between 20 and 90 km/h, event times 1 s apart, the watermark 5 s behind. State stays bounded however often
/// BenchmarkDotNet calls a method: a sketch has one bucket per 2 % of the value range, and the rules' windows are
/// purged a minute (the allowed lateness) after they fire.
/// </summary>
[BenchmarkCategory("windows")]
public class WindowBenchmarks
{
    private const int ValueCount = 4096; // a power of two, for the mask
    private const string SensorId = "traffic-000101";
    private const string AreaId = "area-001";

    private static readonly DateTimeOffset Start = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan OutOfOrderness = TimeSpan.FromSeconds(5);

    private readonly WindowSpec _tumbling = WindowSpec.Tumbling(TimeSpan.FromMinutes(1));
    private readonly WindowSpec _sliding = WindowSpec.Hopping(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1));
    private readonly EventTimeSettings _settings = new();
    private readonly double[] _values = new double[ValueCount];
    private readonly Dictionary<string, SensorValue>[] _readings = new Dictionary<string, SensorValue>[64];
    private CountingOutputs _tumblingOutputs = new();
    private CountingOutputs _slidingOutputs = new();
    private WindowAccumulator _accumulator = null!;
    private QuantileSketch _sketch = null!;
    private WindowAccumulator _minute = null!;
    private KeyedRuleRunner _tumblingRunner = null!;
    private KeyedRuleRunner _slidingRunner = null!;
    private long _assignTime;
    private int _next;
    private long _tumblingEvents;
    private long _slidingEvents;

    /// <summary>The values, a minute's window of 60 of them, fresh accumulators and runners.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        for (var i = 0; i < _values.Length; i++)
        {
            _values[i] = Math.Round(20 + (random.NextDouble() * 70), 1);
        }

        for (var i = 0; i < _readings.Length; i++)
        {
            _readings[i] = new Dictionary<string, SensorValue>(StringComparer.Ordinal) { ["speed"] = _values[i], ["occupancy"] = 20.0 };
        }

        _accumulator = new WindowAccumulator { Start = Start.ToUnixTimeMilliseconds(), End = Start.ToUnixTimeMilliseconds() + 60_000 };
        _sketch = new QuantileSketch();
        _minute = new WindowAccumulator { Start = _accumulator.Start, End = _accumulator.End };
        for (var i = 0; i < 60; i++)
        {
            _minute.Add(_values[i]);
        }

        _tumblingRunner = new KeyedRuleRunner(RuleScope.Sensor, SensorId, AreaId, new RuleSet([new RuleBinding("speed-1m", new SpeedWindowRule(_tumbling, withPercentile: true))]), _settings);
        _slidingRunner = new KeyedRuleRunner(RuleScope.Sensor, SensorId, AreaId, new RuleSet([new RuleBinding("speed-5m", new SpeedWindowRule(_sliding, withPercentile: true))]), _settings);
        _tumblingOutputs = new CountingOutputs();
        _slidingOutputs = new CountingOutputs();
        _assignTime = Start.ToUnixTimeMilliseconds();
        _next = 0;
        _tumblingEvents = 0;
        _slidingEvents = 0;
    }

    /// <summary>The start of the one tumbling 1-minute window an event time belongs to.</summary>
    [Benchmark]
    public long AssignTumbling() => Assign(_tumbling);

    /// <summary>The starts of the five sliding windows (5 minutes, every minute) an event time belongs to.</summary>
    [Benchmark]
    public long AssignSliding() => Assign(_sliding);

    /// <summary>One value into a window's statistics: count, sum, min, max and its quantile sketch.</summary>
    [Benchmark]
    public long AccumulatorAdd()
    {
        _accumulator.Add(NextValue());
        return _accumulator.Count;
    }

    /// <summary>One value into a quantile sketch alone.</summary>
    [Benchmark]
    public int SketchAdd()
    {
        _sketch.Add(NextValue());
        return _sketch.Positive.Count;
    }

    /// <summary>The p95 of a minute's sketch (60 values).</summary>
    [Benchmark]
    public double SketchQuantile() => _minute.Sketch.Quantile(0.95, _minute.Count);

    /// <summary>
    /// A minute window's result as its callback gets it (the statistics copied, the sketch cloned), then its mean and
    /// p95.
    /// </summary>
    [Benchmark]
    public double WindowResultMeanP95()
    {
        var result = new WindowResult("speed", _minute, isUpdate: false);
        return result.Mean + result.Percentile(0.95);
    }

    /// <summary>
    /// One reading through a rule with a tumbling 1-minute <see cref="WindowedAggregation"/> of the speed: every 60th
    /// call fires a window, whose callback emits its mean and p95; a window is purged a minute later. Includes
    /// allocating the event (its time moves on).
    /// </summary>
    [Benchmark]
    public long TumblingAggregationPerEvent() => Reading(_tumblingRunner, _tumblingOutputs, ref _tumblingEvents);

    /// <summary>
    /// The same through sliding windows (5 minutes, every minute): each reading goes to five windows; every 60th call
    /// fires one.
    /// </summary>
    [Benchmark]
    public long SlidingAggregationPerEvent() => Reading(_slidingRunner, _slidingOutputs, ref _slidingEvents);

    /// <summary>
    /// Checks that the aggregations did what they claim: no rule failed, exactly two aggregates per window the
    /// watermark passed, and no window or timer older than the allowed lateness left behind.
    /// </summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Check("tumbling", _tumblingRunner, _tumblingOutputs, _tumblingEvents);
        Check("sliding", _slidingRunner, _slidingOutputs, _slidingEvents);
        if (_sketch.Positive.Count > 100)
        {
            throw new InvalidOperationException($"The sketch has {_sketch.Positive.Count} buckets for values between 20 and 90.");
        }
    }

    private void Check(string name, KeyedRuleRunner runner, CountingOutputs outputs, long events)
    {
        if (outputs.Failures > 0)
        {
            throw new InvalidOperationException($"{name}: {outputs.Failures} rule failures.");
        }

        // Event i is at Start + i s with the watermark 5 s behind; windows end on whole minutes after Start.
        var expected = events > 6 ? 2 * ((events - 6) / 60) : 0;
        if (outputs.Aggregates != expected)
        {
            throw new InvalidOperationException($"{name}: {outputs.Aggregates} aggregates after {events} readings, expected {expected}.");
        }

        if (events > 0 && runner.NextEventTimeTimer < runner.LastEventTime - (_sliding.Size + _settings.AllowedLateness + TimeSpan.FromMinutes(1)))
        {
            throw new InvalidOperationException($"{name}: a timer at {runner.NextEventTimeTimer:O} is left behind (last event {runner.LastEventTime:O}).");
        }
    }

    private double NextValue() => _values[_next++ & (ValueCount - 1)];

    /// <summary>The windows the next event time (1 s on) belongs to, summed so none is optimised away.</summary>
    private long Assign(WindowSpec windows)
    {
        long sum = 0;
        foreach (var start in windows.StartsOf(_assignTime))
        {
            sum += start;
        }

        _assignTime += 1_000;
        return sum;
    }

    private long Reading(KeyedRuleRunner runner, CountingOutputs outputs, ref long events)
    {
        var time = Start + TimeSpan.FromSeconds(events);
        var e = new SensorEvent(SensorId, AreaId, SensorTypes.Traffic, time, _readings[events & (_readings.Length - 1)]);
        runner.OnEvent(e, time - OutOfOrderness, time, outputs);
        events++;
        return outputs.Total;
    }
}

using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Kommune.Engine.Observability;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Runtime;

namespace Kommune.Benchmarks;

/// <summary>
/// What the Prometheus metrics add to each event: <see cref="PerEvent"/> is what the engine records for one event
/// that two rules handle (its type counted, its processing latency and each rule's evaluation time observed), and
/// <see cref="Scrape"/> is one /metrics response with every engine and runtime metric and 12 partitions of lag.
/// </summary>
[BenchmarkCategory("metrics")]
public class MetricsBenchmarks
{
    private EngineMetrics _metrics = null!;
    private RuleBinding _congestion = null!;
    private RuleBinding _parking = null!;
    private long _consumedAt;

    [GlobalSetup]
    public void Setup()
    {
        _congestion = new RuleBinding(CongestionRule.RuleName, new CongestionRule());
        _parking = new RuleBinding(ParkingRule.RuleName, new ParkingRule());
        _metrics = new EngineMetrics("kommune.sensor-events", new RuleSet([_congestion, _parking]));
        for (var p = 0; p < 12; p++)
        {
            _metrics.ConsumerLag.WithLabels("kommune.sensor-events", p.ToString(System.Globalization.CultureInfo.InvariantCulture)).Set(p);
        }

        _consumedAt = Stopwatch.GetTimestamp();
    }

    [Benchmark]
    public void PerEvent()
    {
        _metrics.Evaluated(_congestion, 1_234);
        _metrics.Evaluated(_parking, 2_345);
        _metrics.EventReleased(_consumedAt);
        _metrics.EventProcessed("traffic");
    }

    [Benchmark]
    public Task Scrape() => _metrics.Registry.CollectAndExportAsTextAsync(Stream.Null);
}

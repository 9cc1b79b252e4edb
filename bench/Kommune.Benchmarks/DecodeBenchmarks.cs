using System.Text;
using BenchmarkDotNet.Attributes;
using Kommune.Connectors.Codecs;

namespace Kommune.Benchmarks;

/// <summary>
/// Decoding one ~200-byte sensor event, the first step of the hot path: one whose values a rule reads, and one that no
/// rule takes (its values only checked, as the engine's decoder does when its rules want no events of that type).
/// </summary>
[BenchmarkCategory("decode")]
public class DecodeBenchmarks
{
    private readonly SensorEventDecoder _decoder = new();
    private readonly SensorEventDecoder _unwanted = new() { ValuesWanted = static (_, _) => false };
    private byte[] _key = [];
    private byte[] _value = [];

    [GlobalSetup]
    public void Setup()
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _key = Encoding.UTF8.GetBytes("traffic-000123");
        _value = Encoding.UTF8.GetBytes($"{{\"sensorId\":\"traffic-000123\",\"areaId\":\"area-007\",\"type\":\"traffic\",\"ts\":{ts},\"values\":{{\"speed\":47.5,\"flow\":1210,\"occupancy\":23.4}}}}");
    }

    /// <summary>The event with its values read.</summary>
    [Benchmark(Baseline = true)]
    public bool DecodeTrafficEvent() => _decoder.TryDecode(_key, _value, out _, out _);

    /// <summary>The same event when no rule takes traffic events: its values checked and kept as their JSON.</summary>
    [Benchmark]
    public bool DecodeUnwantedEvent() => _unwanted.TryDecode(_key, _value, out _, out _);
}

using System.Text;
using BenchmarkDotNet.Attributes;
using Kommune.Connectors.Codecs;

namespace Kommune.Benchmarks;

/// <summary>Decoding one ~200-byte sensor event, the first step of the hot path.</summary>
[BenchmarkCategory("decode")]
public class DecodeBenchmarks
{
    private readonly SensorEventDecoder _decoder = new();
    private byte[] _key = [];
    private byte[] _value = [];

    [GlobalSetup]
    public void Setup()
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _key = Encoding.UTF8.GetBytes("traffic-000123");
        _value = Encoding.UTF8.GetBytes($"{{\"sensorId\":\"traffic-000123\",\"areaId\":\"area-007\",\"type\":\"traffic\",\"ts\":{ts},\"values\":{{\"speed\":47.5,\"flow\":1210,\"occupancy\":23.4}}}}");
    }

    [Benchmark]
    public bool DecodeTrafficEvent() => _decoder.TryDecode(_key, _value, out _, out _);
}

using BenchmarkDotNet.Attributes;
using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Benchmarks;

/// <summary>
/// A node's watermark report over its 256 sensor partitions (up to 20 a second), which it writes to every one of 256
/// repartition partitions, and which every node reads once per repartition partition it holds.
/// </summary>
[BenchmarkCategory("watermark")]
public class WatermarkReportBenchmarks
{
    private const int Partitions = 256;
    private Dictionary<int, DateTimeOffset?> _report = [];
    private Dictionary<int, long> _floors = [];
    private Message<byte[]?, byte[]?> _encoded = null!;
    private Message<byte[]?, byte[]?> _other = null!;

    [GlobalSetup]
    public void Setup()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_764_979_200_000);
        _report = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => p % 17 == 0 ? null : (DateTimeOffset?)at.AddMilliseconds(p));
        _floors = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => 1_000_000L + p);
        _encoded = RepartitionCodec.Watermark(_report, _floors);
        _other = RepartitionCodec.Watermark(_report.ToDictionary(w => w.Key, w => w.Value?.AddSeconds(1)), _floors);
    }

    /// <summary>One report encoded.</summary>
    [Benchmark]
    public Message<byte[]?, byte[]?> Encode() => RepartitionCodec.Watermark(_report, _floors);

    /// <summary>The same report for another partition, as the engine now writes it after the first.</summary>
    [Benchmark]
    public Message<byte[]?, byte[]?> EncodeAgain() => RepartitionCodec.WatermarkAgain(_encoded);

    /// <summary>One report read that differs from the last one read (parsed).</summary>
    [Benchmark]
    public bool DecodeNew()
    {
        RepartitionCodec.TryDecode(null, _other.Value, _other.Headers, out _, out _);
        return RepartitionCodec.TryDecode(null, _encoded.Value, _encoded.Headers, out _, out _);
    }

    /// <summary>The same report read again, from the next partition.</summary>
    [Benchmark]
    public bool DecodeRepeat() => RepartitionCodec.TryDecode(null, _encoded.Value, _encoded.Headers, out _, out _);
}

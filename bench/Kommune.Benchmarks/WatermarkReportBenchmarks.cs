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
    private Message<byte[]?, byte[]?>[] _others = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_764_979_200_000);
        _report = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => p % 17 == 0 ? null : (DateTimeOffset?)at.AddMilliseconds(p));
        _floors = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => 1_000_000L + p);
        _encoded = RepartitionCodec.Watermark(_report, _floors);
        // More different reports than a reader keeps, read in turn: each is parsed.
        _others = Enumerable.Range(1, 64).Select(s => RepartitionCodec.Watermark(_report.ToDictionary(w => w.Key, w => w.Value?.AddSeconds(s)), _floors)).ToArray();
    }

    /// <summary>One report encoded.</summary>
    [Benchmark]
    public Message<byte[]?, byte[]?> Encode() => RepartitionCodec.Watermark(_report, _floors);

    /// <summary>The same report for another partition, as the engine now writes it after the first.</summary>
    [Benchmark]
    public Message<byte[]?, byte[]?> EncodeAgain() => RepartitionCodec.WatermarkAgain(_encoded);

    /// <summary>One report read that is none of the last ones read (parsed).</summary>
    [Benchmark]
    public bool DecodeNew()
    {
        var report = _others[_next++ % _others.Length];
        return RepartitionCodec.TryDecode(null, report.Value, report.Headers, out _, out _);
    }

    /// <summary>
    /// A report read again, as from the next partition, among 15 others read in between (a reader keeps 16): per read.
    /// </summary>
    [Benchmark(OperationsPerInvoke = 17)]
    public bool DecodeRepeat()
    {
        RepartitionCodec.TryDecode(null, _encoded.Value, _encoded.Headers, out _, out _);
        for (var i = 0; i < 15; i++)
        {
            RepartitionCodec.TryDecode(null, _others[i].Value, _others[i].Headers, out _, out _);
        }

        return RepartitionCodec.TryDecode(null, _encoded.Value, _encoded.Headers, out _, out _);
    }
}

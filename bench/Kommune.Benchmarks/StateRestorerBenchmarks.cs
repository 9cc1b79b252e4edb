using BenchmarkDotNet.Attributes;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Benchmarks;

/// <summary>
/// One restore of a node's whole state topic (<see cref="Partitions"/> partitions of a few keys each, ending with a
/// hand-over mark) from the embedded broker, with the broker's round trip set to <see cref="RoundTripMs"/>: what the
/// restore's requests to the broker cost before the first key is handed over, apart from the reading of records. Loopback
/// answers in microseconds; 1 ms is a broker in the same data centre.
/// </summary>
[BenchmarkCategory("restore")]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class StateRestorerBenchmarks
{
    private const string Topic = "kommune.state";
    private const int KeysPerPartition = 4;

    private EmbeddedKafkaCluster _cluster = null!;
    private KafkaStateRestorer _restorer = null!;
    private int[] _partitions = [];

    /// <summary>The state topic's partitions, all restored: the restore benchmark's count (bench/profile/restore.py).</summary>
    [Params(256)]
    public int Partitions { get; set; }

    /// <summary>The broker's round trip, in milliseconds.</summary>
    [Params(0, 1)]
    public int RoundTripMs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cluster = EmbeddedKafkaCluster.Start(1);
        _cluster.CreateTopic(Topic, Partitions);
        _partitions = Enumerable.Range(0, Partitions).ToArray();
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers, EnableIdempotence = true }).Build())
        {
            foreach (var partition in _partitions)
            {
                for (var k = 0; k < KeysPerPartition; k++)
                {
                    var record = new StateRecord($"sensor:s-{partition}-{k}", "{}"u8.ToArray(), partition, new Dictionary<int, long> { [partition] = k + 1 });
                    foreach (var message in StateRecordFormat.Encode(record, previousChunks: 0, out _))
                    {
                        producer.Produce(new TopicPartition(Topic, partition), message);
                    }
                }
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        _restorer = new KafkaStateRestorer(_cluster.BootstrapServers, KafkaClientSettings.None, Topic, TimeSpan.FromMinutes(1), new StateChunkLedger(), NullLogger.Instance);
        _cluster.SetBrokerRoundTrip(1, TimeSpan.FromMilliseconds(RoundTripMs));
    }

    [GlobalCleanup]
    public void Cleanup() => _cluster.Dispose();

    [Benchmark]
    public int Restore() => _restorer.Restore(_partitions, _ => true);
}

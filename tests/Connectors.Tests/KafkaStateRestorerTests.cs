using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Tests;

/// <summary>The state restorer against the embedded broker: what it reads back of the state topic, and what it reports.</summary>
public sealed class KafkaStateRestorerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public void Partitions_is_the_state_topics_partition_count_and_0_with_an_error_when_the_cluster_refuses_the_topic()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 3);
        cluster.CreateTopic("forbidden-state", partitions: 3);
        cluster.SetTopicError("forbidden-state", ErrorCode.TopicAuthorizationFailed);
        var logger = new RecordingLogger();

        Assert.Equal(3, Restorer(cluster, "state", new StateChunkLedger(), logger).Partitions());
        Assert.Equal(0, Restorer(cluster, "forbidden-state", new StateChunkLedger(), logger).Partitions());

        var error = Assert.Single(logger.Lines, l => l.Level == LogLevel.Error);
        Assert.Equal(3102, error.EventId);
        Assert.Contains("forbidden-state", error.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void It_hands_over_the_newest_state_of_each_key_of_the_partitions_asked_for_and_counts_the_keys_taken()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);
        var large = RandomNumberGenerator.GetBytes(1_200_000); // incompressible: written in chunks
        Write(cluster, "state",
            new StateRecord("sensor:s-1", "old"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 4 }),
            new StateRecord("sensor:s-1", "new"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 9 }),
            new StateRecord("sensor:gone", "soon removed"u8.ToArray(), 0),
            new StateRecord("sensor:gone", null, 0),
            new StateRecord("area:a-1", large, 0),
            new StateRecord("sensor:not-mine", "another task's"u8.ToArray(), 0),
            new StateRecord("sensor:other-partition", "not asked for"u8.ToArray(), 1));
        var chunks = new StateChunkLedger();
        var logger = new RecordingLogger();
        var seen = new Dictionary<string, RestoredState>();

        var taken = Restorer(cluster, "state", chunks, logger).Restore([0], state =>
        {
            seen.Add(state.Key, state);
            return state.Key != "sensor:not-mine";
        });

        Assert.Equal(2, taken);
        Assert.Equal(["area:a-1", "sensor:not-mine", "sensor:s-1"], seen.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("new", Encoding.UTF8.GetString(seen["sensor:s-1"].Value));
        Assert.Equal(9, seen["sensor:s-1"].Covers[0]);
        Assert.Equal(large, seen["area:a-1"].Value);
        Assert.True(seen["area:a-1"].Chunks > 1);
        Assert.Equal(seen["area:a-1"].Chunks, chunks.Get("area:a-1")); // the writer deletes those chunks when the state shrinks
        var restored = Assert.Single(logger.Lines, l => l.EventId == 3101);
        Assert.Contains("Restored the state of 2 keys", restored.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_state_the_engine_cannot_read_is_logged_as_unreadable_not_counted_and_the_restore_goes_on()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 1);
        Write(cluster, "state",
            new StateRecord("sensor:garbled", "{not json"u8.ToArray(), 0),
            new StateRecord("sensor:fine", "{}"u8.ToArray(), 0));
        var logger = new RecordingLogger();
        var seen = new List<string>();

        var taken = Restorer(cluster, "state", new StateChunkLedger(), logger).Restore([0], state =>
        {
            seen.Add(state.Key);
            return state.Key == "sensor:garbled" ? throw new InvalidDataException("not a snapshot") : true;
        });

        Assert.Equal(1, taken);
        Assert.Equal(["sensor:fine", "sensor:garbled"], seen.Order(StringComparer.Ordinal));
        var unreadable = Assert.Single(logger.Lines, l => l.EventId == 3104);
        Assert.Equal(LogLevel.Error, unreadable.Level);
        Assert.Contains("sensor:garbled", unreadable.Text, StringComparison.Ordinal);
        Assert.Contains("not a snapshot", unreadable.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Partitions_with_no_records_restore_nothing_at_once()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);

        var taken = Restorer(cluster, "state", new StateChunkLedger(), new RecordingLogger()).Restore([0, 1], _ => throw new InvalidOperationException("nothing to hand over"));

        Assert.Equal(0, taken);
    }

    private static KafkaStateRestorer Restorer(EmbeddedKafkaCluster cluster, string topic, StateChunkLedger chunks, ILogger logger) =>
        new(cluster.BootstrapServers, KafkaClientSettings.None, topic, Wait, chunks, logger);

    /// <summary>Writes the records as the engine's state writer does (<see cref="StateRecordFormat"/>), in order.</summary>
    private static void Write(EmbeddedKafkaCluster cluster, string topic, params StateRecord[] records)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            MessageMaxBytes = 2_000_000,
        }).Build();
        foreach (var record in records)
        {
            foreach (var message in StateRecordFormat.Encode(record, previousChunks: 0, out _))
            {
                producer.Produce(new TopicPartition(topic, record.Partition), message);
            }
        }

        Assert.Equal(0, producer.Flush(Wait));
    }
}

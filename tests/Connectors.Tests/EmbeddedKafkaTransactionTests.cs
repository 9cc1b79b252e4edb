using Confluent.Kafka;
using Kommune.Connectors.Broker;

namespace Kommune.Connectors.Tests;

/// <summary>
/// What the embedded broker (librdkafka's mock cluster) does with Kafka transactions, pinned down because the engine's
/// exactly-once tests rely on it and docs/reliability.md says what it cannot show. It accepts the whole protocol
/// (InitProducerId, AddPartitionsToTxn, TxnOffsetCommit, EndTxn) and commits and aborts, but unlike Kafka: aborted
/// records stay visible to read_committed readers, offsets sent in a transaction are not stored, and a second producer
/// with the same transactional.id neither fences the first nor aborts its open transaction. If a librdkafka upgrade
/// changes any of this, these tests say so.
/// </summary>
public sealed class EmbeddedKafkaTransactionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public void Aborted_records_stay_visible_to_read_committed_readers()
    {
        using var cluster = EmbeddedKafkaCluster.Start();
        cluster.CreateTopic("out", partitions: 1);
        using var producer = Transactional(cluster, "tx-1");
        producer.InitTransactions(Timeout);
        foreach (var (value, commit) in new[] { ((byte)1, true), ((byte)2, false), ((byte)3, true) })
        {
            producer.BeginTransaction();
            producer.Produce("out", new Message<byte[]?, byte[]?> { Value = [value] });
            if (commit)
            {
                producer.CommitTransaction(Timeout);
            }
            else
            {
                Assert.Equal(0, producer.Flush(Timeout));
                producer.AbortTransaction(Timeout);
            }
        }

        // Kafka: [1, 3] for read_committed. (An abort does purge records not yet sent: those never reach the log.)
        Assert.Equal([1, 2, 3], ReadAll(cluster, "out", IsolationLevel.ReadCommitted));
    }

    [Fact]
    public void Offsets_sent_in_a_transaction_are_accepted_but_not_stored()
    {
        using var cluster = EmbeddedKafkaCluster.Start();
        cluster.CreateTopic("in", partitions: 1);
        cluster.CreateTopic("out", partitions: 1);
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "g", EnableAutoCommit = false }).Build();
        using var producer = Transactional(cluster, "tx-1");
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        producer.Produce("out", new Message<byte[]?, byte[]?> { Value = [1] });
        producer.SendOffsetsToTransaction([new TopicPartitionOffset("in", 0, 5)], consumer.ConsumerGroupMetadata, Timeout);
        producer.CommitTransaction(Timeout);

        // Kafka would now hold offset 5 for the group; the engine therefore commits the same offsets with its consumer too.
        Assert.Equal(Offset.Unset, consumer.Committed([new TopicPartition("in", 0)], Timeout).Single().Offset);
    }

    [Fact]
    public void A_successor_with_the_same_transactional_id_neither_fences_nor_aborts_its_predecessor()
    {
        using var cluster = EmbeddedKafkaCluster.Start();
        cluster.CreateTopic("out", partitions: 1);
        using var killed = Transactional(cluster, "tx-node");
        killed.InitTransactions(Timeout);
        killed.BeginTransaction();
        killed.Produce("out", new Message<byte[]?, byte[]?> { Value = [1] });
        Assert.Equal(0, killed.Flush(Timeout));

        using var successor = Transactional(cluster, "tx-node");
        successor.InitTransactions(Timeout);
        successor.BeginTransaction();
        successor.Produce("out", new Message<byte[]?, byte[]?> { Value = [2] });
        successor.CommitTransaction(Timeout);

        // Kafka aborts the predecessor's open transaction here (read_committed: [2]) and fences it; this broker does neither.
        Assert.Equal([1, 2], ReadAll(cluster, "out", IsolationLevel.ReadCommitted));
        killed.CommitTransaction(Timeout);
    }

    private static IProducer<byte[]?, byte[]?> Transactional(EmbeddedKafkaCluster cluster, string id) =>
        new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, TransactionalId = id }).Build();

    private static List<byte> ReadAll(EmbeddedKafkaCluster cluster, string topic, IsolationLevel isolation)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = $"reader-{Guid.NewGuid():N}",
            IsolationLevel = isolation,
            EnablePartitionEof = true,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var values = new List<byte>();
        while (consumer.Consume(Timeout) is { } record && !record.IsPartitionEOF)
        {
            values.Add(record.Message.Value![0]);
        }

        return values;
    }
}

using Confluent.Kafka;
using Kommune.Connectors.Broker;

namespace Kommune.Connectors.Tests;

public sealed class EmbeddedKafkaClusterFaultTests
{
    private static readonly TimeSpan WaitBound = TimeSpan.FromSeconds(20);

    private static IProducer<string, string> NewProducer(EmbeddedKafkaCluster cluster, int messageTimeoutMs) =>
        new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            MessageTimeoutMs = messageTimeoutMs,
            SocketTimeoutMs = 2_000,
            ReconnectBackoffMs = 50,
            ReconnectBackoffMaxMs = 200,
        })
        .SetLogHandler((_, _) => { }) // the broker being down is expected: keep the test output quiet
        .Build();

    [Fact]
    public void Creating_the_same_topic_twice_throws_KafkaException()
    {
        using var cluster = EmbeddedKafkaCluster.Start();
        cluster.CreateTopic("twice", partitions: 2);

        var error = Assert.Throws<KafkaException>(() => cluster.CreateTopic("twice", partitions: 2));

        Assert.Contains("twice", error.Error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_twice_does_not_throw()
    {
        var cluster = EmbeddedKafkaCluster.Start();
        cluster.CreateTopic("t", partitions: 1);

        cluster.Dispose();
        var second = Record.Exception(cluster.Dispose);

        Assert.Null(second);
    }

    [Fact]
    public void Using_a_disposed_cluster_throws_ObjectDisposedException()
    {
        var cluster = EmbeddedKafkaCluster.Start();
        cluster.Dispose();

        Assert.Throws<ObjectDisposedException>(() => cluster.CreateTopic("t", partitions: 1));
    }

    [Fact]
    public async Task Produce_fails_while_the_only_broker_is_down_and_succeeds_after_it_is_up_again()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("faults", partitions: 1);

        cluster.SetBrokerDown(1);
        using (var producer = NewProducer(cluster, messageTimeoutMs: 2_000))
        {
            var attempt = producer.ProduceAsync("faults", new Message<string, string> { Key = "k", Value = "while-down" });

            DeliveryResult<string, string>? result = null;
            ProduceException<string, string>? failure = null;
            try
            {
                // A TimeoutException from WaitAsync escapes and fails the test: delivery must fail, not hang.
                result = await attempt.WaitAsync(WaitBound);
            }
            catch (ProduceException<string, string> e)
            {
                failure = e;
            }

            if (failure is not null)
            {
                Assert.True(failure.Error.IsError);
                Assert.NotEqual(PersistenceStatus.Persisted, failure.DeliveryResult.Status);
            }
            else
            {
                // Some client versions report the failure in the result instead of throwing.
                Assert.NotNull(result);
                Assert.NotEqual(PersistenceStatus.Persisted, result.Status);
            }

            Assert.Equal(0, producer.Flush(WaitBound));
        }

        cluster.SetBrokerUp(1);
        using (var producer = NewProducer(cluster, messageTimeoutMs: 15_000))
        {
            var delivered = await producer.ProduceAsync("faults", new Message<string, string> { Key = "k", Value = "after-up" }).WaitAsync(WaitBound);

            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
            Assert.Equal("faults", delivered.Topic);
        }
    }
}

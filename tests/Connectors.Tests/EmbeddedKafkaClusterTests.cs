using Confluent.Kafka;
using Kommune.Connectors.Broker;

namespace Kommune.Connectors.Tests;

public sealed class EmbeddedKafkaClusterTests
{
    [Fact]
    public void Produced_records_are_consumed_through_the_real_protocol()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);
        cluster.CreateTopic("t", partitions: 4);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build())
        {
            for (var i = 0; i < 10; i++)
            {
                producer.Produce("t", new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "g",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("t");
        var seen = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (seen.Count < 10 && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is not null)
            {
                seen.Add(r.Message.Value);
            }
        }

        Assert.Equal(10, seen.Count);
    }
}

using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

/// <summary>
/// Where partitions end, asked of the embedded broker in one request without the asking thread waiting: answers reach
/// the monitor only when taken, a partition is asked once until then, a forgotten question's answer is dropped, and a
/// broker that is down leaves the partitions unconfirmed and askable again.
/// </summary>
public sealed class PartitionEndQueriesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly DateTime T0 = new(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Every_partition_asked_together_is_answered_in_one_request_and_reaches_the_monitor_when_taken()
    {
        using var asking = new Asking(8, TimeSpan.FromSeconds(5));
        var (partitions, monitor, queries) = (asking.Partitions, asking.Monitor, asking.Queries);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = asking.Cluster.BootstrapServers }).Build();
        for (var partition = 0; partition < 8; partition++)
        {
            for (var i = 0; i < partition; i++)
            {
                producer.Produce(new TopicPartition("events", partition), new Message<Null, string> { Value = "x" });
            }
        }

        producer.Flush(Wait);

        queries.Ask(partitions, T0);
        queries.Ask(partitions, T0); // asked already: not asked again
        Assert.Equal(1, queries.Requests);
        Assert.All(monitor.Snapshot(T0, []), p => Assert.False(p.CaughtUp)); // nothing known before it is taken

        TakeEveryAnswer(queries, monitor);

        // Every partition read to where the broker said it ends (nothing read from an empty one): caught up, as of the ask.
        foreach (var tp in partitions.Where(tp => tp.Partition.Value > 0))
        {
            monitor.Taken(tp, tp.Partition.Value - 1, T0);
        }

        var progress = monitor.Snapshot(T0.AddSeconds(1), []);
        Assert.All(progress, p => Assert.True(p.CaughtUp, $"partition {p.Partition}"));
        Assert.All(progress, p => Assert.Equal(0, p.Lag));
        Assert.All(monitor.Snapshot(T0 + PartitionMonitor.EndKnowledgeLifetime + TimeSpan.FromSeconds(1), []), p => Assert.False(p.CaughtUp));
    }

    [Fact]
    public void An_answer_to_a_question_forgotten_since_is_dropped_and_the_partition_may_be_asked_again_at_once()
    {
        using var asking = new Asking(2, TimeSpan.FromSeconds(5));
        var (partitions, monitor, queries) = (asking.Partitions, asking.Monitor, asking.Queries);

        queries.Ask(partitions, T0);
        queries.Forget();
        Assert.Equal(0, queries.Outstanding);
        queries.Ask(partitions[..1], T0.AddSeconds(10));
        Assert.Equal(2, queries.Requests);

        TakeEveryAnswer(queries, monitor);

        // Only the question asked after the Forget counts: partition 0 as of T0 + 10 s, partition 1 not at all.
        var progress = monitor.Snapshot(T0.AddSeconds(11), []);
        Assert.True(progress.Single(p => p.Partition == 0).CaughtUp);
        Assert.False(progress.Single(p => p.Partition == 1).CaughtUp);
    }

    [Fact]
    public void A_broker_that_does_not_answer_leaves_the_partitions_unconfirmed_and_askable_again()
    {
        using var asking = new Asking(2, TimeSpan.FromMilliseconds(500));
        var (partitions, monitor, queries) = (asking.Partitions, asking.Monitor, asking.Queries);

        asking.Cluster.SetBrokerDown(1);
        queries.Ask(partitions, T0);
        Assert.Empty(queries.EndsNow(partitions, TimeSpan.FromSeconds(5)));
        TakeEveryAnswer(queries, monitor);

        Assert.All(monitor.Snapshot(T0, []), p => Assert.False(p.CaughtUp));
        queries.Ask(partitions, T0);
        Assert.Equal(3, queries.Requests); // the failed ones were asked again
    }

    /// <summary>
    /// The queries of a consumer's admin client about the first <c>count</c> partitions of topic "events", and a monitor of
    /// them, read from the start, their ends not known.
    /// </summary>
    private sealed class Asking : IDisposable
    {
        private readonly IConsumer<Ignore, Ignore> _consumer;
        private readonly IAdminClient _admin;

        /// <summary>An embedded broker with the topic "events" of <paramref name="count"/> partitions, each assigned to the monitor from offset 0.</summary>
        public Asking(int count, TimeSpan timeout)
        {
            Cluster = EmbeddedKafkaCluster.Start(1);
            Cluster.CreateTopic("events", partitions: count);
            _consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers, GroupId = "ends" }).Build();
            _admin = new DependentAdminClientBuilder(_consumer.Handle).Build();
            Partitions = [.. Enumerable.Range(0, count).Select(p => new TopicPartition("events", p))];
            Monitor = new PartitionMonitor(TimeSpan.FromMinutes(1));
            foreach (var tp in Partitions)
            {
                Monitor.Assigned(tp, 0, -1, T0);
            }

            Queries = new PartitionEndQueries(_admin, timeout);
        }

        public EmbeddedKafkaCluster Cluster { get; }

        public List<TopicPartition> Partitions { get; }

        public PartitionMonitor Monitor { get; }

        public PartitionEndQueries Queries { get; }

        public void Dispose()
        {
            _admin.Dispose();
            _consumer.Dispose();
            Cluster.Dispose();
        }
    }

    /// <summary>Takes answers into <paramref name="monitor"/> until every question asked has been answered (or has failed).</summary>
    private static void TakeEveryAnswer(PartitionEndQueries queries, PartitionMonitor monitor) => WaitUntil(() =>
    {
        queries.Take(monitor);
        return queries.Outstanding == 0;
    });

    private static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not within the wait");
            Thread.Yield();
        }
    }
}

using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Connectors.Tests;

/// <summary>
/// The event source against the embedded broker: an assigned partition is read only once its assignment's handler says
/// it is ready (its state restored), and then from where it starts, with nothing lost or read twice.
/// </summary>
public sealed class KafkaEventSourceReadinessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly KafkaTopics Topics = new() { SensorEvents = "events", Repartition = "repartition" };

    [Fact]
    public async Task A_partition_is_read_once_its_assignment_says_it_is_ready_from_its_start_while_a_ready_one_is_read_meanwhile()
    {
        using var cluster = Broker(partitions: 2);
        using var producer = Producer(cluster);
        await ProduceAsync(producer, partition: 1, count: 5);
        await ProduceAsync(producer, partition: 0, count: 5);
        var assigned = new TaskCompletionSource<AssignedPartitions>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var source = Source(cluster, assignment =>
        {
            assignment.Ready([0]); // partition 1's state is still being restored
            assigned.TrySetResult(assignment);
        });

        source.Start();
        var read = new List<(int Partition, long Offset)>();
        await ReadUntilAsync(source, read, () => read.Count(r => r.Partition == 0) == 5);
        await ProduceAsync(producer, partition: 0, count: 1); // after partition 1's records: a fetch would have brought those
        await ReadUntilAsync(source, read, () => read.Count(r => r.Partition == 0) == 6);

        Assert.DoesNotContain(read, r => r.Partition == 1);
        var assignment = await assigned.Task.WaitAsync(Wait);
        Assert.Equal([0, 1], assignment.Starts.Keys.Order());

        assignment.Ready([1]);
        await ReadUntilAsync(source, read, () => read.Count(r => r.Partition == 1) == 5);

        Assert.Equal([0L, 1, 2, 3, 4, 5], read.Where(r => r.Partition == 0).Select(r => r.Offset));
        Assert.Equal([0L, 1, 2, 3, 4], read.Where(r => r.Partition == 1).Select(r => r.Offset));
    }

    [Fact]
    public async Task An_assignment_asks_where_its_partitions_begin_and_end_in_a_request_each_not_two_per_partition()
    {
        using var cluster = Broker(partitions: 32);
        using var producer = Producer(cluster);
        await ProduceAsync(producer, partition: 3, count: 2);
        var assigned = new TaskCompletionSource<AssignedPartitions>(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.StartCountingRequests();
        await using var source = Source(cluster, assignment => assigned.TrySetResult(assignment)); // ready only when the test says

        source.Start();
        var assignment = await assigned.Task.WaitAsync(Wait);
        var asked = cluster.RequestsSeen(KafkaApi.ListOffsets);

        Assert.Equal(32, assignment.Starts.Count);
        // The starts of both topics' 64 partitions in one request, their ends in another (one broker leads them all);
        // asked a partition and a bound at a time they were 128.
        Assert.InRange(asked, 2, 4);
        assignment.Ready([.. assignment.Starts.Keys]);
        var read = new List<(int Partition, long Offset)>();
        await ReadUntilAsync(source, read, () => read.Count == 2);
        Assert.Equal([(3, 0L), (3, 1L)], read);
    }

    [Fact]
    public async Task An_assignment_that_can_never_be_ready_fails_the_consume_loop_with_its_reason()
    {
        using var cluster = Broker(partitions: 1);
        var source = Source(cluster, assignment => assignment.Fail(new InvalidDataException("the state topic is unreadable")));

        source.Start();

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => source.Completion.WaitAsync(Wait));
        Assert.Contains("the state topic is unreadable", failure.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidDataException>(failure.InnerException);
        Assert.False(source.IsConsuming);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await source.DisposeAsync()); // the stop reports it too
    }

    /// <summary>An embedded broker with the sensor-events and repartition topics, each of <paramref name="partitions"/> partitions.</summary>
    private static EmbeddedKafkaCluster Broker(int partitions)
    {
        var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic(Topics.SensorEvents, partitions);
        cluster.CreateTopic(Topics.Repartition, partitions);
        return cluster;
    }

    private static IProducer<byte[], byte[]> Producer(EmbeddedKafkaCluster cluster) =>
        new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();

    private static KafkaEventSource Source(EmbeddedKafkaCluster cluster, Action<AssignedPartitions> onAssigned) =>
        new(
            new KafkaSourceOptions
            {
                BootstrapServers = cluster.BootstrapServers,
                ClientSettings = KafkaClientSettings.None,
                GroupId = "readiness",
                Topics = Topics,
                OnPartitionsAssigned = onAssigned,
            },
            new AcknowledgingDeadLetters(),
            TimeProvider.System,
            NullLogger<KafkaEventSource>.Instance);

    private static async Task ProduceAsync(IProducer<byte[], byte[]> producer, int partition, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var sensor = $"s-{partition}";
            var value = SensorEventEncoder.Encode(new SensorEvent(sensor, "a-1", "temperature", DateTimeOffset.UtcNow, new Dictionary<string, SensorValue> { ["celsius"] = 20.5 }));
            await producer.ProduceAsync(new TopicPartition(Topics.SensorEvents, partition), new Message<byte[], byte[]> { Key = System.Text.Encoding.UTF8.GetBytes(sensor), Value = value });
        }
    }

    /// <summary>Reads (and completes) the source's events until <paramref name="done"/>, at most <see cref="Wait"/>.</summary>
    private static async Task ReadUntilAsync(KafkaEventSource source, List<(int Partition, long Offset)> read, Func<bool> done)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!done())
        {
            foreach (var record in await source.Events.ReadAsync(timeout.Token))
            {
                var consumed = Assert.IsType<ConsumedEvent>(record);
                read.Add((consumed.Source.Partition, consumed.Source.Offset));
                consumed.Complete();
            }
        }
    }

    private sealed class AcknowledgingDeadLetters : IDeadLetterSink
    {
        public void Send(DeadLetter deadLetter, Action onAcknowledged) => onAcknowledged();
    }
}

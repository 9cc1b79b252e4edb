using Confluent.Kafka;

namespace Kommune.LoadTest;

/// <summary>
/// How many records of a topic a consumer group has committed, summed over its partitions: what engine nodes in other
/// processes have finished. In at-least-once mode a node commits an event's offset once its outputs and state are
/// acknowledged, so this trails the in-process engine's count of completed events by at most the commit interval.
/// </summary>
internal sealed class CommittedOffsets : IDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly List<TopicPartition> _partitions;

    public CommittedOffsets(string bootstrapServers, string groupId, string topic, int partitions)
    {
        // Never subscribes, so it never joins the group: it only asks for the group's committed offsets.
        _consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            EnableAutoCommit = false,
        }).SetLogHandler((_, _) => { }).Build();
        _partitions = [.. Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p))];
    }

    /// <summary>The sum of the committed offsets (a partition with none counts 0).</summary>
    public long Total() => _consumer.Committed(_partitions, TimeSpan.FromSeconds(10)).Sum(o => Math.Max(0, o.Offset.Value));

    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
    }
}

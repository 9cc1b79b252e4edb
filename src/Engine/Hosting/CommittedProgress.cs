using System.Globalization;
using Confluent.Kafka;

namespace Kommune.Engine.Hosting;

/// <summary>
/// The engine nodes' progress as the broker holds it (kommune demo --nodes N): the sensor events the nodes' group has
/// committed (every output of each acknowledged) and how far that is behind the end of the topic. It counts the whole
/// group, whichever node did the work, so it goes on when a node stops and another takes its partitions.
/// </summary>
internal sealed class CommittedProgress : IDemoProgress, IDisposable
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(2);
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly List<TopicPartition> _partitions;
    private long _lastCommitted;
    private DateTime _lastTime = DateTime.UtcNow;

    public CommittedProgress(EngineOptions options, int partitions)
    {
        // Never subscribes: it reads the group's committed offsets without joining the group.
        _consumer = new ConsumerBuilder<byte[], byte[]>(options.ToKafkaClientSettings().ApplyTo(new ConsumerConfig
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = options.GroupId,
            EnableAutoCommit = false,
            ClientId = "kommune-demo-progress",
        })).SetLogHandler((_, _) => { }).Build();
        _partitions = [.. Enumerable.Range(0, partitions).Select(p => new TopicPartition(options.Topics.SensorEvents, p))];
    }

    public string Describe(DateTime now)
    {
        try
        {
            var committed = _consumer.Committed(_partitions, QueryTimeout).ToDictionary(c => c.Partition.Value, c => Math.Max(0, c.Offset.Value));
            long done = 0, behind = 0;
            foreach (var partition in _partitions)
            {
                var end = _consumer.QueryWatermarkOffsets(partition, QueryTimeout).High.Value;
                var at = committed.GetValueOrDefault(partition.Partition.Value);
                done += at;
                behind += Math.Max(0, end - at);
            }

            var rate = (done - _lastCommitted) / (now - _lastTime).TotalSeconds;
            _lastCommitted = done;
            _lastTime = now;
            return string.Create(CultureInfo.InvariantCulture, $"committed {done} ({rate:F0}/s)  behind {behind}");
        }
        catch (KafkaException e)
        {
            return $"committed unknown ({e.Error.Reason})";
        }
    }

    public void Dispose() => _consumer.Dispose();
}

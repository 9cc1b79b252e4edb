using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Kommune.LoadTest;

/// <summary>
/// The baseline: the best a plain Confluent.Kafka pipe does on the same machine and broker. It consumes the input topic
/// in a group and produces each record unchanged (key, value, headers) to the output topic through an idempotent
/// producer, storing an input offset for commit only after its copy is acknowledged: at-least-once, as the engine. No
/// decoding, no actors, no rules.
/// </summary>
internal sealed class RawPipe : IDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _output;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TopicPartition, long> _done = new();
    private Thread? _thread;
    private long _processed;

    public RawPipe(string bootstrapServers, string input, string output)
    {
        _output = output;
        _consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            GroupId = $"bench-raw-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            FetchWaitMaxMs = 5,
        }).SetLogHandler((_, _) => { }).Build();
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            EnableIdempotence = true,
            LingerMs = 5,
            ClientId = "bench-raw",
        }).SetLogHandler((_, _) => { }).Build();
        _consumer.Subscribe(input);
    }

    /// <summary>Records copied and acknowledged.</summary>
    public long Processed => Interlocked.Read(ref _processed);

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "bench-raw-pipe" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _producer.Flush(TimeSpan.FromSeconds(10));
        _consumer.Close();
        _consumer.Dispose();
        _producer.Dispose();
        _stop.Dispose();
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            var r = _consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null || r.IsPartitionEOF)
            {
                StoreDone();
                continue;
            }

            var copy = new Message<byte[], byte[]> { Key = r.Message.Key, Value = r.Message.Value, Headers = r.Message.Headers };
            var source = r.TopicPartitionOffset;
            while (true)
            {
                try
                {
                    _producer.Produce(_output, copy, report =>
                    {
                        if (!report.Error.IsError)
                        {
                            Interlocked.Increment(ref _processed);
                            _done.AddOrUpdate(source.TopicPartition, source.Offset.Value, (_, old) => Math.Max(old, source.Offset.Value));
                        }
                    });
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    _producer.Poll(TimeSpan.FromMilliseconds(1));
                }
            }

            if (Interlocked.Read(ref _processed) % 1000 == 0)
            {
                StoreDone();
            }
        }
    }

    private void StoreDone()
    {
        foreach (var (tp, offset) in _done)
        {
            try
            {
                _consumer.StoreOffset(new TopicPartitionOffset(tp, offset + 1));
            }
            catch (KafkaException)
            {
                // Not assigned any more: the next owner starts from the last commit.
            }
        }
    }
}

using System.Diagnostics;
using Confluent.Kafka;

namespace Kommune.LoadTest;

/// <summary>
/// Reads topics from their end when it is made, every partition, as a read_committed consumer on its own thread, and hands each record
/// to <see cref="OnRecord"/> with the moment it was read (Stopwatch ticks): what the latency readers share.
/// </summary>
internal abstract class TopicTailReader : IDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly CancellationTokenSource _stop = new();
    private long _measureFrom = long.MaxValue;
    private long _read;
    private Thread? _thread;

    protected TopicTailReader(string bootstrapServers, IEnumerable<string> topics, int partitions, string name)
    {
        Name = name;
        _consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            GroupId = $"{name}-{Guid.NewGuid():N}",
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 5,
            EnableAutoCommit = false,
        }).SetLogHandler((_, _) => { }).Build();
        // Each partition's end as it is now, not as it is when the first fetch resolves Offset.End: what is produced
        // after the reader was made is all read (the broker hop counts the records it reads).
        _consumer.Assign(topics.SelectMany(t => Enumerable.Range(0, partitions).Select(p => new TopicPartition(t, p)))
            .Select(tp => new TopicPartitionOffset(tp, _consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High)));
    }

    private string Name { get; }

    /// <summary>Stopwatch ticks from which on outputs count (long.MaxValue before <see cref="StartMeasuring"/>).</summary>
    public long MeasureFrom => Interlocked.Read(ref _measureFrom);

    /// <summary>Records read so far, of every kind.</summary>
    public long Read => Interlocked.Read(ref _read);

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = Name };
        _thread.Start();
    }

    /// <summary>Counts only outputs from now on (what each reader's <see cref="ResetMeasurements"/> drops).</summary>
    public void StartMeasuring()
    {
        Interlocked.Exchange(ref _measureFrom, Stopwatch.GetTimestamp());
        ResetMeasurements();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }

    /// <summary>One record, read at <paramref name="readAt"/> (Stopwatch ticks). Runs on the reader's thread.</summary>
    protected abstract void OnRecord(ConsumeResult<byte[], byte[]> record, long readAt);

    /// <summary>Drops what was measured before <see cref="StartMeasuring"/>.</summary>
    protected abstract void ResetMeasurements();

    /// <summary>Microseconds from <paramref name="from"/> to <paramref name="to"/> (Stopwatch ticks), at least 0.</summary>
    protected static long Micros(long from, long to) => Math.Max(0, (long)((to - from) * 1_000_000.0 / Stopwatch.Frequency));

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            var r = _consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is not null && !r.IsPartitionEOF)
            {
                var readAt = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref _read);
                OnRecord(r, readAt);
            }
        }
    }
}

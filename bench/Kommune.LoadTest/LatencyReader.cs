using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using HdrHistogram;

namespace Kommune.LoadTest;

/// <summary>
/// Reads an output topic from its end as a read_committed consumer and records, for each fall's first output, the
/// time from the fall's intended send time to the moment the record is readable. Only falls whose intended time lies
/// after the warm-up count.
/// </summary>
internal sealed class LatencyReader : IDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly Func<ConsumeResult<byte[], byte[]>, string?> _fallId;
    private readonly FixedRateProducer _producer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly LongHistogram _histogram = new(TimeStamp.Minutes(10), 3);
    private readonly List<FallOutput> _outputs = [];
    private long _measureFrom = long.MaxValue;
    private Thread? _thread;

    public LatencyReader(string bootstrapServers, string topic, int partitions, FixedRateProducer producer, Func<ConsumeResult<byte[], byte[]>, string?> fallId)
    {
        _producer = producer;
        _fallId = fallId;
        _consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            GroupId = $"bench-reader-{Guid.NewGuid():N}",
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 5,
            EnableAutoCommit = false,
        }).SetLogHandler((_, _) => { }).Build();
        _consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.End)));
    }

    /// <summary>The fall id of a raw pipe's copy: the header the generator set.</summary>
    public static string? FromHeader(ConsumeResult<byte[], byte[]> r) =>
        r.Message.Headers.TryGetLastBytes(FixedRateProducer.IdHeader, out var id) ? Encoding.UTF8.GetString(id) : null;

    /// <summary>
    /// The fall id of an engine alert record: a fall-detection record's sensor and event time (a raise for a new fall; an
    /// update when the sensor falls again while its alert is open). Escalations carry an earlier event time, whose fall
    /// was already counted.
    /// </summary>
    public static string? FromAlert(ConsumeResult<byte[], byte[]> r)
    {
        using var alert = JsonDocument.Parse(r.Message.Value);
        var root = alert.RootElement;
        if (root.GetProperty("rule").GetString() != "fall-detection" || root.GetProperty("sensorId").GetString() is not { } sensorId)
        {
            return null;
        }

        var eventTime = DateTimeOffset.Parse(root.GetProperty("eventTime").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        return $"{sensorId}:{eventTime.ToUnixTimeMilliseconds()}";
    }

    public long Recorded { get; private set; }

    /// <summary>Every fall's first output seen so far, warm-up included, in the order read.</summary>
    public IReadOnlyList<FallOutput> Outputs
    {
        get
        {
            lock (_gate)
            {
                return [.. _outputs];
            }
        }
    }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "bench-reader" };
        _thread.Start();
    }

    /// <summary>Counts only falls intended from now on.</summary>
    public void StartMeasuring()
    {
        Interlocked.Exchange(ref _measureFrom, Stopwatch.GetTimestamp());
        lock (_gate)
        {
            _histogram.Reset();
            Recorded = 0;
        }
    }

    /// <summary>The latencies so far, in microseconds.</summary>
    public LongHistogram Snapshot()
    {
        lock (_gate)
        {
            return (LongHistogram)_histogram.Copy();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            var r = _consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null || r.IsPartitionEOF)
            {
                continue;
            }

            var now = Stopwatch.GetTimestamp();
            if (_fallId(r) is not { } id || !_producer.Falls.TryRemove(id, out var intended))
            {
                continue;
            }

            var micros = (long)((now - intended) * 1_000_000.0 / Stopwatch.Frequency);
            lock (_gate)
            {
                _outputs.Add(new FallOutput(id, intended, now));
                if (intended >= Interlocked.Read(ref _measureFrom))
                {
                    _histogram.RecordValue(Math.Max(0, micros));
                    Recorded++;
                }
            }
        }
    }
}

/// <summary>A fall's first output: its id, its intended send time and when the output was readable (Stopwatch ticks).</summary>
internal sealed record FallOutput(string Id, long Intended, long Readable);

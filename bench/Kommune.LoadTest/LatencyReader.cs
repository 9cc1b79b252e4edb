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
internal sealed class LatencyReader : TopicTailReader
{
    private readonly Func<ConsumeResult<byte[], byte[]>, string?> _fallId;
    private readonly FixedRateProducer _producer;
    private readonly Lock _gate = new();
    private readonly LongHistogram _histogram = new(TimeStamp.Minutes(10), 3);
    private readonly List<FallOutput> _outputs = [];

    public LatencyReader(string bootstrapServers, string topic, int partitions, FixedRateProducer producer, Func<ConsumeResult<byte[], byte[]>, string?> fallId)
        : base(bootstrapServers, [topic], partitions, "bench-reader")
    {
        _producer = producer;
        _fallId = fallId;
    }

    /// <summary>How to find a record's fall id, by where it is.</summary>
    public static Func<ConsumeResult<byte[], byte[]>, string?> FallId(FallIdSource source) => source switch
    {
        FallIdSource.Header => FromHeader,
        FallIdSource.Alert => FromAlert,
        _ => throw new ArgumentOutOfRangeException(nameof(source), source, null),
    };

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

    protected override void ResetMeasurements()
    {
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

    protected override void OnRecord(ConsumeResult<byte[], byte[]> record, long readAt)
    {
        if (_fallId(record) is not { } id || !_producer.Falls.TryRemove(id, out var intended))
        {
            return;
        }

        lock (_gate)
        {
            _outputs.Add(new FallOutput(id, intended, readAt, record.Message.Timestamp.UnixTimestampMs));
            if (intended >= MeasureFrom)
            {
                _histogram.RecordValue(Micros(intended, readAt));
                Recorded++;
            }
        }
    }
}

/// <summary>
/// A fall's first output: its id, its intended send time and when the output was readable (Stopwatch ticks), and the
/// output record's timestamp (Unix ms: when the engine's producer was given it, unless the engine set it).
/// </summary>
internal sealed record FallOutput(string Id, long Intended, long Readable, long RecordTimestampMs);

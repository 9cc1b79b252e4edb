using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using HdrHistogram;
using Kommune.Connectors.Kafka;
using Kommune.Engine;
using Kommune.Rules.BuiltIn;

namespace Kommune.LoadTest;

/// <summary>
/// Latency of the outputs that event-time timers make, on both sides of the repartition topic. Such an output is due
/// at an event time T (a window's end; congestion-area's minute end + its grace): the earliest the engine may make it
/// is when the watermark passes T, i.e. when the generator has sent events stamped T + the out-of-orderness on every
/// partition. The generator stamps its events with their schedule, so that moment is a point on the schedule, and an
/// output's latency is the time from it to the record being readable: the same clock and the same
/// coordinated-omission correction as the falls' (from the fall's intended send time to its alert). Measured:
/// <list type="bullet">
/// <item>sensor side: the congestion rule's <c>segment-minute</c> facts as written to the repartition topic (due at the
/// window's end; their origin header names it), and segment congestion alerts (their event time);</item>
/// <item>area side, after the hop: the area rules' aggregates (parking at the minute's end, congestion-area at the
/// minute's end + 15 s, energy-area at the window's end) and area alerts (their event time, the timer's); an area rule
/// raises its alert in the same timer call, right after the aggregates.</item>
/// </list>
/// Only an output's first record counts (a late fact or a rebalance may write it again).
/// </summary>
internal sealed class TimerOutputReader : TopicTailReader
{
    /// <summary>CongestionAreaRule's default grace: its minute is judged this long after its end.</summary>
    private static readonly TimeSpan CongestionAreaGrace = TimeSpan.FromSeconds(15);

    private readonly FixedRateProducer _producer;
    private readonly KafkaTopics _topics;
    private readonly TimeSpan _outOfOrderness = new EngineOptions().OutOfOrderness;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LongHistogram> _histograms = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    private readonly TextWriter? _dump;

    /// <param name="dump">Where to write each output counted as a CSV line (kind, id, due, partition, latency), or null.</param>
    public TimerOutputReader(string bootstrapServers, KafkaTopics topics, int partitions, FixedRateProducer producer, TextWriter? dump = null)
        : base(bootstrapServers, [topics.Repartition, topics.Aggregates, topics.Alerts], partitions, "bench-timer-reader")
    {
        _producer = producer;
        _topics = topics;
        _dump = dump;
    }

    /// <summary>The latencies so far by kind of output, in microseconds, sensor side first.</summary>
    public IReadOnlyList<(string Output, LongHistogram Latency)> Snapshot()
    {
        lock (_gate)
        {
            return [.. _histograms.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => (h.Key, (LongHistogram)h.Value.Copy()))];
        }
    }

    protected override void ResetMeasurements()
    {
        lock (_gate)
        {
            _histograms.Clear();
        }
    }

    /// <summary>Counts an output due after measuring began (and already due by the schedule), the first record of each.</summary>
    protected override void OnRecord(ConsumeResult<byte[], byte[]> record, long readAt)
    {
        if (Classify(record) is not { } output || _producer.IntendedTicks(output.Due + _outOfOrderness) is not { } due
            || due < MeasureFrom || due > readAt)
        {
            return;
        }

        lock (_gate)
        {
            if (!_seen.Add(output.Id))
            {
                return;
            }

            if (!_histograms.TryGetValue(output.Kind, out var histogram))
            {
                _histograms[output.Kind] = histogram = new LongHistogram(TimeStamp.Minutes(10), 3);
            }

            histogram.RecordValue(Micros(due, readAt));
            _dump?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{output.Kind[2..]},{output.Id},{output.Due:O},{record.Topic}/{record.Partition.Value},{Micros(due, readAt) / 1000.0:0.0}"));
        }
    }

    /// <summary>What kind of timer output a record is, when it is due, and what identifies it; null for any other record.</summary>
    private (string Kind, string Id, DateTimeOffset Due)? Classify(ConsumeResult<byte[], byte[]> r)
    {
        if (r.Topic == _topics.Repartition)
        {
            // A fact a timer made: origin t:<key>:<name>:<event time ms>:<index>, the event time being the timer's.
            if (!r.Message.Headers.TryGetLastBytes(RepartitionCodec.KindHeader, out var kind) || !kind.AsSpan().SequenceEqual("fact"u8)
                || !r.Message.Headers.TryGetLastBytes(RepartitionCodec.OriginHeader, out var originBytes))
            {
                return null;
            }

            var origin = Encoding.UTF8.GetString(originBytes);
            var parts = origin.Split(':');
            return parts.Length >= 5 && parts[0] == "t" && parts[^3] == CongestionRule.FactName
                && long.TryParse(parts[^2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)
                ? ("1 sensor side: segment-minute fact on kommune.repartition (due at its window's end)", origin, DateTimeOffset.FromUnixTimeMilliseconds(ms))
                : null;
        }

        using var json = JsonDocument.Parse(r.Message.Value);
        var root = json.RootElement;
        if (r.Topic == _topics.Aggregates)
        {
            var metric = root.GetProperty("metric").GetString();
            var end = Time(root.GetProperty("windowEnd"));
            (string Kind, DateTimeOffset Due)? due = metric switch
            {
                ParkingRule.FreeMetric or ParkingRule.OccupancyMetric => ("2 area side: parking aggregate (due at its minute's end)", end),
                CongestionAreaRule.ShareMetric or CongestionAreaRule.SpeedMetric => ("2 area side: congestion-area aggregate (due at its minute's end + 15 s grace)", end + CongestionAreaGrace),
                EnergyAreaRule.Metric => ("2 area side: energy-area aggregate (due at its window's end)", end),
                _ => null,
            };
            return due is { } d ? (d.Kind, $"{root.GetProperty("areaId").GetString()}/{metric}/{root.GetProperty("windowStart").GetString()}", d.Due) : null;
        }

        // Alerts: a timer's (event time = the timer's), first record of each alert; falls are the other reader's.
        var rule = root.GetProperty("rule").GetString();
        var id = root.GetProperty("alertId").GetString()!;
        var areaScoped = root.GetProperty("sensorId").ValueKind == JsonValueKind.Null;
        return rule switch
        {
            CongestionRule.RuleName => ("1 sensor side: segment congestion alert (due at its window's end)", id, Time(root.GetProperty("eventTime"))),
            _ when areaScoped => ($"2 area side: {rule} alert (due at its timer)", id, Time(root.GetProperty("eventTime"))),
            _ => null,
        };
    }

    private static DateTimeOffset Time(JsonElement element) => DateTimeOffset.Parse(element.GetString()!, CultureInfo.InvariantCulture);
}

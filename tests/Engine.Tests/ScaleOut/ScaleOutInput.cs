using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Actors;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// A deterministic input in event time only: the simulator's municipal mix (falls, traffic, parking, energy) with its
/// scripted incidents (a jam in area-002, a full car park in area-003, an energy spike in area-004) and random falls,
/// each partition's events in time order; then one parking reading in a marker area of every repartition partition
/// well after the input, and a flush event in every sensor partition after that, so that every window closes. Once
/// each marker area's first minute is out, everything before it is.
/// </summary>
internal sealed class ScaleOutInput
{
    /// <summary>A fixed start outside the simulator's rush hours, so only the scripted incidents congest.</summary>
    public static readonly DateTimeOffset T0 = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    private readonly List<(int Partition, SensorEvent Event)> _events = [];

    /// <param name="partitions">Partitions of the sensor-events (and repartition) topic.</param>
    /// <param name="sensors">Simulated sensors.</param>
    /// <param name="duration">Event time the input spans.</param>
    /// <param name="spacing">Event time between two events (the simulator's sensors take turns).</param>
    /// <param name="fallsPerMinute">Random falls per minute of event time.</param>
    /// <param name="minuteStamps">Road sensors stamp each reading with the start of its minute (all segments the same stamp).</param>
    public ScaleOutInput(int partitions, int sensors, TimeSpan duration, TimeSpan spacing, double fallsPerMinute, bool minuteStamps = false)
    {
        Partitions = partitions;
        var simulator = new SensorSimulator(new SimulatorOptions
        {
            Sensors = sensors,
            Areas = 8,
            Seed = 15,
            FallsPerMinute = fallsPerMinute,
            EventsPerSecond = 1 / spacing.TotalSeconds,
            Incidents = true,
        });
        var count = (int)(duration / spacing);
        for (var i = 0; i < count; i++)
        {
            var e = simulator.Next(T0 + (spacing * i));
            if (minuteStamps && e.Type == SensorTypes.Traffic)
            {
                // As road gateways that report per minute do: every segment's reading stamped with the minute's start.
                e = e with { Timestamp = new DateTimeOffset(e.Timestamp.Ticks - (e.Timestamp.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero) };
            }

            _events.Add((PartitionOf(e.SensorId), e));
        }

        var markers = T0 + duration + TimeSpan.FromMinutes(20); // after every window of the input, 15-minute energy ones too
        MarkerAreas = MarkerAreasFor(partitions);
        foreach (var area in MarkerAreas)
        {
            var marker = new SensorEvent($"marker-bay-{area}", area, SensorTypes.Parking, markers, new Dictionary<string, SensorValue> { ["occupied"] = true });
            _events.Add((PartitionOf(marker.SensorId), marker));
        }

        for (var p = 0; p < partitions; p++)
        {
            _events.Add((p, new SensorEvent($"flush-{p}", "flush", "flush", markers + TimeSpan.FromMinutes(10), new Dictionary<string, SensorValue>())));
        }
    }

    public int Partitions { get; }

    /// <summary>Every event with its partition, in the order to produce them.</summary>
    public IReadOnlyList<(int Partition, SensorEvent Event)> Events => _events;

    /// <summary>One area per repartition partition, read last.</summary>
    public IReadOnlyList<string> MarkerAreas { get; }

    /// <summary>The fall alerts the input raises (one per falling sensor and fall).</summary>
    public int Falls => _events.Count(e => e.Event.Type == SensorTypes.Fall);

    /// <summary>Whether the aggregates hold an output of every marker area: everything before is out.</summary>
    public bool MarkersOut(IEnumerable<string> aggregates)
    {
        var seen = aggregates.Where(a => a.Contains("\"areaId\":\"marker-", StringComparison.Ordinal)).ToList();
        return MarkerAreas.All(area => seen.Any(a => a.Contains($"\"areaId\":\"{area}\"", StringComparison.Ordinal)));
    }

    /// <summary>Produces events <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive) and flushes.</summary>
    public void Produce(KafkaTestBed bed, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var (partition, e) = _events[i];
            bed.Produce(new TopicPartition(bed.Options.Topics.SensorEvents, partition), Encoding.UTF8.GetBytes(e.SensorId), SensorEventEncoder.Encode(e));
        }

        bed.Flush();
    }

    /// <summary>Produces everything.</summary>
    public void ProduceAll(KafkaTestBed bed) => Produce(bed, 0, _events.Count);

    /// <summary>A sensor's partition: a stable hash of its id (what a producer's partitioner does).</summary>
    private int PartitionOf(string sensorId) => StateKeys.AreaPartition(sensorId, Partitions);

    private static List<string> MarkerAreasFor(int partitions)
    {
        var areas = new string?[partitions];
        for (var i = 0; areas.Any(a => a is null); i++)
        {
            var area = $"marker-{i:D3}";
            var partition = StateKeys.AreaPartition(area, partitions);
            areas[partition] ??= area;
        }

        return [.. areas.Select(a => a!)];
    }
}

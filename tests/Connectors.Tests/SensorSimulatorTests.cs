using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Rules.Model;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

public sealed class SensorSimulatorTests
{
    private static readonly DateTimeOffset Start = new(2024, 5, 1, 7, 45, 0, TimeSpan.Zero);

    private static List<SensorEvent> Generate(SimulatorOptions options, int count)
    {
        var simulator = new SensorSimulator(options);
        var events = new List<SensorEvent>(count);
        for (var i = 0; i < count; i++)
        {
            events.Add(simulator.Next(Start.AddMilliseconds(i * 5)));
        }

        Assert.Equal(count, simulator.Generated);
        return events;
    }

    [Fact]
    public void Same_seed_gives_identical_event_sequences()
    {
        var options = new SimulatorOptions { Sensors = 50, Areas = 4, Seed = 7 };

        var first = Generate(options, 2_000);
        var second = Generate(options, 2_000);

        for (var i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i].SensorId, second[i].SensorId);
            Assert.Equal(first[i].AreaId, second[i].AreaId);
            Assert.Equal(first[i].Type, second[i].Type);
            Assert.Equal(first[i].Timestamp, second[i].Timestamp);
            Assert.Equal(first[i].Values.OrderBy(v => v.Key, StringComparer.Ordinal), second[i].Values.OrderBy(v => v.Key, StringComparer.Ordinal));
            Assert.Equal(SensorEventEncoder.Encode(first[i]), SensorEventEncoder.Encode(second[i]));
        }
    }

    [Fact]
    public void Different_seeds_give_different_sequences()
    {
        var a = Generate(new SimulatorOptions { Sensors = 50, Seed = 1 }, 200);
        var b = Generate(new SimulatorOptions { Sensors = 50, Seed = 2 }, 200);

        Assert.False(a.Zip(b).All(p => SensorEventEncoder.Encode(p.First).AsSpan().SequenceEqual(SensorEventEncoder.Encode(p.Second))));
    }

    [Fact]
    public void Every_generated_event_encodes_and_decodes_cleanly()
    {
        var simulator = new SensorSimulator(new SimulatorOptions { Sensors = 200, Areas = 7, Seed = 3, FallsPerMinute = 600 });
        var clock = new FakeTimeProvider(Start);
        var decoder = new SensorEventDecoder(SensorEventLimits.Default, clock);

        for (var i = 0; i < 5_000; i++)
        {
            // Stamp each event with the decoder's clock; spread them across a day to cover rush hours and nights.
            clock.Advance(TimeSpan.FromSeconds(17.3));
            var now = clock.GetUtcNow();
            now = DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());
            var original = simulator.Next(now);

            var ok = decoder.TryDecode(Encoding.UTF8.GetBytes(original.SensorId), SensorEventEncoder.Encode(original), out var decoded, out var reason);

            Assert.True(ok, $"event {i} ({original.SensorId}, {original.Type}) was refused: {reason}");
            Assert.NotNull(decoded);
            Assert.Equal(original.SensorId, decoded.SensorId);
            Assert.Equal(original.AreaId, decoded.AreaId);
            Assert.Equal(original.Type, decoded.Type);
            Assert.Equal(original.Timestamp, decoded.Timestamp);
            Assert.Equal(original.Values.Count, decoded.Values.Count);
            foreach (var (name, value) in original.Values)
            {
                Assert.Equal(value, decoded.Values[name]);
            }
        }
    }

    [Theory]
    [InlineData(1_000, 200, 42)]
    [InlineData(10, 5, 1)]
    [InlineData(1, 1, 9)]
    [InlineData(37, 50, 123)]
    public void First_fall_appears_early(int sensors, double eventsPerSecond, int seed)
    {
        // Fall probability near zero, so the only fall in range is the early demo fall.
        var options = new SimulatorOptions { Sensors = sensors, EventsPerSecond = eventsPerSecond, Seed = seed, FallsPerMinute = 1e-9 };
        var bound = (int)(eventsPerSecond * 2) + sensors;

        var events = Generate(options, bound);

        Assert.Contains(events, e => e.Type == SensorTypes.Fall);
    }

    [Fact]
    public void Fall_events_carry_confidence_posture_and_inactivity()
    {
        var events = Generate(new SimulatorOptions { Sensors = 100, Seed = 5, FallsPerMinute = 6_000 }, 5_000);

        var falls = events.Where(e => e.Type == SensorTypes.Fall).ToList();
        Assert.NotEmpty(falls);
        Assert.All(falls, e =>
        {
            Assert.True(e.TryGetNumber("confidence", out var confidence));
            Assert.InRange(confidence, 0.8, 1.0);
            Assert.Equal("lying", e.Values["posture"].Text);
            Assert.True(e.TryGetNumber("inactivitySeconds", out _));
        });
    }

    [Fact]
    public void Event_types_cover_fall_traffic_parking_and_energy()
    {
        var events = Generate(new SimulatorOptions(), 2_000);

        var types = events.Select(e => e.Type).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(SensorTypes.Fall, types);
        Assert.Contains(SensorTypes.Traffic, types);
        Assert.Contains(SensorTypes.Parking, types);
        Assert.Contains(SensorTypes.Energy, types);
    }

    [Fact]
    public void Sensors_are_spread_over_the_configured_areas()
    {
        var events = Generate(new SimulatorOptions { Sensors = 40, Areas = 4 }, 40);

        Assert.Equal(40, events.Select(e => e.SensorId).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(["area-001", "area-002", "area-003", "area-004"], events.Select(e => e.AreaId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray());
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void Fewer_than_one_sensor_or_area_is_refused(int sensors, int areas)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SensorSimulator(new SimulatorOptions { Sensors = sensors, Areas = areas }));
    }

    [Fact]
    public void Every_area_of_a_large_enough_network_has_every_kind_of_sensor()
    {
        var events = Generate(new SimulatorOptions { Sensors = 200, Areas = 20 }, 200);

        foreach (var area in events.GroupBy(e => e.AreaId, StringComparer.Ordinal))
        {
            Assert.Equal(
                [SensorTypes.Energy, SensorTypes.Fall, SensorTypes.Parking, SensorTypes.Traffic],
                area.Select(e => e.Type == "heartbeat" ? SensorTypes.Fall : e.Type).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray());
        }
    }

    [Fact]
    public void Scripted_incidents_play_in_their_areas_at_their_times_and_only_when_asked()
    {
        // One reading per sensor every 5 s (1,000 sensors at 200 events/s), from 10:00 UTC (no rush hour).
        var start = new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero);
        var with = new SensorSimulator(new SimulatorOptions { Incidents = true });
        var without = new SensorSimulator(new SimulatorOptions());
        var during = new List<(SensorEvent With, SensorEvent Without)>();
        for (var i = 0; i < 200 * 60 * 3; i++)
        {
            var now = start.AddMilliseconds(i * 5);
            var pair = (with.Next(now), without.Next(now));
            if (now - start >= TimeSpan.FromMinutes(2))
            {
                during.Add(pair);
            }
        }

        // Minute 2-3: the jam, the full car park and the energy spike are all on.
        var jam = during.Where(p => p.With.Type == SensorTypes.Traffic && p.With.AreaId == SimulatedIncidents.JamArea).ToList();
        Assert.NotEmpty(jam);
        Assert.All(jam, p => Assert.True(p.With.Values["occupancy"].Number > 50, "a jammed road reports high occupancy"));
        Assert.True(jam.Average(p => p.With.Values["speed"].Number) < 0.4 * jam.Average(p => p.Without.Values["speed"].Number));

        var bays = during.Where(p => p.With.Type == SensorTypes.Parking && p.With.AreaId == SimulatedIncidents.FullParkingArea).ToList();
        Assert.NotEmpty(bays);
        Assert.All(bays, p => Assert.True(p.With.Values["occupied"].Boolean));

        var meters = during.Where(p => p.With.Type == SensorTypes.Energy && p.With.AreaId == SimulatedIncidents.EnergySpikeArea)
            .GroupBy(p => p.With.SensorId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Average(p => p.With.Values["kw"].Number / p.Without.Values["kw"].Number), StringComparer.Ordinal);
        Assert.Single(meters, m => m.Value > 2.5);
        Assert.All(meters.Where(m => m.Value <= 2.5), m => Assert.InRange(m.Value, 0.8, 1.2));

        // Elsewhere the streams are the same as without incidents.
        var elsewhere = during.Where(p => p.With.AreaId is not (SimulatedIncidents.JamArea or SimulatedIncidents.FullParkingArea or SimulatedIncidents.EnergySpikeArea)).ToList();
        Assert.All(elsewhere, p => Assert.Equal(SensorEventEncoder.Encode(p.Without), SensorEventEncoder.Encode(p.With)));
    }

    [Fact]
    public void Traffic_mix_yields_only_road_readings_apart_from_the_fall_probes_deterministically()
    {
        // 600 falls a minute at 200 events/s: one event in 20 is a probe's fall.
        var options = new SimulatorOptions { Mix = SensorMix.Traffic, Sensors = 200, Areas = 7, Seed = 3, FallsPerMinute = 600, EventsPerSecond = 200, FallProbes = 10 };

        var events = Generate(options, 5_000);
        var again = Generate(options, 5_000);

        Assert.Equal(events.Select(SensorEventEncoder.Encode), again.Select(SensorEventEncoder.Encode));
        var roads = events.Where(e => e.Type == SensorTypes.Traffic).ToList();
        var falls = events.Where(e => e.Type == SensorTypes.Fall).ToList();
        Assert.Equal(events.Count, roads.Count + falls.Count);
        Assert.All(roads, e =>
        {
            Assert.StartsWith("traffic-", e.SensorId, StringComparison.Ordinal);
            Assert.Equal(["flow", "occupancy", "speed"], e.Values.Keys.Order(StringComparer.Ordinal).ToArray());
        });
        Assert.Equal(200, roads.Select(e => e.SensorId).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(7, roads.Select(e => e.AreaId).Distinct(StringComparer.Ordinal).Count());

        Assert.InRange(falls.Count, 248, 250);
        Assert.All(falls, e =>
        {
            Assert.StartsWith("fall-probe-", e.SensorId, StringComparison.Ordinal);
            Assert.True(e.TryGetNumber("confidence", out var confidence));
            Assert.InRange(confidence, 0.8, 1.0);
        });
        Assert.Equal(10, falls.Select(e => e.SensorId).Distinct(StringComparer.Ordinal).Count());
        Assert.All(falls.Select(e => e.AreaId), area => Assert.Contains(area, roads.Select(e => e.AreaId)));
    }

    [Theory]
    [InlineData(300, 20)] // 5 falls/s at 100 events/s
    [InlineData(1_200, 10)] // 20 falls/s would be one in five events: capped at one in ten
    public void Traffic_mix_spaces_the_falls_evenly_and_keeps_the_road_round_robin(double fallsPerMinute, int every)
    {
        var options = new SimulatorOptions { Mix = SensorMix.Traffic, Sensors = 50, Areas = 5, Seed = 1, FallsPerMinute = fallsPerMinute, EventsPerSecond = 100 };

        var events = Generate(options, 2_000);

        var falls = events.Select((e, i) => (e, i)).Where(p => p.e.Type == SensorTypes.Fall).Select(p => p.i).ToList();
        Assert.InRange(falls.Count, (2_000 / every) - 1, 2_000 / every);
        Assert.All(falls.Zip(falls.Skip(1)), p => Assert.InRange(p.Second - p.First, every - 1, every + 1));

        // The falls take no road sensor's turn: each reports once in every 50 road readings.
        var roads = events.Where(e => e.Type == SensorTypes.Traffic).Select(e => e.SensorId).ToList();
        Assert.Equal(roads.Take(50), roads.Skip(50).Take(50));
    }

    [Fact]
    public void Traffic_mix_without_fall_probes_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SensorSimulator(new SimulatorOptions { Mix = SensorMix.Traffic, FallProbes = 0 }));
    }
}

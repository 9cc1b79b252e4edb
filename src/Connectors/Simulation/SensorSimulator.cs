using Kommune.Rules.Model;

namespace Kommune.Connectors.Simulation;

/// <summary>Settings of the simulated sensor network.</summary>
public sealed record SimulatorOptions
{
    /// <summary>Number of sensors.</summary>
    public int Sensors { get; init; } = 1_000;

    /// <summary>Number of areas the sensors are spread over.</summary>
    public int Areas { get; init; } = 20;

    /// <summary>Expected falls per minute over the whole network.</summary>
    public double FallsPerMinute { get; init; } = 6;

    /// <summary>Events per second the stream is meant to run at (sets the fall probability per event).</summary>
    public double EventsPerSecond { get; init; } = 200;

    /// <summary>Seed of the random source: the same seed gives the same stream.</summary>
    public int Seed { get; init; } = 42;
}

/// <summary>
/// A deterministic municipal sensor network: home-care fall wearables (10 %), road sensors (40 %), parking bays
/// (30 %) and building energy meters (20 %) across areas, with daily rush hours, parking and consumption
/// patterns, occasional falls and energy spikes. Each call to <see cref="Next"/> gives the next sensor's reading.
/// </summary>
public sealed class SensorSimulator
{
    private readonly SimulatorOptions _options;
    private readonly Random _random;
    private readonly SimulatedSensor[] _sensors;
    private readonly double _fallProbability;
    private long _index;
    private bool _firstFallDone;

    /// <summary>Creates the network.</summary>
    public SensorSimulator(SimulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Sensors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Areas, 1);
        _options = options;
        _random = new Random(options.Seed);
        _sensors = new SimulatedSensor[options.Sensors];
        for (var i = 0; i < options.Sensors; i++)
        {
            var slot = i % 10;
            var type = slot switch
            {
                0 => SensorTypes.Fall,
                < 5 => SensorTypes.Traffic,
                < 8 => SensorTypes.Parking,
                _ => SensorTypes.Energy,
            };
            var area = $"area-{(i % options.Areas) + 1:D3}";
            _sensors[i] = new SimulatedSensor($"{type}-{i + 1:D6}", area, type, 40 + _random.NextDouble() * 50, 5 + _random.NextDouble() * 95);
        }

        var fallSensorEventsPerMinute = Math.Max(1, options.EventsPerSecond * 60 / 10);
        _fallProbability = Math.Min(1, options.FallsPerMinute / fallSensorEventsPerMinute);
    }

    /// <summary>How many events were generated.</summary>
    public long Generated => _index;

    /// <summary>The next event, stamped with <paramref name="now"/>.</summary>
    public SensorEvent Next(DateTimeOffset now)
    {
        var sensor = _sensors[_index % _sensors.Length];
        _index++;
        var hour = now.UtcDateTime.Hour + now.UtcDateTime.Minute / 60.0;
        return sensor.Type switch
        {
            SensorTypes.Fall => FallSensorEvent(sensor, now),
            SensorTypes.Traffic => TrafficEvent(sensor, now, hour),
            SensorTypes.Parking => ParkingEvent(sensor, now, hour),
            _ => EnergyEvent(sensor, now, hour),
        };
    }

    private SensorEvent FallSensorEvent(SimulatedSensor sensor, DateTimeOffset now)
    {
        // The first fall comes early so that a demo shows an alert within seconds.
        var fall = _random.NextDouble() < _fallProbability || (!_firstFallDone && _index > _options.EventsPerSecond * 2);
        if (fall)
        {
            _firstFallDone = true;
            return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Fall, now, new Dictionary<string, SensorValue>
            {
                ["confidence"] = Math.Round(0.8 + _random.NextDouble() * 0.2, 3),
                ["posture"] = "lying",
                ["inactivitySeconds"] = _random.Next(5, 120),
            });
        }

        return new SensorEvent(sensor.Id, sensor.Area, "heartbeat", now, new Dictionary<string, SensorValue>
        {
            ["battery"] = Math.Round(20 + _random.NextDouble() * 80, 1),
            ["worn"] = _random.NextDouble() > 0.05,
        });
    }

    private SensorEvent TrafficEvent(SimulatedSensor sensor, DateTimeOffset now, double hour)
    {
        var rush = RushHour(hour);
        var speed = Math.Max(3, sensor.Baseline * (1 - 0.6 * rush) + Gaussian() * 4);
        var flow = Math.Max(0, 300 + 1500 * rush + Gaussian() * 80);
        var occupancy = Math.Clamp(8 + 60 * rush + Gaussian() * 5, 0, 100);
        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Traffic, now, new Dictionary<string, SensorValue>
        {
            ["speed"] = Math.Round(speed, 1),
            ["flow"] = Math.Round(flow),
            ["occupancy"] = Math.Round(occupancy, 1),
        });
    }

    private SensorEvent ParkingEvent(SimulatedSensor sensor, DateTimeOffset now, double hour)
    {
        var busy = 0.3 + 0.6 * Math.Exp(-Math.Pow((hour - 12) / 4, 2));
        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Parking, now, new Dictionary<string, SensorValue>
        {
            ["occupied"] = _random.NextDouble() < busy,
        });
    }

    private SensorEvent EnergyEvent(SimulatedSensor sensor, DateTimeOffset now, double hour)
    {
        var working = hour is >= 7 and < 17 ? 1.0 : 0.25;
        var kw = sensor.Size * working * (1 + 0.05 * Gaussian());
        if (_random.NextDouble() < 0.001)
        {
            kw *= 3; // an occasional spike: a fault or equipment left on
        }

        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Energy, now, new Dictionary<string, SensorValue>
        {
            ["kw"] = Math.Round(Math.Max(0, kw), 2),
            ["temperature"] = Math.Round(19 + 3 * working + Gaussian(), 1),
        });
    }

    private static double RushHour(double hour) =>
        Math.Max(Math.Exp(-Math.Pow((hour - 8) / 1.2, 2)), Math.Exp(-Math.Pow((hour - 16.5) / 1.5, 2)));

    private double Gaussian()
    {
        var u1 = 1 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private sealed record SimulatedSensor(string Id, string Area, string Type, double Baseline, double Size);
}

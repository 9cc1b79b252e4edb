using Kommune.Rules.Model;

namespace Kommune.Connectors.Simulation;

/// <summary>Which kinds of sensor a <see cref="SensorSimulator"/> simulates.</summary>
public enum SensorMix
{
    /// <summary>
    /// The municipal mix: home-care fall wearables (10 %), road sensors (40 %), parking bays (30 %) and building
    /// energy meters (20 %).
    /// </summary>
    Municipal,

    /// <summary>
    /// Road sensors only, plus <see cref="SimulatorOptions.FallProbes"/> separate fall sensors that send nothing but
    /// the falls (at <see cref="SimulatorOptions.FallsPerMinute"/>, evenly spaced), so that fall alerts can still be
    /// timed while the traffic rules do all the other work.
    /// </summary>
    Traffic,
}

/// <summary>Settings of the simulated sensor network.</summary>
public sealed record SimulatorOptions
{
    /// <summary>Which kinds of sensor: the municipal mix (the default) or road sensors only with fall probes.</summary>
    public SensorMix Mix { get; init; } = SensorMix.Municipal;

    /// <summary>Number of sensors (in the traffic mix: road sensors, not counting the fall probes).</summary>
    public int Sensors { get; init; } = 1_000;

    /// <summary>Number of areas the sensors are spread over.</summary>
    public int Areas { get; init; } = 20;

    /// <summary>
    /// Expected falls per minute over the whole network. Falls are at most a tenth of the events in either mix.
    /// </summary>
    public double FallsPerMinute { get; init; } = 6;

    /// <summary>
    /// Traffic mix only: how many fall sensors (<c>fall-probe-0001</c>, ...) send the falls, probe j in area
    /// j mod <see cref="Areas"/>; they take turns. Ignored in the municipal mix, whose fall sensors are part of
    /// <see cref="Sensors"/>.
    /// </summary>
    public int FallProbes { get; init; } = 100;

    /// <summary>Events per second the stream is meant to run at (sets the fall probability per event).</summary>
    public double EventsPerSecond { get; init; } = 200;

    /// <summary>Seed of the random source: the same seed gives the same stream.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// Whether to play the scripted incidents of <see cref="SimulatedIncidents"/> (a traffic jam, a full car park, an
    /// energy spike), timed from the first event, so that a demo shows every rule family within minutes.
    /// </summary>
    public bool Incidents { get; init; }
}

/// <summary>
/// The scripted incidents of a simulation with <see cref="SimulatorOptions.Incidents"/>, as offsets from its first
/// event. They repeat every <see cref="Period"/>.
/// </summary>
public static class SimulatedIncidents
{
    /// <summary>The timeline repeats after this.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(20);

    /// <summary>The area whose road sensors report a jam (speed at a fifth of free flow, occupancy near 75 %).</summary>
    public const string JamArea = "area-002";

    /// <summary>When the jam starts and ends.</summary>
    public static readonly (TimeSpan Start, TimeSpan End) Jam = (TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(8));

    /// <summary>The area whose parking bays fill up (all but a few percent occupied).</summary>
    public const string FullParkingArea = "area-003";

    /// <summary>When the car park is full.</summary>
    public static readonly (TimeSpan Start, TimeSpan End) FullParking = (TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(7));

    /// <summary>The area whose first energy meter draws three times its usual load.</summary>
    public const string EnergySpikeArea = "area-004";

    /// <summary>When the meter's load is high.</summary>
    public static readonly (TimeSpan Start, TimeSpan End) EnergySpike = (TimeSpan.FromSeconds(75), TimeSpan.FromMinutes(5));

    internal static bool During((TimeSpan Start, TimeSpan End) incident, TimeSpan sinceStart)
    {
        var inPeriod = TimeSpan.FromTicks(sinceStart.Ticks % Period.Ticks);
        return inPeriod >= incident.Start && inPeriod < incident.End;
    }
}

/// <summary>
/// A deterministic municipal sensor network: home-care fall wearables (10 %), road sensors (40 %), parking bays
/// (30 %) and building energy meters (20 %), each kind spread over every area (sensor i is in area i mod areas),
/// with daily rush hours, parking and consumption patterns, occasional falls and one-reading energy blips, and
/// optionally the scripted <see cref="SimulatedIncidents"/>. Each call to <see cref="Next"/> gives the next
/// sensor's reading. With <see cref="SensorMix.Traffic"/> every sensor is a road sensor and the falls come from
/// separate fall probes, one event in place of the next road reading whenever a fall is due.
/// </summary>
public sealed class SensorSimulator
{
    private readonly SimulatorOptions _options;
    private readonly Random _random;
    private readonly SimulatedSensor[] _sensors;
    private readonly double _fallProbability;
    private readonly string? _spikingMeter;
    private readonly SimulatedSensor[] _fallProbes;
    private readonly double _fallShare;
    private long _index;
    private long _readings;
    private double _fallsDue;
    private long _fallsSent;
    private bool _firstFallDone;
    private DateTimeOffset? _start;

    /// <summary>Creates the network.</summary>
    public SensorSimulator(SimulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Sensors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Areas, 1);
        if (!Enum.IsDefined(options.Mix))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Mix, "Unknown sensor mix.");
        }

        var traffic = options.Mix == SensorMix.Traffic;
        if (traffic)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(options.FallProbes, 1);
        }

        _options = options;
        _random = new Random(options.Seed);
        _sensors = new SimulatedSensor[options.Sensors];
        for (var i = 0; i < options.Sensors; i++)
        {
            // Municipal mix: types cycle within each area, so that every area with at least ten sensors has every kind.
            var slot = (i / options.Areas) % 10;
            var type = traffic ? SensorTypes.Traffic : slot switch
            {
                0 => SensorTypes.Fall,
                < 5 => SensorTypes.Traffic,
                < 8 => SensorTypes.Parking,
                _ => SensorTypes.Energy,
            };
            var area = $"area-{(i % options.Areas) + 1:D3}";
            _sensors[i] = new SimulatedSensor($"{type}-{i + 1:D6}", area, type, 40 + _random.NextDouble() * 50, 5 + _random.NextDouble() * 95);
        }

        _spikingMeter = _sensors.FirstOrDefault(x => x.Type == SensorTypes.Energy && x.Area == SimulatedIncidents.EnergySpikeArea)?.Id;
        _fallProbes = traffic
            ? [.. Enumerable.Range(0, options.FallProbes).Select(j => new SimulatedSensor($"fall-probe-{j + 1:D4}", $"area-{(j % options.Areas) + 1:D3}", SensorTypes.Fall, 0, 0))]
            : [];

        var fallSensorEventsPerMinute = Math.Max(1, options.EventsPerSecond * 60 / 10);
        _fallProbability = Math.Min(1, options.FallsPerMinute / fallSensorEventsPerMinute);
        _fallShare = _fallProbability / 10; // the same falls per event as the municipal mix, at most one in ten
    }

    /// <summary>How many events were generated.</summary>
    public long Generated => _index;

    /// <summary>The next event, stamped with <paramref name="now"/>.</summary>
    public SensorEvent Next(DateTimeOffset now)
    {
        _index++;
        _start ??= now;
        if (_fallProbes.Length > 0 && FallDue())
        {
            // The probes take turns; the road readings go on where they left off.
            var probe = _fallProbes[_fallsSent++ % _fallProbes.Length];
            return FallEvent(probe, now);
        }

        var sensor = _sensors[_readings % _sensors.Length];
        _readings++;
        var sinceStart = now - _start.Value;
        var hour = now.UtcDateTime.Hour + now.UtcDateTime.Minute / 60.0 + now.UtcDateTime.Second / 3600.0;
        return sensor.Type switch
        {
            SensorTypes.Fall => FallSensorEvent(sensor, now),
            SensorTypes.Traffic => TrafficEvent(sensor, now, hour, Scripted(SimulatedIncidents.Jam, SimulatedIncidents.JamArea, sensor, sinceStart)),
            SensorTypes.Parking => ParkingEvent(sensor, now, hour, Scripted(SimulatedIncidents.FullParking, SimulatedIncidents.FullParkingArea, sensor, sinceStart)),
            _ => EnergyEvent(sensor, now, hour, sensor.Id == _spikingMeter && Scripted(SimulatedIncidents.EnergySpike, SimulatedIncidents.EnergySpikeArea, sensor, sinceStart)),
        };
    }

    /// <summary>
    /// Traffic mix: whether this event is a probe's fall. Falls are evenly spaced at the share the municipal mix
    /// draws at random; the first comes early, as in <see cref="FallSensorEvent"/>.
    /// </summary>
    private bool FallDue()
    {
        _fallsDue += _fallShare;
        if (_fallsDue >= 1 || (!_firstFallDone && _index > _options.EventsPerSecond * 2))
        {
            _fallsDue = Math.Max(0, _fallsDue - 1);
            return true;
        }

        return false;
    }

    private SensorEvent FallSensorEvent(SimulatedSensor sensor, DateTimeOffset now)
    {
        // The first fall comes early so that a demo shows an alert within seconds.
        var fall = _random.NextDouble() < _fallProbability || (!_firstFallDone && _index > _options.EventsPerSecond * 2);
        if (fall)
        {
            return FallEvent(sensor, now);
        }

        return new SensorEvent(sensor.Id, sensor.Area, "heartbeat", now, new Dictionary<string, SensorValue>
        {
            ["battery"] = Math.Round(20 + _random.NextDouble() * 80, 1),
            ["worn"] = _random.NextDouble() > 0.05,
        });
    }

    private SensorEvent FallEvent(SimulatedSensor sensor, DateTimeOffset now)
    {
        _firstFallDone = true;
        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Fall, now, new Dictionary<string, SensorValue>
        {
            ["confidence"] = Math.Round(0.8 + _random.NextDouble() * 0.2, 3),
            ["posture"] = "lying",
            ["inactivitySeconds"] = _random.Next(5, 120),
        });
    }

    private bool Scripted((TimeSpan Start, TimeSpan End) incident, string area, SimulatedSensor sensor, TimeSpan sinceStart) =>
        _options.Incidents && sensor.Area == area && SimulatedIncidents.During(incident, sinceStart);

    private SensorEvent TrafficEvent(SimulatedSensor sensor, DateTimeOffset now, double hour, bool jam)
    {
        var rush = RushHour(hour);
        var speed = Math.Max(3, sensor.Baseline * (jam ? 0.2 : 1 - 0.6 * rush) + Gaussian() * 4);
        var flow = Math.Max(0, (jam ? 400 : 300 + 1500 * rush) + Gaussian() * 80);
        var occupancy = Math.Clamp((jam ? 75 : 8 + 60 * rush) + Gaussian() * 5, 0, 100);
        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Traffic, now, new Dictionary<string, SensorValue>
        {
            ["speed"] = Math.Round(speed, 1),
            ["flow"] = Math.Round(flow),
            ["occupancy"] = Math.Round(occupancy, 1),
        });
    }

    private SensorEvent ParkingEvent(SimulatedSensor sensor, DateTimeOffset now, double hour, bool full)
    {
        var busy = full ? 1.0 : 0.3 + 0.6 * Math.Exp(-Math.Pow((hour - 12) / 4, 2));
        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Parking, now, new Dictionary<string, SensorValue>
        {
            ["occupied"] = _random.NextDouble() < busy,
        });
    }

    private SensorEvent EnergyEvent(SimulatedSensor sensor, DateTimeOffset now, double hour, bool spike)
    {
        // Working hours 07-17 with a ramp of about an hour at each end, a quarter of the load outside them.
        var working = 0.25 + 0.75 * Logistic((hour - 7) * 4) * Logistic((17 - hour) * 4);
        var kw = sensor.Size * working * (1 + 0.05 * Gaussian());
        var blip = _random.NextDouble() < 0.001; // drawn always, so that a scripted spike leaves the other sensors' streams unchanged
        if (spike || blip)
        {
            kw *= 3; // a fault or equipment left on: sustained when scripted, otherwise a one-reading blip
        }

        return new SensorEvent(sensor.Id, sensor.Area, SensorTypes.Energy, now, new Dictionary<string, SensorValue>
        {
            ["kw"] = Math.Round(Math.Max(0, kw), 2),
            ["temperature"] = Math.Round(19 + 3 * working + Gaussian(), 1),
        });
    }

    private static double Logistic(double x) => 1 / (1 + Math.Exp(-x));

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

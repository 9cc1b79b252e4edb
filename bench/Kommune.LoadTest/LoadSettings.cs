using System.Globalization;
using Kommune.Connectors.Simulation;
using Kommune.Engine;

namespace Kommune.LoadTest;

/// <summary>What one load-test invocation does.</summary>
internal sealed record LoadSettings
{
    /// <summary>An existing cluster, or null to start the embedded broker.</summary>
    public string? BootstrapServers { get; init; }

    /// <summary>Events per second offered; 0 offers as fast as the generator can produce.</summary>
    public double Rate { get; init; }

    /// <summary>Measured seconds per run, after the warm-up.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Seconds at the rate before measuring.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The generator's sensors: the municipal mix, or road sensors only plus fall probes.</summary>
    public SensorMix Mix { get; init; } = SensorMix.Municipal;

    /// <summary>Simulated sensors; in the traffic mix the road sensors, the fall probes come on top.</summary>
    public int Sensors { get; init; } = 100_000;

    public int Areas { get; init; } = 1_000;

    /// <summary>Falls per minute in the whole network (their alerts are what latency is measured on).</summary>
    public double FallsPerMinute { get; init; } = 3_000;

    /// <summary>Partitions of every topic (embedded broker).</summary>
    public int Partitions { get; init; } = 12;

    /// <summary>The engine's processing guarantee for its run.</summary>
    public bool ExactlyOnce { get; init; }

    /// <summary>Whether the engine writes rule state to the state topic (its default).</summary>
    public bool PersistState { get; init; } = true;

    /// <summary>Whether the engine writes large states as deltas of a base (EngineOptions.StateDeltas; off by default).</summary>
    public bool StateDeltas { get; init; }

    /// <summary>The engine's checkpoint interval (EngineOptions.StateInterval); null for its default.</summary>
    public TimeSpan? StateInterval { get; init; }

    /// <summary>The engine's in-flight bound (EngineOptions.MaxInFlightEvents); null for its default.</summary>
    public int? MaxInFlightEvents { get; init; }

    /// <summary>Sets the engine settings this run varies (guarantee, state, checkpoint interval, in-flight bound) on <paramref name="options"/>.</summary>
    public void ApplyTo(EngineOptions options)
    {
        options.ProcessingGuarantee = ExactlyOnce ? ProcessingGuarantee.ExactlyOnce : ProcessingGuarantee.AtLeastOnce;
        options.PersistState = PersistState;
        options.StateDeltas = StateDeltas;
        if (StateInterval is { } interval)
        {
            options.StateInterval = interval;
        }

        if (MaxInFlightEvents is { } maxInFlight)
        {
            options.MaxInFlightEvents = maxInFlight;
        }
    }

    /// <summary>Search each pipe's highest rate it keeps up with, starting at <see cref="Rate"/> (1,000 when 0).</summary>
    public bool FindMax { get; init; }

    /// <summary>Skip the raw consume → produce baseline.</summary>
    public bool SkipBaseline { get; init; }

    /// <summary>Skip the engine: the raw pipe (and the broker hop) only.</summary>
    public bool SkipEngine { get; init; }

    /// <summary>
    /// Run each measured run's generator and latency reader in a child process of their own instead of this one, so
    /// that they do not share a process (its garbage collector, thread pool and librdkafka threads) with the broker and
    /// the pipe under test.
    /// </summary>
    public bool SeparateGenerator { get; init; }

    /// <summary>Run the embedded broker as a <c>kommune broker</c> child process instead of in this one.</summary>
    public bool SeparateBroker { get; init; }

    /// <summary>
    /// 0: the engine in this process. 1 or more: that many <c>kommune run</c> child processes (engine nodes) in one
    /// consumer group on the same broker.
    /// </summary>
    public int Nodes { get; init; }

    /// <summary>Nodes only: the rebalance scenario (a node joins, one is stopped with SIGTERM, one killed with SIGKILL).</summary>
    public bool Rebalance { get; init; }

    /// <summary>Rebalance scenario: how long each step is watched after the nodes own every partition again.</summary>
    public TimeSpan Phase { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Nodes only: their SessionTimeout; null for the engine's default.</summary>
    public TimeSpan? SessionTimeout { get; init; }

    /// <summary>Also measure the outputs that event-time timers make, on both sides of the repartition topic.</summary>
    public bool AreaLatency { get; init; }

    /// <summary>With <see cref="AreaLatency"/>: a CSV file to write every timer output counted to, or null.</summary>
    public string? TimerDump { get; init; }

    /// <summary>A CSV file to write each fall's first output to (when it was due, produced and readable), or null.</summary>
    public string? FallDump { get; init; }

    /// <summary>Play the simulator's scripted incidents (a jam, a full car park, an energy spike), so area rules raise alerts.</summary>
    public bool Incidents { get; init; }

    /// <summary>The drain benchmark instead of the load test: pre-fill <see cref="Events"/>, then drain them with a hand-written loop and the engine (fall-alert only).</summary>
    public bool Drain { get; init; }

    /// <summary>Drain benchmark: events pre-filled.</summary>
    public long Events { get; init; } = 1_000_000;

    /// <summary>Drain benchmark: rounds of loop and engine, the order alternating (odd rounds the loop first).</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>What the generator simulates, for the header and the table.</summary>
    public string Workload
    {
        get
        {
            var simulator = Simulator(seed: 0, Rate);
            return simulator.Mix == SensorMix.Traffic
                ? string.Create(CultureInfo.InvariantCulture, $"traffic mix: {Sensors:N0} road sensors + {simulator.FallProbes:N0} fall probes in {Areas:N0} areas, {FallsPerMinute:N0} falls/min")
                : string.Create(CultureInfo.InvariantCulture, $"municipal mix: {Sensors:N0} sensors (falls, traffic, parking, energy) in {Areas:N0} areas, {FallsPerMinute:N0} falls/min{(Incidents ? ", scripted incidents" : "")}");
        }
    }

    /// <summary>The simulator's settings for a generator at <paramref name="rate"/> events/s (0: as fast as it can).</summary>
    public SimulatorOptions Simulator(int seed, double rate) => new()
    {
        Mix = Mix,
        Sensors = Sensors,
        Areas = Areas,
        FallsPerMinute = FallsPerMinute,
        EventsPerSecond = rate > 0 ? rate : 50_000,
        Seed = seed,
        Incidents = Incidents,
    };
}

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

    /// <summary>The engine's checkpoint interval (EngineOptions.StateInterval); null for its default.</summary>
    public TimeSpan? StateInterval { get; init; }

    /// <summary>Search each pipe's highest rate it keeps up with, starting at <see cref="Rate"/> (1,000 when 0).</summary>
    public bool FindMax { get; init; }

    /// <summary>Skip the raw consume → produce baseline.</summary>
    public bool SkipBaseline { get; init; }
}

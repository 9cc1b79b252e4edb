namespace Kommune.MemoryTest;

/// <summary>What one memory-test invocation does.</summary>
internal sealed record MemorySettings
{
    /// <summary>Live sensors to create.</summary>
    public int Sensors { get; init; } = 1_000_000;

    /// <summary>Areas the sensors are spread over.</summary>
    public int Areas { get; init; } = 1_000;

    /// <summary><see cref="SensorMix.Mixed"/> or one of <see cref="SensorMix.Types"/>.</summary>
    public string Type { get; init; } = SensorMix.Mixed;

    /// <summary>Whether to measure as many sensors without rule state first (actor cost and rule-state cost apart).</summary>
    public bool Split { get; init; }

    /// <summary>
    /// When set, the sensors' idle timeout: the heap is read once every sensor that can has gone idle (stopped, or fallen
    /// asleep as its state's bytes), not while all are active. Null: a day, so that none goes idle during the test.
    /// </summary>
    public TimeSpan? AsleepAfter { get; init; }

    /// <summary>
    /// Whether state is persisted, as the engine does by default: each key then keeps what its state covers and a hash of
    /// its last written state, and its events complete once its state is written (to <see cref="AcknowledgingSink"/>,
    /// which keeps nothing). Off: the actors' and rules' memory alone, as measured since the first run of this test.
    /// </summary>
    public bool Persist { get; init; }

    /// <summary>Whether to keep the process, its actors alive, after the report until a line is read from standard input (for a heap dump).</summary>
    public bool Hold { get; init; }

    /// <summary>The rules file, loaded the way the engine loads it.</summary>
    public required string RulesFile { get; init; }

    /// <summary>Stop creating sensors once RSS passes this.</summary>
    public long MaxRssBytes { get; init; } = 12L * 1024 * 1024 * 1024;

    /// <summary>Events sent and not yet processed at most.</summary>
    public int MaxInFlight { get; init; } = 20_000;
}

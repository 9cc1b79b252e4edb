using HdrHistogram;

namespace Kommune.LoadTest;

/// <summary>
/// The fixed-rate generator and the latency reader of one measured run, in the load test's process
/// (<see cref="InProcessLoadClient"/>) or in a child process of their own (<see cref="LoadClientProcess"/>). The reader
/// is reading when the client has been created; <see cref="StartAsync"/> starts the generator.
/// </summary>
internal interface ILoadClient : IAsyncDisposable
{
    /// <summary>Starts the generator.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>What was produced, read and measured so far.</summary>
    Task<LoadProgress> ProgressAsync(CancellationToken cancellationToken);

    /// <summary>Counts only falls whose intended send time is from now on (the warm-up is over).</summary>
    Task StartMeasuringAsync(CancellationToken cancellationToken);

    /// <summary>Stops the generator and waits until what it produced is acknowledged; the reader goes on reading.</summary>
    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>CPU time used so far by the process the client runs in, when that is a process of its own; null in this one.</summary>
    TimeSpan? ProcessorTime { get; }

    /// <summary>Every fall's first output read so far, and from when on they count.</summary>
    Task<LoadOutcome> OutcomeAsync(CancellationToken cancellationToken);
}

/// <summary>Where a run's generator and reader stand.</summary>
/// <param name="Produced">Events the generator produced.</param>
/// <param name="Read">Records the reader read from the output topic, of every kind.</param>
/// <param name="FallsMeasured">Falls whose first output counted (intended after the warm-up).</param>
/// <param name="P99Ms">Their latency at the 99th percentile so far, in milliseconds (0 before the first).</param>
internal readonly record struct LoadProgress(long Produced, long Read, long FallsMeasured, double P99Ms);

/// <summary>What a run's latency reader saw.</summary>
/// <param name="MeasureFrom">Stopwatch ticks from which on a fall's intended send time counts (long.MaxValue: never measured).</param>
/// <param name="Outputs">Every fall's first output, warm-up included, in the order read.</param>
internal sealed record LoadOutcome(long MeasureFrom, IReadOnlyList<FallOutput> Outputs)
{
    /// <summary>
    /// The latency of the falls that count, from the intended send time to readable, in microseconds. Stopwatch ticks
    /// are the system's monotonic clock, the same in every process, so a child's ticks compare with this process's.
    /// </summary>
    public LongHistogram Latency()
    {
        var histogram = new LongHistogram(TimeStamp.Minutes(10), 3);
        foreach (var fall in Outputs.Where(o => o.Intended >= MeasureFrom))
        {
            histogram.RecordValue(Math.Max(0, (long)((fall.Readable - fall.Intended) * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency)));
        }

        return histogram;
    }
}

/// <summary>Where a latency reader finds the id of the fall an output record is for.</summary>
internal enum FallIdSource
{
    /// <summary>The generator's <see cref="FixedRateProducer.IdHeader"/> header: a copy of the event (raw pipe, broker hop).</summary>
    Header,

    /// <summary>An engine alert's sensor and event time.</summary>
    Alert,
}

namespace Kommune.LoadTest;

/// <summary>The generator and the latency reader on threads of the load test's own process, beside the broker and the pipe.</summary>
internal sealed class InProcessLoadClient : ILoadClient
{
    /// <summary>Starts the reader on <paramref name="output"/>; the generator, for <paramref name="input"/>, waits for <see cref="StartAsync"/>.</summary>
    public InProcessLoadClient(string bootstrapServers, string input, string output, FallIdSource fallIds, LoadSettings settings)
    {
        Generator = new FixedRateProducer(bootstrapServers, input, settings, seed: 7);
        Reader = new LatencyReader(bootstrapServers, output, settings.Partitions, Generator, LatencyReader.FallId(fallIds));
        Reader.Start();
    }

    /// <summary>The generator, for readers of other outputs of the same run (the timer outputs).</summary>
    public FixedRateProducer Generator { get; }

    private LatencyReader Reader { get; }

    /// <summary>Null: its threads' time is this process's.</summary>
    public TimeSpan? ProcessorTime => null;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Generator.Start();
        return Task.CompletedTask;
    }

    public Task<LoadProgress> ProgressAsync(CancellationToken cancellationToken)
    {
        var latency = Reader.Snapshot();
        return Task.FromResult(new LoadProgress(Generator.Produced, Reader.Read, latency.TotalCount,
            latency.TotalCount > 0 ? latency.GetValueAtPercentile(99) / 1000.0 : 0));
    }

    public Task StartMeasuringAsync(CancellationToken cancellationToken)
    {
        Reader.StartMeasuring();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Generator.Stop();
        return Task.CompletedTask;
    }

    public Task<LoadOutcome> OutcomeAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new LoadOutcome(Reader.MeasureFrom, Reader.Outputs));

    public ValueTask DisposeAsync()
    {
        Reader.Dispose();
        Generator.Dispose();
        return ValueTask.CompletedTask;
    }
}

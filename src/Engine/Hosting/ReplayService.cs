using Kommune.Connectors.Simulation;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Hosting;

/// <summary>What to replay: a CSV series (timestamp,value) as one sensor's events.</summary>
internal sealed record ReplaySettings(string File, string SensorId, string AreaId, string Type, string ValueName, double Speedup);

/// <summary>Streams a recorded CSV series into the sensor-events topic, shifted so its last reading is now.</summary>
internal sealed class ReplayService(EngineOptions options, ReplaySettings settings, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var series = RecordedSeries.Load(settings.File);
        var events = series.ToEvents(settings.SensorId, settings.AreaId, settings.Type, settings.ValueName, DateTimeOffset.UtcNow);
        using var publisher = new SimulatorPublisher(options.BootstrapServers, options.ToKafkaClientSettings(), options.Topics.SensorEvents);
        var pace = settings.Speedup > 0 ? $"{settings.Speedup}x" : "as fast as possible";
        Console.WriteLine($"Replaying {series.Readings.Count} readings of {settings.File} as {settings.Type} sensor {settings.SensorId} in {settings.AreaId}, {pace}");
        try
        {
            await SeriesReplayer.ReplayAsync(events, publisher, settings.Speedup, TimeProvider.System, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }

        publisher.Dispose();
        Console.WriteLine($"Produced {publisher.Produced} events ({publisher.Failed} failed)");
        lifetime.StopApplication();
    }
}

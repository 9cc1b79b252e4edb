using Kommune.Connectors.Simulation;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Hosting;

/// <summary>Settings of the stand-alone simulator.</summary>
internal sealed record SimulateSettings(int Sensors, int Areas, double Rate, double FallsPerMinute, long Count);

/// <summary>Streams simulated sensor events into the sensor-events topic until stopped or the count is reached.</summary>
internal sealed class SimulateService(EngineOptions options, SimulateSettings settings, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var publisher = new SimulatorPublisher(options.BootstrapServers, options.Topics.SensorEvents);
        var simulator = new SensorSimulator(new SimulatorOptions
        {
            Sensors = settings.Sensors,
            Areas = settings.Areas,
            EventsPerSecond = settings.Rate,
            FallsPerMinute = settings.FallsPerMinute,
        });
        Console.WriteLine($"Simulating {settings.Sensors} sensors in {settings.Areas} areas at {settings.Rate} events/s into {options.Topics.SensorEvents} on {options.BootstrapServers}");
        await Task.Run(() => publisher.RunAsync(simulator, settings.Rate, TimeProvider.System, settings.Count, stoppingToken), CancellationToken.None);
        Console.WriteLine($"Produced {publisher.Produced} events ({publisher.Failed} failed)");
        lifetime.StopApplication();
    }
}

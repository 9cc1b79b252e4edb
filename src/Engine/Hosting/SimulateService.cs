using Kommune.Connectors.Simulation;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Hosting;

/// <summary>Settings of the stand-alone simulator.</summary>
internal sealed record SimulateSettings(SimulatorOptions Simulator, long Count);

/// <summary>Streams simulated sensor events into the sensor-events topic until stopped or the count is reached.</summary>
internal sealed class SimulateService(EngineOptions options, SimulateSettings settings, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var publisher = new SimulatorPublisher(options.BootstrapServers, options.ToKafkaClientSettings(), options.Topics.SensorEvents);
        var sim = settings.Simulator;
        Console.WriteLine($"Simulating {sim.Sensors} sensors in {sim.Areas} areas at {sim.EventsPerSecond} events/s into {options.Topics.SensorEvents} on {options.BootstrapServers}");
        await Task.Run(() => publisher.RunAsync(new SensorSimulator(sim), sim.EventsPerSecond, TimeProvider.System, settings.Count, stoppingToken), CancellationToken.None);
        Console.WriteLine($"Produced {publisher.Produced} events ({publisher.Failed} failed)");
        lifetime.StopApplication();
    }
}

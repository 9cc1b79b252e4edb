using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Kommune.Connectors.Simulation;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Hosting;

/// <summary>Settings of the demo workload.</summary>
internal sealed record DemoSettings(SimulatorOptions Simulator, TimeSpan? Duration);

/// <summary>
/// The demo's side of the stream: a simulator producing sensor events, a separate consumer printing every alert
/// the engine writes to the alerts topic, and a status line every few seconds: what the simulator produced and what
/// <see cref="IDemoProgress"/> says of the engine.
/// </summary>
internal sealed class DemoService(EngineOptions options, DemoSettings settings, IDemoProgress progress, IHostApplicationLifetime lifetime) : BackgroundService
{
    private static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var publisher = new SimulatorPublisher(options.BootstrapServers, options.ToKafkaClientSettings(), options.Topics.SensorEvents);
        var sim = settings.Simulator;
        Console.WriteLine($"Demo: {sim.Sensors} sensors in {sim.Areas} areas at {sim.EventsPerSecond} events/s. Ctrl+C stops.");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        if (settings.Duration is { } duration)
        {
            stop.CancelAfter(duration);
        }

        var produce = Task.Run(() => publisher.RunAsync(new SensorSimulator(sim), sim.EventsPerSecond, TimeProvider.System, cancellationToken: stop.Token), CancellationToken.None);
        // The printer blocks in Consume: give it its own thread, not one of the thread pool's few.
        var print = Task.Factory.StartNew(() => PrintAlerts(stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var status = ReportStatusAsync(publisher, stop.Token);
        await Task.WhenAll(produce, print, status);
        if (!stoppingToken.IsCancellationRequested)
        {
            lifetime.StopApplication();
        }
    }

    private void PrintAlerts(CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<string, string>(options.ToKafkaClientSettings().ApplyTo(new ConsumerConfig
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = $"kommune-demo-printer-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            ClientId = "kommune-demo-printer",
        })).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe(options.Topics.Alerts);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (record?.Message?.Value is { } json)
                {
                    Console.WriteLine(FormatAlert(json));
                }
            }
            catch (ConsumeException e)
            {
                Console.WriteLine($"alert printer: {e.Error.Reason}");
            }
        }

        consumer.Close();
    }

    internal static string FormatAlert(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var a = doc.RootElement;
            string S(string name) => a.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "-";
            var level = a.TryGetProperty("level", out var l) ? l.GetInt32() : 0;
            return string.Create(CultureInfo.InvariantCulture,
                $"ALERT {S("severity"),-8} {S("status"),-9} level {level}  {S("rule")}  {S("sensorId")} in {S("areaId")} at {S("eventTime")}  [{S("alertId")}]");
        }
        catch (JsonException)
        {
            return $"ALERT (unreadable) {json}";
        }
    }

    private async Task ReportStatusAsync(SimulatorPublisher publisher, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(StatusInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = DateTime.UtcNow;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{now:HH:mm:ss} produced {publisher.Produced}  {progress.Describe(now)}"));
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}

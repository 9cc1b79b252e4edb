using Kommune.Connectors.Broker;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Hosting;

/// <summary>Settings of the embedded broker.</summary>
internal sealed record BrokerSettings(int Brokers, int Partitions, string? BootstrapFile);

/// <summary>Keeps an embedded Kafka cluster, with the engine's topics, running for the host's lifetime.</summary>
internal sealed class BrokerService(EngineOptions options, BrokerSettings settings) : IHostedService, IDisposable
{
    private EmbeddedKafkaCluster? _cluster;

    public string BootstrapServers => _cluster?.BootstrapServers ?? throw new InvalidOperationException("The broker has not started.");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _cluster = StartCluster(settings.Brokers, settings.Partitions, options);
        if (settings.BootstrapFile is { } file)
        {
            // Whole before anyone can see it, and before the lines that say the broker is ready.
            var partial = file + ".partial";
            File.WriteAllText(partial, _cluster.BootstrapServers);
            File.Move(partial, file, overwrite: true);
        }

        Console.WriteLine($"Embedded Kafka broker ({settings.Brokers} broker(s)) listening on {_cluster.BootstrapServers}");
        Console.WriteLine($"Topics ({settings.Partitions} partitions each): {string.Join(", ", options.ToKafkaTopics().All)}");

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _cluster?.Dispose();
        _cluster = null;
    }

    /// <summary>Starts a cluster and creates every topic of the engine on it.</summary>
    /// <param name="brokers">How many brokers.</param>
    /// <param name="partitions">Partitions of every topic.</param>
    /// <param name="options">The engine's topic names.</param>
    /// <param name="groupJoinDelay">How long a new group waits for more members before its first assignment (default none).</param>
    public static EmbeddedKafkaCluster StartCluster(int brokers, int partitions, EngineOptions options, TimeSpan? groupJoinDelay = null)
    {
        var cluster = EmbeddedKafkaCluster.Start(brokers, groupJoinDelay);
        foreach (var topic in options.ToKafkaTopics().All)
        {
            cluster.CreateTopic(topic, partitions, replicationFactor: Math.Min(3, brokers));
        }

        return cluster;
    }
}

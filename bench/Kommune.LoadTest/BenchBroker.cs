using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;

namespace Kommune.LoadTest;

/// <summary>The broker a run uses: the one given, or the embedded one with the engine's topics (and any others) made.</summary>
internal sealed class BenchBroker : IDisposable
{
    private readonly EmbeddedKafkaCluster? _cluster;

    public BenchBroker(LoadSettings settings, params string[] moreTopics)
    {
        // No initial rebalance delay: a lone consumer starts at once (nodes started together are waited for until they settle).
        _cluster = settings.BootstrapServers is null ? EmbeddedKafkaCluster.Start(groupJoinDelay: TimeSpan.Zero) : null;
        BootstrapServers = settings.BootstrapServers ?? _cluster!.BootstrapServers;
        if (_cluster is not null)
        {
            // Every topic of the engine's, the repartition topic included, with the same partition count.
            foreach (var topic in Topics.All.Concat(moreTopics))
            {
                _cluster.CreateTopic(topic, settings.Partitions);
            }
        }
    }

    public string BootstrapServers { get; }

    public bool Embedded => _cluster is not null;

    public KafkaTopics Topics { get; } = new();

    public void Dispose() => _cluster?.Dispose();
}

using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;

namespace Kommune.LoadTest;

/// <summary>
/// The broker a run uses: the one given, or the embedded one with the engine's topics (and any others) made, in this
/// process or (<see cref="LoadSettings.SeparateBroker"/>) in a child process of its own (<see cref="BrokerProcess"/>).
/// </summary>
internal sealed class BenchBroker : IDisposable
{
    private readonly EmbeddedKafkaCluster? _cluster;
    private readonly BrokerProcess? _process;

    public BenchBroker(LoadSettings settings, params string[] moreTopics)
    {
        if (settings.BootstrapServers is { } given)
        {
            BootstrapServers = given;
            Where = "given";
        }
        else if (settings.SeparateBroker)
        {
            _process = BrokerProcess.Start(settings.Partitions, moreTopics);
            BootstrapServers = _process.BootstrapServers;
            Where = "embedded, in a child process";
        }
        else
        {
            // No initial rebalance delay: a lone consumer starts at once (nodes started together are waited for until they settle).
            _cluster = EmbeddedKafkaCluster.Start(groupJoinDelay: TimeSpan.Zero);
            BootstrapServers = _cluster.BootstrapServers;
            Where = "embedded, in this process";
            // Every topic of the engine's, the repartition topic included, with the same partition count.
            foreach (var topic in Topics.All.Concat(moreTopics))
            {
                _cluster.CreateTopic(topic, settings.Partitions);
            }
        }
    }

    public string BootstrapServers { get; }

    /// <summary>Given, or embedded in this process or a child.</summary>
    public string Where { get; }

    public KafkaTopics Topics { get; } = new();

    /// <summary>CPU time the broker's own process has used so far; null when it is not a child of ours.</summary>
    public TimeSpan? ProcessorTime => _process?.ProcessorTime;

    public void Dispose()
    {
        _cluster?.Dispose();
        _process?.Dispose();
    }
}

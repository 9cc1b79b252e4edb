using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Simulation;

/// <summary>Streams a <see cref="SensorSimulator"/> into a Kafka topic at a fixed rate.</summary>
public sealed class SimulatorPublisher : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _topic;
    private long _produced;
    private long _failed;

    /// <summary>Creates the producer (idempotent, keyed by sensorId).</summary>
    /// <param name="bootstrapServers">The cluster.</param>
    /// <param name="clientSettings">The librdkafka settings from configuration (TLS, SASL), applied over the producer's own.</param>
    /// <param name="topic">The sensor-events topic.</param>
    public SimulatorPublisher(string bootstrapServers, KafkaClientSettings clientSettings, string topic)
    {
        ArgumentNullException.ThrowIfNull(clientSettings);
        _topic = topic;
        _producer = new ProducerBuilder<byte[], byte[]>(clientSettings.ApplyTo(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            LingerMs = 5,
            ClientId = "kommune-simulator",
        })).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>Events the broker acknowledged.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Events whose delivery failed.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Produces events at <paramref name="eventsPerSecond"/> until cancelled or <paramref name="maxEvents"/> are sent.</summary>
    public async Task RunAsync(SensorSimulator simulator, double eventsPerSecond, TimeProvider clock, long maxEvents = long.MaxValue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(simulator);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(eventsPerSecond);
        var started = Stopwatch.StartNew();
        long sent = 0;
        while (!cancellationToken.IsCancellationRequested && sent < maxEvents)
        {
            var due = Math.Min(maxEvents, (long)(started.Elapsed.TotalSeconds * eventsPerSecond) + 1);
            while (sent < due)
            {
                var e = simulator.Next(clock.GetUtcNow());
                Send(Encoding.UTF8.GetBytes(e.SensorId), SensorEventEncoder.Encode(e));
                sent++;
            }

            try
            {
                await Task.Delay(10, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        _producer.Flush(TimeSpan.FromSeconds(10));
    }

    /// <summary>Produces one raw record, keyed as given.</summary>
    public void Send(byte[] key, byte[] value)
    {
        while (true)
        {
            try
            {
                _producer.Produce(_topic, new Message<byte[], byte[]> { Key = key, Value = value }, report =>
                {
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref _failed);
                    }
                    else
                    {
                        Interlocked.Increment(ref _produced);
                    }
                });
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    /// <summary>Flushes and closes the producer.</summary>
    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}

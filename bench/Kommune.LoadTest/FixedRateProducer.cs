using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Rules.Model;

namespace Kommune.LoadTest;

/// <summary>
/// Streams simulated events into a topic at a fixed rate (or as fast as it can) on its own thread. Each event's
/// intended send time follows the schedule, not the moment it actually went out, so a stalled system is charged for
/// the whole stall (coordinated omission corrected, as wrk2 and HdrHistogram's users do). The intended time of every
/// fall is kept by id (<c>sensorId:eventMs</c>) for the latency readers; the id also travels in a header.
/// </summary>
internal sealed class FixedRateProducer : IDisposable
{
    public const string IdHeader = "bench-id";
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly SensorSimulator _simulator;
    private readonly string _topic;
    private readonly double _rate;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private long _produced;
    private long _start;
    private DateTimeOffset _wallStart;

    public FixedRateProducer(string bootstrapServers, string topic, LoadSettings settings, int seed)
    {
        _topic = topic;
        _rate = settings.Rate;
        _simulator = new SensorSimulator(settings.Simulator(seed, settings.Rate));
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            EnableIdempotence = true,
            LingerMs = 2,
            QueueBufferingMaxMessages = 200_000,
            ClientId = "bench-load",
        }).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>Intended send time (Stopwatch ticks) of each fall not yet seen by a reader.</summary>
    public ConcurrentDictionary<string, long> Falls { get; } = new(StringComparer.Ordinal);

    /// <summary>The sensor-events partition each fall went to (from its delivery report), by id.</summary>
    public ConcurrentDictionary<string, int> FallPartitions { get; } = new(StringComparer.Ordinal);

    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>
    /// The intended send time (Stopwatch ticks) of an event stamped <paramref name="eventTime"/> by this generator:
    /// its events' times follow its schedule, so any event time maps back to the moment the schedule reached it. Null
    /// before the generator started.
    /// </summary>
    public long? IntendedTicks(DateTimeOffset eventTime)
    {
        var start = Interlocked.Read(ref _start);
        return start == 0 ? null : start + (long)((eventTime - _wallStart).TotalSeconds * Stopwatch.Frequency);
    }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "bench-producer" };
        _thread.Start();
    }

    public void Stop()
    {
        _stop.Cancel();
        _thread?.Join();
        _producer.Flush(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _producer.Dispose();
        _stop.Dispose();
    }

    private void Run()
    {
        var start = Stopwatch.GetTimestamp();
        var wallStart = DateTimeOffset.UtcNow;
        _wallStart = wallStart;
        Interlocked.Exchange(ref _start, start);
        var ticksPerEvent = _rate > 0 ? Stopwatch.Frequency / _rate : 0;
        for (long i = 0; !_stop.IsCancellationRequested; i++)
        {
            var intended = start + (long)(i * ticksPerEvent);
            if (_rate > 0)
            {
                WaitUntil(intended);
            }
            else
            {
                intended = Stopwatch.GetTimestamp();
            }

            var eventTime = wallStart + Stopwatch.GetElapsedTime(start, intended);
            var sensorEvent = _simulator.Next(eventTime);
            var id = $"{sensorEvent.SensorId}:{sensorEvent.Timestamp.ToUnixTimeMilliseconds()}";
            var fall = sensorEvent.Type == SensorTypes.Fall && sensorEvent.Values.ContainsKey("confidence");
            if (fall)
            {
                Falls[id] = intended;
            }

            var message = new Message<byte[], byte[]>
            {
                Key = Encoding.UTF8.GetBytes(sensorEvent.SensorId),
                Value = SensorEventEncoder.Encode(sensorEvent),
                Headers = [new Header(IdHeader, Encoding.UTF8.GetBytes(id))],
            };
            while (!TryProduce(message, fall ? id : null))
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                _producer.Poll(TimeSpan.FromMilliseconds(1)); // local queue full: the broker is behind
            }

            Interlocked.Increment(ref _produced);
        }
    }

    private bool TryProduce(Message<byte[], byte[]> message, string? fallId)
    {
        try
        {
            if (fallId is null)
            {
                _producer.Produce(_topic, message);
            }
            else
            {
                _producer.Produce(_topic, message, report => FallPartitions[fallId] = report.Partition.Value);
            }

            return true;
        }
        catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
        {
            return false;
        }
    }

    // Sleeps, never spins: a spinning generator took about 40 % of one of the machine's two cores from the engine it
    // measures. Events due meanwhile go out together after the sleep (about a millisecond late at most); latency is
    // still measured from each event's intended time, so that lateness counts against the pipe, never for it.
    private void WaitUntil(long timestamp)
    {
        while (Stopwatch.GetTimestamp() < timestamp && !_stop.IsCancellationRequested)
        {
            Thread.Sleep(1);
        }
    }
}

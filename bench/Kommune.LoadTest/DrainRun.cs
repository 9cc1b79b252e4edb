using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Engine;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging;

namespace Kommune.LoadTest;

/// <summary>
/// The drain benchmark (<c>--drain</c>), issue 18's simplest job: one input topic pre-filled with
/// <see cref="LoadSettings.Events"/> simulator events, then drained from the earliest offset, each time in a new consumer
/// group, by the hand-written consume → filter → produce loop (<see cref="DrainLoop"/>) and by the engine in this
/// process with only the <c>fall-alert</c> rule. Both read the very same records (same topic, same partitions, same
/// batches), so neither gets a different layout; the order alternates from round to round. Each is timed from before
/// its clients are made to the moment every input record is done (the loop: consumed, and every fall it produced
/// acknowledged; the engine: <see cref="EngineStatistics.Processed"/>, its outputs and state acknowledged).
/// </summary>
internal sealed class DrainRun(LoadSettings settings, TextWriter output)
{
    private const string RulesJson = """{ "rules": [ { "name": "fall-alert", "rule": "fall-alert" } ] }""";
    private static readonly TimeSpan Spacing = TimeSpan.FromTicks(TimeSpan.TicksPerSecond / 50_000); // event times 20 µs apart
    private static readonly string[] EngineTopics = ["acks", "alerts", "aggregates", "dead-letters", "state", "repartition"];
    private readonly string _run = $"bench.drain-{DateTime.UtcNow:HHmmss}";

    private TimeSpan Timeout => TimeSpan.FromSeconds(60 + settings.Events / 5_000.0);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var input = $"{_run}.in";
        string[] topics = [input, .. Enumerable.Range(1, settings.Rounds).SelectMany(RoundTopics)];
        using var broker = new BenchBroker(settings, topics);
        var bootstrap = broker.BootstrapServers;
        var rulesFile = Path.Combine(Path.GetTempPath(), $"kommune-drain-rules-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(rulesFile, RulesJson, cancellationToken);
        try
        {
            output.WriteLine(Invariant($"Drain: Kafka {bootstrap} ({broker.Where}), {settings.Partitions} partitions, {settings.Events:N0} events, {settings.Workload}; {settings.Rounds} rounds, the order alternating; {Environment.ProcessorCount} cores, load {LoadAverage()}, {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC"));
            if (settings.BootstrapServers is not null)
            {
                // The embedded broker made them (it has no controller to ask).
                await CreateTopicsAsync(bootstrap, topics);
            }

            var (took, falls, bytes) = Prefill(bootstrap, input);
            output.WriteLine(Invariant($"pre-filled {input}: {settings.Events:N0} events ({falls:N0} falls, {bytes / 1024.0 / 1024:N1} MiB of keys and values) in {took.TotalSeconds:N1} s ({settings.Events / took.TotalSeconds:N0}/s)"));
            CheckWhole(bootstrap, input, "after the pre-fill");

            var results = new List<DrainResult>();
            for (var round = 1; round <= settings.Rounds; round++)
            {
                var loopFirst = round % 2 == 1;
                foreach (var loop in loopFirst ? new[] { true, false } : [false, true])
                {
                    var position = loop == loopFirst ? "1st" : "2nd";
                    Collect();
                    var result = loop
                        ? await LoopAsync(round, position, bootstrap, input, cancellationToken)
                        : await EngineAsync(round, position, bootstrap, input, rulesFile, cancellationToken);
                    results.Add(result);
                    output.WriteLine(Invariant($"  round {round}, {result.Pipe}: {result.Seconds:N2} s, {result.EventsPerSecond:N0} events/s, {result.Outputs:N0} outputs; {result.Notes}"));
                    if (result.Outputs != falls)
                    {
                        throw new DrainFailedException(Invariant($"{result.Pipe} wrote {result.Outputs:N0} outputs for {falls:N0} falls."));
                    }
                }
            }

            CheckWhole(bootstrap, input, "after the drains");
            WriteTable(results, falls);
            return 0;
        }
        catch (DrainFailedException e)
        {
            await Console.Error.WriteLineAsync($"DRAIN FAILED: {e.Message}");
            return 2;
        }
        finally
        {
            File.Delete(rulesFile);
        }
    }

    private IEnumerable<string> RoundTopics(int round) => [$"{_run}.r{round}.loop-out", .. EngineTopics.Select(t => $"{_run}.r{round}.{t}")];

    private async Task CreateTopicsAsync(string bootstrap, IEnumerable<string> topics)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        await admin.CreateTopicsAsync(topics.Select(t => new TopicSpecification { Name = t, NumPartitions = settings.Partitions, ReplicationFactor = 1 }));
    }

    /// <summary>
    /// Writes the events as the simulator's publisher does (key the sensor id, value event contract v1), as fast as one
    /// idempotent producer takes them, stamped 20 µs apart and ending now; returns the time taken, the falls and the bytes.
    /// </summary>
    private (TimeSpan Took, long Falls, long Bytes) Prefill(string bootstrap, string topic)
    {
        var simulator = new SensorSimulator(settings.Simulator(seed: 7, rate: 0));
        long failed = 0, falls = 0, bytes = 0;
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            SocketNagleDisable = true,
            EnableIdempotence = true,
            LingerMs = 20,
            QueueBufferingMaxMessages = 1_000_000,
            ClientId = "bench-drain-prefill",
        }).SetLogHandler((_, _) => { }).Build();
        Action<DeliveryReport<byte[], byte[]>> onReport = report =>
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref failed);
            }
        };
        var started = Stopwatch.StartNew();
        var first = DateTimeOffset.UtcNow - settings.Events * Spacing;
        for (long i = 0; i < settings.Events; i++)
        {
            var sensorEvent = simulator.Next(first + i * Spacing);
            if (sensorEvent.Type == SensorTypes.Fall)
            {
                falls++;
            }

            var message = new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(sensorEvent.SensorId), Value = SensorEventEncoder.Encode(sensorEvent) };
            bytes += message.Key.Length + message.Value.Length;
            while (true)
            {
                try
                {
                    producer.Produce(topic, message, onReport);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(1));
                }
            }
        }

        var unsent = producer.Flush(TimeSpan.FromMinutes(2));
        if (unsent > 0 || Interlocked.Read(ref failed) > 0)
        {
            throw new DrainFailedException(Invariant($"the pre-fill left {unsent:N0} events unsent and {Interlocked.Read(ref failed):N0} refused."));
        }

        return (started.Elapsed, falls, bytes);
    }

    /// <summary>
    /// The embedded broker keeps at most 5 MiB or 100,000 batches per partition and then deletes the oldest: every
    /// partition must still start at offset 0, and their ends add up to the events written.
    /// </summary>
    private void CheckWhole(string bootstrap, string topic, string when)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-drain-check" })
            .SetLogHandler((_, _) => { }).Build();
        var (end, trimmed) = (0L, new List<string>());
        for (var p = 0; p < settings.Partitions; p++)
        {
            var marks = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            end += marks.High.Value;
            if (marks.Low.Value != 0)
            {
                trimmed.Add(Invariant($"partition {p} starts at {marks.Low.Value:N0}"));
            }
        }

        if (trimmed.Count > 0 || end != settings.Events)
        {
            throw new DrainFailedException(Invariant($"{when}, {topic} is not whole: its partitions end at {end:N0} in all for {settings.Events:N0} events written{(trimmed.Count > 0 ? "; the broker deleted the oldest records: " + string.Join(", ", trimmed) : "")}. Use more --partitions (the embedded broker keeps about 5 MiB per partition)."));
        }

        output.WriteLine(Invariant($"{topic} whole {when}: {settings.Partitions} partitions from offset 0, {end:N0} records"));
    }

    private async Task<DrainResult> LoopAsync(int round, string position, string bootstrap, string input, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        using var loop = new DrainLoop(bootstrap, input, $"{_run}.r{round}.loop-out", settings.Events, start);
        var running = Task.Factory.StartNew(() => loop.Run(Timeout), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var report = start;
        while (!running.IsCompleted)
        {
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
            if (!running.IsCompleted && Stopwatch.GetElapsedTime(report).TotalSeconds >= 1)
            {
                report = Stopwatch.GetTimestamp();
                output.WriteLine(Invariant($"    {Stopwatch.GetElapsedTime(start).TotalSeconds,5:0} s  loop consumed {loop.Consumed,10:N0}, falls acknowledged {loop.Acknowledged:N0}"));
            }
        }

        var done = await running ?? throw new DrainFailedException(Invariant($"the loop did not finish in {Timeout.TotalSeconds:N0} s: consumed {loop.Consumed:N0} of {settings.Events:N0}, {loop.Acknowledged:N0} of {loop.Falls:N0} falls acknowledged."));
        if (loop.Failed > 0)
        {
            throw new DrainFailedException(Invariant($"the broker refused {loop.Failed:N0} of the loop's falls."));
        }

        return new DrainResult(round, position, "hand-written loop", settings.Events, loop.Acknowledged, Seconds(start, loop.AssignedAt), Seconds(start, loop.ReadAt), Seconds(start, done), "");
    }

    private async Task<DrainResult> EngineAsync(int round, string position, string bootstrap, string input, string rulesFile, CancellationToken cancellationToken)
    {
        var topic = (string name) => $"{_run}.r{round}.{name}";
        var options = new EngineOptions
        {
            BootstrapServers = bootstrap,
            GroupId = $"bench-drain-engine-{Guid.NewGuid():N}",
            TransactionalId = $"bench-drain-{Guid.NewGuid():N}",
            WatchRules = false,
            RulesFile = rulesFile,
            MetricsPort = -1,
            Topics = new EngineOptions.TopicNames
            {
                SensorEvents = input,
                Acks = topic("acks"),
                Alerts = topic("alerts"),
                Aggregates = topic("aggregates"),
                DeadLetters = topic("dead-letters"),
                State = topic("state"),
                Repartition = topic("repartition"),
            },
        };
        settings.ApplyTo(options);

        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        var start = Stopwatch.GetTimestamp();
        await using var engine = new KommuneEngine(options, loggers);
        if (engine.Rules.Bindings is not [{ Name: "fall-alert" }])
        {
            throw new DrainFailedException($"the engine runs {string.Join(", ", engine.Rules.Bindings.Select(b => b.Name))}, not fall-alert alone.");
        }

        await engine.StartAsync(cancellationToken);
        await engine.Assigned.WaitAsync(Timeout, cancellationToken);
        var assigned = Stopwatch.GetTimestamp();
        var (report, read, done) = (start, 0L, (long?)null);
        while (done is null)
        {
            var now = Stopwatch.GetTimestamp();
            var progress = engine.Statistics;
            if (read == 0 && progress.Consumed >= settings.Events)
            {
                read = now;
            }

            if (progress.Processed >= settings.Events)
            {
                done = now;
                break;
            }

            if (Stopwatch.GetElapsedTime(start, now) > Timeout)
            {
                throw new DrainFailedException(Invariant($"the engine did not finish in {Timeout.TotalSeconds:N0} s: {engine.Statistics}"));
            }

            if (Stopwatch.GetElapsedTime(report, now).TotalSeconds >= 1)
            {
                report = now;
                var s = engine.Statistics;
                output.WriteLine(Invariant($"    {Stopwatch.GetElapsedTime(start, now).TotalSeconds,5:0} s  engine consumed {s.Consumed,10:N0}, processed {s.Processed,10:N0}, in flight {s.Processing,6:N0}, sensors {s.ActiveSensors:N0}, alerts {s.Alerts:N0}, state records {s.StateWritten:N0}"));
            }

            await Task.Delay(2, cancellationToken);
        }

        var stats = engine.Statistics;
        await engine.StopAsync(cancellationToken);
        if (stats.LostRecords > 0 || stats.DeadLettered > 0 || stats.RuleFailures > 0)
        {
            throw new DrainFailedException(Invariant($"the engine lost {stats.LostRecords:N0} records, dead-lettered {stats.DeadLettered:N0}, rule failures {stats.RuleFailures:N0}."));
        }

        var name = "engine, fall-alert only" + (settings.ExactlyOnce ? ", exactly-once" : "") + (settings.PersistState ? "" : ", no state");
        return new DrainResult(round, position, name, settings.Events, stats.Alerts, Seconds(start, assigned), Seconds(start, read == 0 ? done.Value : read), Seconds(start, done.Value),
            Invariant($"sensor actors {stats.ActiveSensors:N0}, state records {stats.StateWritten:N0}, peak in flight {stats.PeakProcessing:N0}, pauses {stats.Pauses:N0}"));
    }

    private void WriteTable(List<DrainResult> results, long falls)
    {
        output.WriteLine();
        output.WriteLine(Invariant($"Drain of {settings.Events:N0} pre-filled events ({falls:N0} falls), {settings.Partitions} partitions, {settings.Sensors:N0} sensors; load {LoadAverage()} at the end"));
        output.WriteLine();
        output.WriteLine("| round | order | pipe | events | outputs | start-up s | all read s | seconds | events/s | after start-up, events/s | engine / loop | after start-up |");
        output.WriteLine("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var ratios = new List<(int Round, bool EngineFirst, double Ratio, double AfterStartUp)>();
        foreach (var r in results)
        {
            var loop = results.Single(x => x.Round == r.Round && x.IsLoop);
            var (ratio, after) = (r.EventsPerSecond / loop.EventsPerSecond, r.AfterStartUp / loop.AfterStartUp);
            if (!r.IsLoop)
            {
                ratios.Add((r.Round, r.Position == "1st", ratio, after));
            }

            output.WriteLine(Invariant($"| {r.Round} | {r.Position} | {r.Pipe} | {r.Events:N0} | {r.Outputs:N0} | {r.StartUp:N2} | {r.AllRead:N2} | {r.Seconds:N2} | {r.EventsPerSecond:N0} | {r.AfterStartUp:N0} | {(r.IsLoop ? "" : $"{ratio:P0}")} | {(r.IsLoop ? "" : $"{after:P0}")} |"));
        }

        output.WriteLine();
        var warm = ratios.Where(x => x.Round > 1).ToList();
        output.WriteLine(Invariant($"engine / loop: {string.Join(", ", ratios.Select(x => $"{x.Ratio:P0} (round {x.Round}, engine {(x.EngineFirst ? "first" : "second")})"))}; mean {ratios.Average(x => x.Ratio):P0}{(warm.Count > 0 ? $", {warm.Average(x => x.Ratio):P0} without round 1 (both pipes' first run in this process)" : "")}; after start-up: mean {ratios.Average(x => x.AfterStartUp):P0}{(warm.Count > 0 ? $", {warm.Average(x => x.AfterStartUp):P0} without round 1" : "")}"));
        output.WriteLine("seconds: from before the pipe's clients are made to its last input record done: consumed, and its outputs (the engine: and state) acknowledged. start-up: to its first partition assignment; all read: to its last input record consumed. events/s = events / seconds; after start-up = events / (seconds - start-up).");
    }

    /// <summary>A full blocking collection between runs, outside the timing, so no run pays for the garbage of the one before.</summary>
    private static void Collect()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    private static double Seconds(long from, long to) => to == 0 ? double.NaN : Stopwatch.GetElapsedTime(from, to).TotalSeconds;

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record DrainResult(int Round, string Position, string Pipe, long Events, long Outputs, double StartUp, double AllRead, double Seconds, string Notes)
    {
        public bool IsLoop => Pipe == "hand-written loop";

        public double EventsPerSecond => Events / Seconds;

        public double AfterStartUp => Events / (Seconds - StartUp);
    }

    private sealed class DrainFailedException(string message) : Exception(message);
}

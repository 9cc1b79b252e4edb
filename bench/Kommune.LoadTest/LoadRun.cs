using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Kommune.Connectors.Kafka;
using Kommune.Engine;
using Microsoft.Extensions.Logging;

namespace Kommune.LoadTest;

/// <summary>
/// One invocation: the raw pipe baseline and the engine, one after the other on the same broker and machine, each fed
/// by the same fixed-rate generator, each measured after the same warm-up; then the broker hop alone (the generator
/// and the reader on one topic, no pipe) at the same rate, the floor of both; then one table with the ratio.
/// </summary>
internal sealed class LoadRun(LoadSettings settings, TextWriter output)
{
    private BenchBroker? _broker;

    private const string RawIn = "bench.raw-in";
    private const string RawOut = "bench.raw-out";
    private const string Hop = "bench.hop";
    private const string HopName = "broker hop (no pipe)";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var broker = new BenchBroker(settings, RawIn, RawOut, Hop);
        _broker = broker;
        var bootstrap = broker.BootstrapServers;
        var topics = broker.Topics;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Kafka {bootstrap} ({broker.Where}), {settings.Partitions} partitions, {settings.Workload}, rate {(settings.Rate > 0 ? settings.Rate.ToString("N0", CultureInfo.InvariantCulture) : "max")}, warm-up {settings.WarmUp.TotalSeconds} s, measured {settings.Duration.TotalSeconds} s"));
        output.WriteLine($"Processes: {Layout()}");
        var results = new List<PhaseResult>();
        var maxima = new List<(string Name, double Rate)>();
        var hops = new List<PhaseResult>();
        async Task RunPipeAsync(string name, Func<double, Task<PhaseResult>> measure)
        {
            if (!settings.FindMax)
            {
                results.Add(await measure(settings.Rate));
                return;
            }

            var (best, segments) = await FindMaxAsync(measure);
            results.AddRange(segments);
            maxima.Add((name, best));
        }

        if (!settings.SkipBaseline)
        {
            using var pipe = new RawPipe(bootstrap, RawIn, RawOut);
            pipe.Start();
            const string name = "raw Confluent.Kafka pipe";
            await RunPipeAsync(name, rate => MeasureAsync(name, rate, bootstrap, RawIn, RawOut, FallIdSource.Header, () => Task.FromResult(pipe.Processed), cancellationToken));
        }

        if (settings.SkipEngine)
        {
            output.WriteLine("--- engine skipped (--skip-engine)");
        }
        else if (settings.Nodes == 0)
        {
            using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
            var options = new EngineOptions
            {
                BootstrapServers = bootstrap,
                GroupId = $"bench-engine-{Guid.NewGuid():N}",
                TransactionalId = $"bench-{Guid.NewGuid():N}",
                WatchRules = false,
            };
            settings.ApplyTo(options);

            await using var engine = new KommuneEngine(options, loggers);
            await engine.StartAsync(cancellationToken);
            await engine.Assigned.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            var name = EngineName("engine");
            await RunPipeAsync(name, async rate =>
            {
                var before = engine.Statistics;
                var result = await MeasureAsync(name, rate, bootstrap, topics.SensorEvents, topics.Alerts, FallIdSource.Alert, () => Task.FromResult(engine.Statistics.Processed), cancellationToken, topics);
                var after = engine.Statistics;
                // Whether the in-flight bound held the engine back in this phase: its pauses, and the peaks so far.
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"    engine: pauses {after.Pauses - before.Pauses:N0}, state written early {after.StateWritesAsked - before.StateWritesAsked:N0} times, state records {after.StateWritten - before.StateWritten:N0}, peak processing {after.PeakProcessing:N0}, peak awaiting commit {after.PeakAwaitingCommit:N0} (since start)"));
                return result;
            });
            await engine.StopAsync(cancellationToken);
        }
        else
        {
            using var nodes = new NodeProcesses(bootstrap, settings);
            output.WriteLine($"{settings.Nodes} engine nodes (kommune run), group {nodes.GroupId}, session timeout {nodes.SessionTimeout.TotalSeconds} s, logs in {nodes.LogDirectory}");
            foreach (var n in Enumerable.Range(1, settings.Nodes))
            {
                nodes.Start($"n{n}");
            }

            await nodes.WaitUntilBalancedAsync(settings.Partitions, TimeSpan.FromMinutes(2), cancellationToken);
            output.WriteLine($"  settled: {nodes.Ownership()}");
            var name = EngineName(settings.Nodes == 1 ? "engine, 1 node" : $"engine, {settings.Nodes} nodes");
            await RunPipeAsync(name, rate => MeasureAsync(name, rate, bootstrap, topics.SensorEvents, topics.Alerts, FallIdSource.Alert, nodes.ProcessedAsync, cancellationToken, topics));
            foreach (var node in nodes.Running)
            {
                await NodeProcesses.StopAsync(node, cancellationToken);
            }

            output.WriteLine("Engine nodes (warnings and errors they printed):");
            output.WriteLine(nodes.Summary());
        }

        // The floor under every row: one produce → consume hop on the same broker, at each rate a row is for (with
        // --find-max, each pipe's highest rate kept up), measured the same way.
        var hopRates = settings.FindMax ? maxima.Select(m => m.Rate).Where(r => r > 0) : [settings.Rate];
        foreach (var rate in hopRates.Distinct())
        {
            hops.Add(await MeasureAsync(HopName, rate, bootstrap, Hop, Hop, FallIdSource.Header, processed: null, cancellationToken));
        }

        output.WriteLine();
        output.WriteLine($"Workload: {settings.Workload}; latency is measured on the falls. Processes: {Layout()}.");
        output.WriteLine($"The {HopName} row is the floor: the generator's events produced to one topic and read back from it by the latency reader, nothing between.");
        output.WriteLine();
        output.WriteLine(PhaseResult.Header);
        foreach (var result in hops.Concat(results))
        {
            output.WriteLine(result.Row());
        }

        output.WriteLine();
        output.WriteLine($"Where the CPU went in each measured window ({Environment.ProcessorCount} cores; \"this process\" is the pipe under test and whatever else runs here: {Layout()}):");
        output.WriteLine();
        output.WriteLine(ProcessorUse.Header);
        foreach (var result in hops.Concat(results))
        {
            output.WriteLine(result.Processors?.Row(result));
        }

        if (results.Any(r => r.TimerOutputs is not null))
        {
            output.WriteLine();
            output.WriteLine("Outputs of event-time timers, on both sides of the repartition topic (--area-latency):");
            output.WriteLine();
            output.WriteLine(PhaseResult.TimerHeader);
            foreach (var row in results.SelectMany(r => r.TimerRows()))
            {
                output.WriteLine(row);
            }

            output.WriteLine();
        }

        foreach (var (name, rate) in maxima)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"highest rate kept up: {name}: {rate:N0} events/s"));
        }

        if (maxima.Count == 2 && maxima[0].Rate > 0)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"engine / raw pipe sustainable throughput: {maxima[1].Rate / maxima[0].Rate:P0}"));
        }

        if (!settings.FindMax && results.Count == 2 && results[0].ProcessedPerSecond > 0)
        {
            // At a fixed rate both may simply keep up; the ratio is a capacity figure only when neither did.
            output.WriteLine();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"engine / raw pipe processed: {results[1].ProcessedPerSecond / results[0].ProcessedPerSecond:P0}{(results.All(r => !r.KeptUp) ? " (both saturated: a capacity ratio)" : " (not a capacity ratio: at least one kept up with the offered rate)")}"));
        }

        return 0;
    }

    private const int MaxSearchSteps = 20;

    /// <summary>
    /// Raises the rate by half while the pipe keeps up, then bisects between the last rate kept up and the first not,
    /// until they are within 15 %. A rate the pipe fell behind at by a little (it processed at least 80 % of what was
    /// produced) is measured once more before it counts as not kept up: one window can fall behind for a reason that
    /// is not the pipe's rate (a collection, a broker stall, the generator short of a core), and a search that stops
    /// there stops a step or two early. A rate fallen far behind is not measured again: its backlog would only grow.
    /// </summary>
    private async Task<(double Best, List<PhaseResult> Segments)> FindMaxAsync(Func<double, Task<PhaseResult>> measure)
    {
        var segments = new List<PhaseResult>();
        var (kept, failed) = (0d, double.PositiveInfinity);
        var rate = settings.Rate > 0 ? settings.Rate : 1_000;
        // Enough steps to rise from any start to the pipe's rate and bisect to 15 %: the search stopped after ten, which
        // cut the raw pipe's off at its first bisection from 4,000 events/s (85,430 kept up, 102,516 not: a 20 % bracket).
        for (var step = 0; step < MaxSearchSteps; step++)
        {
            var result = await measure(rate);
            segments.Add(result);
            var verdict = result.KeptUp ? "kept up" : "fell behind";
            if (!result.KeptUp && result.ProcessedPerSecond >= 0.8 * result.ProducedPerSecond)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {rate:N0} events/s: fell behind; measured once more"));
                result = await measure(rate);
                segments.Add(result);
                verdict = result.KeptUp ? "kept up when measured again" : "fell behind twice";
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {rate:N0} events/s: {verdict}"));
            if (result.KeptUp)
            {
                kept = rate;
            }
            else
            {
                failed = rate;
            }

            if (double.IsPositiveInfinity(failed))
            {
                rate *= 1.5;
            }
            else if (kept == 0)
            {
                rate /= 2;
            }
            else if (failed / kept < 1.15)
            {
                return (kept, segments);
            }
            else
            {
                rate = Math.Round((kept + failed) / 2);
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  search stopped after {MaxSearchSteps} steps: kept up at {kept:N0}, fell behind at {failed:N0} events/s"));
        return (kept, segments);
    }

    private string EngineName(string engine) =>
        engine + (settings.ExactlyOnce ? ", exactly-once" : ", at-least-once") + (settings.PersistState ? "" : ", no state") + (settings.StateDeltas ? ", state deltas" : "");

    /// <summary>Where the broker, the generator with the latency reader, and the pipe under test run.</summary>
    private string Layout()
    {
        var broker = settings.BootstrapServers is not null ? "broker given" : settings.SeparateBroker ? "broker in a child process" : "broker in this process";
        var generator = settings.SeparateGenerator ? "generator and latency reader in a child process per run" : "generator and latency reader in this process";
        var pipe = settings.Nodes > 0 ? "raw pipe in this process, engine nodes in child processes" : "pipe under test in this process";
        return $"{broker}; {generator}; {pipe}";
    }

    /// <param name="processed">Records the pipe processed so far; null for the broker hop (no pipe): records read.</param>
    /// <param name="engineTopics">The engine's topics, to measure its timers' outputs too (--area-latency); null for the raw pipe.</param>
    private async Task<PhaseResult> MeasureAsync(string name, double rate, string bootstrap, string input, string alertsOrCopies, FallIdSource fallIds, Func<Task<long>>? processed, CancellationToken cancellationToken, KafkaTopics? engineTopics = null)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"--- {name} at {(rate > 0 ? rate.ToString("N0", CultureInfo.InvariantCulture) : "max")} events/s"));
        var run = settings with { Rate = rate };
        await using ILoadClient client = settings.SeparateGenerator
            ? await LoadClientProcess.StartAsync(bootstrap, input, alertsOrCopies, fallIds, run, cancellationToken)
            : new InProcessLoadClient(bootstrap, input, alertsOrCopies, fallIds, run);
        processed ??= async () => (await client.ProgressAsync(cancellationToken)).Read;
        using var dump = settings.AreaLatency && engineTopics is not null && settings.TimerDump is { } path
            ? new StreamWriter(path, append: true) { AutoFlush = true }
            : null;
        using var timers = settings.AreaLatency && engineTopics is not null && client is InProcessLoadClient local
            ? new TimerOutputReader(bootstrap, engineTopics, settings.Partitions, local.Generator, dump)
            : null;
        timers?.Start();
        var before = await processed();
        var (startTicks, startUnixMs) = (Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await client.StartAsync(cancellationToken);
        var started = Stopwatch.StartNew();
        await ProgressUntilAsync(started, settings.WarmUp, client, processed, before, cancellationToken);
        await client.StartMeasuringAsync(cancellationToken);
        timers?.StartMeasuring();
        var (produced0, processed0, at0) = ((await client.ProgressAsync(cancellationToken)).Produced, await processed(), started.Elapsed);
        var cpu0 = ProcessorSample.Take(_broker?.ProcessorTime, client.ProcessorTime);
        var lagAtStart = produced0 - (processed0 - before);
        await ProgressUntilAsync(started, settings.WarmUp + settings.Duration, client, processed, before, cancellationToken);
        var (produced1, processed1, at1) = ((await client.ProgressAsync(cancellationToken)).Produced, await processed(), started.Elapsed);
        var cpu = ProcessorSample.Take(_broker?.ProcessorTime, client.ProcessorTime).Since(cpu0);
        var lagAtEnd = produced1 - (processed1 - before);
        await client.StopAsync(cancellationToken);
        var total = (await client.ProgressAsync(cancellationToken)).Produced;
        var drain = Stopwatch.StartNew();
        while (await processed() - before < total && drain.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50, cancellationToken);
        }

        await Task.Delay(500, cancellationToken); // the reader's last records
        var outcome = await client.OutcomeAsync(cancellationToken);
        if (settings.FallDump is { } fallDump)
        {
            WriteFallDump(fallDump, name, outcome, startTicks, startUnixMs);
        }

        var seconds = (at1 - at0).TotalSeconds;
        return new PhaseResult(name, rate, (produced1 - produced0) / seconds, (processed1 - processed0) / seconds, lagAtStart, lagAtEnd, drain.Elapsed, outcome.Latency(), timers?.Snapshot(), cpu);
    }

    /// <summary>Appends each fall's first output to a CSV file, times in ms from the generator's start.</summary>
    private static void WriteFallDump(string path, string run, LoadOutcome outcome, long startTicks, long startUnixMs)
    {
        var header = !File.Exists(path) || new FileInfo(path).Length == 0;
        using var writer = new StreamWriter(path, append: true);
        if (header)
        {
            writer.WriteLine("run,fall,measured,intended_ms,produced_ms,readable_ms");
        }

        static long Ms(long ticks, long from) => (ticks - from) * 1000 / Stopwatch.Frequency;
        foreach (var fall in outcome.Outputs)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"\"{run}\",{fall.Id},{(fall.Intended >= outcome.MeasureFrom ? 1 : 0)},{Ms(fall.Intended, startTicks)},{fall.RecordTimestampMs - startUnixMs},{Ms(fall.Readable, startTicks)}"));
        }
    }

    private async Task ProgressUntilAsync(Stopwatch started, TimeSpan until, ILoadClient client, Func<Task<long>> processed, long before, CancellationToken cancellationToken)
    {
        var last = (Produced: (await client.ProgressAsync(cancellationToken)).Produced, Processed: await processed() - before);
        while (started.Elapsed < until)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var progress = await client.ProgressAsync(cancellationToken);
            var now = (progress.Produced, Processed: await processed() - before);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {started.Elapsed.TotalSeconds,5:0} s  produced {now.Produced,10:N0} ({now.Produced - last.Produced,7:N0}/s)  processed {now.Processed,10:N0} ({now.Processed - last.Processed,7:N0}/s)  lag {now.Produced - now.Processed,9:N0}  p99 {progress.P99Ms,7:0.0} ms ({progress.FallsMeasured:N0} falls)"));
            last = now;
        }
    }
}

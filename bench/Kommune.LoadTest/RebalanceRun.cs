using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace Kommune.LoadTest;

/// <summary>
/// The rebalance scenario (<c>--rebalance --nodes N</c>): N engine nodes under a fixed load; after the warm-up a quiet
/// step (the steady state, for comparison), then node N+1 joins, then the first node is stopped with SIGTERM, then the
/// next is killed with SIGKILL, each watched until the group has settled and then for <see cref="LoadSettings.Phase"/>. What a step costs is read from the falls' alerts, per sensor-events partition: the pause of a partition is
/// the longest time between two consecutive fall alerts of it across the step (the last output before → the first
/// after), falls arriving steadily on every partition; and the alert latency of the falls sent during the step. A step
/// lasts until the running nodes own every partition again, and then <see cref="LoadSettings.Phase"/>.
/// </summary>
internal sealed class RebalanceRun(LoadSettings settings, TextWriter output)
{
    private static readonly double TicksPerMs = Stopwatch.Frequency / 1000.0;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var broker = new BenchBroker(settings);
        var topics = broker.Topics;
        using var nodes = new NodeProcesses(broker.BootstrapServers, settings);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Rebalance scenario: {settings.Nodes} nodes, then a join, a SIGTERM, a SIGKILL; {settings.Partitions} partitions, {settings.Workload}, rate {settings.Rate:N0}, warm-up {settings.WarmUp.TotalSeconds} s, each step watched until the nodes own every partition again and then {settings.Phase.TotalSeconds} s"));
        output.WriteLine($"group {nodes.GroupId}, session timeout {nodes.SessionTimeout.TotalSeconds} s (heartbeat 1 s), logs in {nodes.LogDirectory}");
        foreach (var n in Enumerable.Range(1, settings.Nodes))
        {
            nodes.Start($"n{n}");
        }

        await nodes.WaitUntilBalancedAsync(settings.Partitions, TimeSpan.FromMinutes(2), cancellationToken);
        output.WriteLine($"settled: {nodes.Ownership()}");

        using var producer = new FixedRateProducer(broker.BootstrapServers, topics.SensorEvents, settings, seed: 7);
        using var reader = new LatencyReader(broker.BootstrapServers, topics.Alerts, settings.Partitions, producer, LatencyReader.FromAlert);
        reader.Start();
        producer.Start();
        var started = Stopwatch.GetTimestamp();
        await WatchAsync(started, settings.WarmUp, producer, reader, nodes, cancellationToken);

        var steps = new List<Step>();
        async Task StepAsync(string what, Func<Task> action)
        {
            var at = Stopwatch.GetTimestamp();
            output.WriteLine($"=== {what}");
            await action();
            var took = Stopwatch.GetTimestamp() - at;
            // Watched until the group has settled again, and then for the phase: a slow start or a session timeout
            // does not push the rebalance out of its step.
            await nodes.WaitUntilBalancedAsync(settings.Partitions, TimeSpan.FromMinutes(3), cancellationToken);
            var settled = Stopwatch.GetTimestamp() - at;
            await WatchAsync(at + settled, settings.Phase, producer, reader, nodes, cancellationToken);
            steps.Add(new Step(what, at, Stopwatch.GetTimestamp() - at, took, settled));
        }

        await StepAsync("nothing (steady state)", () => Task.CompletedTask);
        await StepAsync($"node n{settings.Nodes + 1} joins (process started)", () => Task.FromResult(nodes.Start($"n{settings.Nodes + 1}")));
        var stopped = nodes.Running[0];
        await StepAsync($"node {stopped.Id} stopped with SIGTERM", () => NodeProcesses.StopAsync(stopped, cancellationToken));
        var killed = nodes.Running[0];
        await StepAsync($"node {killed.Id} killed with SIGKILL", () => NodeProcesses.KillAsync(killed, cancellationToken));

        producer.Stop();
        var drain = Stopwatch.StartNew();
        while (!producer.Falls.IsEmpty && drain.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100, cancellationToken);
        }

        var end = Stopwatch.GetTimestamp();
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Workload: {settings.Workload}; {settings.Rate:N0} events/s; session timeout {nodes.SessionTimeout.TotalSeconds} s. Per step: the partitions that moved (a node printed it took them within the step), and per partition the longest time between two consecutive fall alerts across the step (the last output before → the first after); the alert latency of the falls sent within the step."));
        output.WriteLine();
        output.WriteLine("| step | the action took, s | settled after, s | partitions moved | pause of moved partitions: median / max ms | longest gap of partitions not moved, ms | falls sent in the step | fall-alert p50 / p99 / max ms | falls without an alert |");
        output.WriteLine("|---|---:|---:|---|---:|---:|---:|---:|---:|");
        var outputs = reader.Outputs;
        var details = new List<string>();
        foreach (var step in steps)
        {
            output.WriteLine(Row(step, outputs, producer, nodes.Changes, end, details));
        }

        output.WriteLine();
        foreach (var line in details)
        {
            output.WriteLine(line);
        }

        foreach (var node in nodes.Running)
        {
            await NodeProcesses.StopAsync(node, cancellationToken);
        }

        output.WriteLine("Engine nodes (warnings and errors they printed):");
        output.WriteLine(nodes.Summary());
        return 0;
    }

    private static string Row(Step step, IReadOnlyList<FallOutput> outputs, FixedRateProducer producer, IReadOnlyList<OwnershipChange> changes, long end, List<string> details)
    {
        var until = step.At + step.Length;
        var inStep = changes.Where(c => c.At >= step.At && c.At < until).ToList();
        var moved = inStep.Where(c => c.What == "taken").SelectMany(c => c.Partitions).Distinct().Order().ToList();
        // Readable times of each partition's fall alerts, in order.
        var byPartition = outputs
            .Where(o => producer.FallPartitions.ContainsKey(o.Id))
            .GroupBy(o => producer.FallPartitions[o.Id])
            .ToDictionary(g => g.Key, g => g.Select(o => o.Readable).Order().ToList());
        var gaps = new Dictionary<int, (double Ms, bool Open)>();
        foreach (var (partition, readable) in byPartition)
        {
            var longest = 0L;
            for (var i = 0; i + 1 < readable.Count; i++)
            {
                // A pause belongs to the step in which its first output after came (the last before may be older).
                if (readable[i + 1] >= step.At && readable[i + 1] < until)
                {
                    longest = Math.Max(longest, readable[i + 1] - readable[i]);
                }
            }

            // No output within the step after the action: the pause lasts at least until the next output (or the run's end).
            if (!readable.Any(r => r >= step.At && r < until))
            {
                var before = readable.LastOrDefault(r => r < step.At, step.At);
                var next = readable.FirstOrDefault(r => r >= until, end);
                gaps[partition] = ((next - before) / TicksPerMs, next == end);
            }
            else
            {
                gaps[partition] = (longest / TicksPerMs, false);
            }
        }

        string Ms((double Ms, bool Open) gap) => string.Create(CultureInfo.InvariantCulture, $"{(gap.Open ? "≥ " : "")}{gap.Ms:N0}");
        var movedGaps = moved.Where(gaps.ContainsKey).Select(p => gaps[p]).OrderBy(g => g.Ms).ToList();
        var others = gaps.Where(g => !moved.Contains(g.Key)).Select(g => g.Value).OrderBy(g => g.Ms).ToList();
        if (moved.Count > 0)
        {
            details.Add($"{step.What}: " + string.Join(", ", moved.Select(p =>
                $"p{p} {(gaps.TryGetValue(p, out var g) ? Ms(g) : "?")} ms ({string.Join(" → ", inStep.Where(c => c.Partitions.Contains(p)).Select(c => $"{c.Node} {c.What} at +{Seconds(c.At - step.At)} s"))})")));
        }

        var latency = new LongHistogram(TimeStamp.Minutes(10), 3);
        foreach (var o in outputs.Where(o => o.Intended >= step.At && o.Intended < until))
        {
            latency.RecordValue(Math.Max(0, (long)((o.Readable - o.Intended) * 1_000_000.0 / Stopwatch.Frequency)));
        }

        var unseen = producer.Falls.Values.Count(intended => intended >= step.At && intended < until);
        string P(double percentile) => latency.TotalCount == 0 ? "-" : (latency.GetValueAtPercentile(percentile) / 1000.0).ToString("N0", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"| {step.What} | {Seconds(step.ActionTook)} | {Seconds(step.Settled)} | {(moved.Count == 0 ? "none" : string.Join(", ", moved))} | {(movedGaps.Count == 0 ? "-" : $"{Ms(movedGaps[movedGaps.Count / 2])} / {Ms(movedGaps[^1])}")} | {(others.Count == 0 ? "-" : Ms(others[^1]))} | {latency.TotalCount + unseen:N0} | {P(50)} / {P(99)} / {(latency.TotalCount == 0 ? "-" : (latency.GetMaxValue() / 1000.0).ToString("N0", CultureInfo.InvariantCulture))} | {unseen:N0} |");
    }

    private static string Seconds(long ticks) => (ticks / (double)Stopwatch.Frequency).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>Prints, each second until <paramref name="length"/> after <paramref name="from"/>, the load and who owns what.</summary>
    private async Task WatchAsync(long from, TimeSpan length, FixedRateProducer producer, LatencyReader reader, NodeProcesses nodes, CancellationToken cancellationToken)
    {
        var (produced, seen) = (producer.Produced, reader.Outputs.Count);
        while (Stopwatch.GetElapsedTime(from) < length)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var (producedNow, seenNow) = (producer.Produced, reader.Outputs.Count);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  +{Stopwatch.GetElapsedTime(from).TotalSeconds,4:0} s  produced {producedNow - produced,6:N0}/s  fall alerts {seenNow - seen,4:N0}/s  {nodes.Ownership()}"));
            (produced, seen) = (producedNow, seenNow);
        }
    }

    /// <summary>
    /// One step: what was done, when (Stopwatch ticks), how long it was watched, how long the action itself took (a
    /// SIGTERM: until the node exited), and when the running nodes owned every partition again (after the action).
    /// </summary>
    private sealed record Step(string What, long At, long Length, long ActionTook, long Settled);
}

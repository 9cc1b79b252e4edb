using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// Engine nodes as separate <c>kommune run</c> processes against one test bed's broker, in one consumer group, the way
/// an operator runs several: started, stopped with SIGTERM, killed with SIGKILL and started again by name. Every wait
/// ends on what the nodes print or on what the broker holds.
/// </summary>
internal sealed class EngineNodes : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private readonly KafkaTestBed _bed;
    private readonly string _rulesFile;
    private readonly Dictionary<string, string> _environment;
    private readonly Dictionary<string, KommuneProcess> _running = new(StringComparer.Ordinal);
    private readonly List<(string Node, KommuneProcess Process)> _all = [];

    /// <param name="bed">The broker.</param>
    /// <param name="groupId">The nodes' consumer group.</param>
    /// <param name="rulesJson">The rules file every node runs.</param>
    /// <param name="guarantee"><c>at-least-once</c> or <c>exactly-once</c>.</param>
    /// <param name="environment">More settings (<c>KOMMUNE_Key</c>).</param>
    public EngineNodes(KafkaTestBed bed, string groupId, string rulesJson, string guarantee = "at-least-once", IReadOnlyDictionary<string, string>? environment = null)
    {
        _bed = bed;
        GroupId = groupId;
        ExactlyOnce = guarantee == "exactly-once";
        _rulesFile = Path.Combine(Path.GetTempPath(), $"kommune-nodes-{Guid.NewGuid():N}.json");
        File.WriteAllText(_rulesFile, rulesJson);
        _environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["KOMMUNE_GroupId"] = groupId,
            ["KOMMUNE_ProcessingGuarantee"] = guarantee,
            ["KOMMUNE_LogFormat"] = "text",
            // A killed node's partitions move once its session expires.
            ["KOMMUNE_SessionTimeout"] = "00:00:03",
            // The embedded broker does not implement KIP-345 (KafkaTestBed.CreateEngine says how that shows).
            ["KOMMUNE_StaticMembership"] = "false",
            ["KOMMUNE_CommitInterval"] = "00:00:00.200",
            ["KOMMUNE_StateInterval"] = "00:00:00.200",
            // Every partition gets input until the end: none may be taken as idle because its node paused (a rebalance,
            // a restart), or the answer would depend on timing.
            ["KOMMUNE_IdlePartitionTimeout"] = "00:10:00",
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            _environment[key] = value;
        }
    }

    public string GroupId { get; }

    /// <summary>Whether the nodes run exactly-once (their group's committed offsets then say little on the embedded broker).</summary>
    public bool ExactlyOnce { get; }

    /// <summary>The nodes running now.</summary>
    public IReadOnlyCollection<string> Running => _running.Keys;

    /// <summary>Starts node <paramref name="nodeId"/> (a new process, also after a kill).</summary>
    public KommuneProcess Start(string nodeId)
    {
        var process = KommuneProcess.Start(_environment, "run", "--bootstrap-servers", _bed.BootstrapServers, "--node-id", nodeId, "--rules", _rulesFile);
        _running[nodeId] = process;
        _all.Add((nodeId, process));
        return process;
    }

    /// <summary>The process of running node <paramref name="nodeId"/>.</summary>
    public KommuneProcess this[string nodeId] => _running[nodeId];

    /// <summary>Starts the nodes and waits until each has taken partitions (restored and consuming).</summary>
    public async Task StartAllAsync(params string[] nodeIds)
    {
        var started = nodeIds.Select(Start).ToList();
        await Task.WhenAll(started.Select(p => p.WaitForOutputAsync("taken", Wait)));
    }

    /// <summary>Stops a node the way a supervisor does (SIGTERM) and waits for a clean exit.</summary>
    public async Task StopAsync(string nodeId)
    {
        var process = _running[nodeId];
        _running.Remove(nodeId);
        // A supervisor stops a node that is up: before its host has started, SIGTERM meets no handler and ends the
        // process as the signal's default does (exit 143), which a test that restarts a node and stops it at once
        // would otherwise see. The host registers its handler before the engine says it started.
        await process.WaitForOutputAsync("Engine started", Wait);
        await process.StopAsync("TERM", Wait);
        Assert.True(process.ExitCode == 0, $"node {nodeId} exited {process.ExitCode} after SIGTERM:\n{Tail(process.Output)}");
    }

    /// <summary>Kills a node (SIGKILL): no hand-over, no flush.</summary>
    public async Task KillAsync(string nodeId)
    {
        var process = _running[nodeId];
        _running.Remove(nodeId);
        await process.StopAsync("KILL", Wait);
    }

    /// <summary>Stops every running node with SIGTERM.</summary>
    public async Task StopAllAsync()
    {
        foreach (var node in _running.Keys.ToList())
        {
            await StopAsync(node);
        }
    }

    /// <summary>Which partitions (tasks) each node said it took and handed over, in order.</summary>
    public string Ownership() => string.Join('\n', _all.SelectMany(n => n.Process.Output.Split('\n')
        .Where(l => l.Contains("Partitions (tasks)", StringComparison.Ordinal))
        .Select(l => $"{n.Node}: {l.Trim()}")));

    /// <summary>The partitions (tasks) running node <paramref name="nodeId"/> holds, as its log says: taken, and not handed over or lost since.</summary>
    public IReadOnlySet<int> Holds(string nodeId)
    {
        var held = new HashSet<int>();
        foreach (var line in this[nodeId].Output.Split('\n'))
        {
            if (TasksLine(line) is ({ } partitions, var what))
            {
                if (what == "taken")
                {
                    held.UnionWith(partitions);
                }
                else
                {
                    held.ExceptWith(partitions);
                }
            }
        }

        return held;
    }

    /// <summary>
    /// The partitions a node's "Partitions (tasks) 1, 3 taken" (or "handed over", "lost") line names, and which of the
    /// three it says; null for any other line.
    /// </summary>
    public static (IReadOnlySet<int> Partitions, string What)? TasksLine(string line)
    {
        const string Marker = "Partitions (tasks) ";
        var at = line.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var rest = line[(at + Marker.Length)..].TrimEnd();
        foreach (var what in new[] { "taken", "handed over", "lost" })
        {
            if (rest.EndsWith(what, StringComparison.Ordinal))
            {
                var partitions = rest[..^what.Length]
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(p => int.Parse(p, CultureInfo.InvariantCulture))
                    .ToHashSet();
                return (partitions, what);
            }
        }

        return null;
    }

    /// <summary>
    /// Whether the running nodes together hold every partition of the sensor-events topic, each with nothing left to read,
    /// and have no event in flight: what was produced so far is processed (in exactly-once mode the group's committed
    /// offsets are not a measure of that on the embedded broker, which keeps a transaction's offsets apart).
    /// </summary>
    public async Task<bool> CaughtUpAsync()
    {
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (var process in _running.Values)
        {
            var text = await MetricsAsync(process);
            if (text is null)
            {
                return false;
            }

            foreach (var line in text.Split('\n'))
            {
                var lag = System.Text.RegularExpressions.Regex.Match(line, $@"^kommune_consumer_lag_records\{{topic=""{_bed.Options.Topics.SensorEvents}"",partition=""(\d+)""\}} (\S+)");
                if (lag.Success)
                {
                    if (lag.Groups[2].Value != "0")
                    {
                        return false;
                    }

                    held.Add(lag.Groups[1].Value);
                }
                else if (line.StartsWith("kommune_events_in_flight ", StringComparison.Ordinal) && line != "kommune_events_in_flight 0")
                {
                    return false;
                }
            }
        }

        return held.Count == _bed.Partitions;
    }

    private static async Task<string?> MetricsAsync(KommuneProcess process)
    {
        if (System.Text.RegularExpressions.Regex.Match(process.Output, @"Metrics at (http://\S+/metrics)") is not { Success: true } metrics)
        {
            return null;
        }

        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            return await http.GetStringAsync(new Uri(metrics.Groups[1].Value));
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Everything the nodes printed, and the metrics of those still running, for a failing test's output.</summary>
    public void WriteLogs(ITestOutputHelper output)
    {
        foreach (var (node, process) in _all)
        {
            output.WriteLine($"--- {node}\n{Tail(process.Output)}");
            if (_running.ContainsValue(process))
            {
                var text = MetricsAsync(process).GetAwaiter().GetResult();
                output.WriteLine(text is null ? "(metrics not read)" : string.Join('\n', text.Split('\n').Where(l => l.StartsWith("kommune_", StringComparison.Ordinal)
                    && !l.Contains("_bucket", StringComparison.Ordinal))));
            }
        }
    }

    public void Dispose()
    {
        foreach (var (_, process) in _all)
        {
            process.Dispose();
        }

        File.Delete(_rulesFile);
    }

    private static string Tail(string text) => text.Length <= 60_000 ? text : "…" + text[^60_000..];
}

/// <summary>Reading a whole topic as it is now, every partition to its end.</summary>
internal static class TopicReader
{
    /// <summary>Every record of <paramref name="topic"/> (read_committed), partition by partition to the end.</summary>
    public static List<ConsumeResult<byte[]?, byte[]?>> ReadAll(string bootstrapServers, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "test-reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).SetLogHandler((_, _) => { }).Build();
        var ends = new Dictionary<int, long>();
        for (var p = 0; p < partitions; p++)
        {
            var high = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value;
            if (high > 0)
            {
                ends[p] = high;
            }
        }

        consumer.Assign(ends.Keys.Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow + EngineNodes.Wait;
        while (ends.Count > 0 && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            if (!r.IsPartitionEOF)
            {
                records.Add(r);
            }

            if (ends.TryGetValue(r.Partition.Value, out var end) && (r.IsPartitionEOF || r.Offset.Value + 1 >= end))
            {
                ends.Remove(r.Partition.Value);
            }
        }

        Assert.True(ends.Count == 0, $"{topic}: partitions {string.Join(", ", ends.Keys)} not read to their end");
        return records;
    }

    /// <summary>The values of a topic's records as text.</summary>
    /// <summary>Each dead letter's stage and reason, counted, for a failing test's message.</summary>
    public static string DeadLetterReasons(string bootstrapServers, string topic, int partitions)
    {
        static string Header(Headers headers, string name) => headers.TryGetLastBytes(name, out var bytes) ? System.Text.Encoding.UTF8.GetString(bytes) : "?";
        return string.Join("; ", ReadAll(bootstrapServers, topic, partitions)
            .Select(r => $"{Header(r.Message.Headers, Kommune.Connectors.Codecs.DeadLetterHeaders.Stage)}: {Header(r.Message.Headers, Kommune.Connectors.Codecs.DeadLetterHeaders.Reason)}")
            .Select(r => r.Length > 160 ? r[..160] : r)
            .GroupBy(r => r).OrderByDescending(g => g.Count()).Take(5).Select(g => $"{g.Count()}× {g.Key}"));
    }

    public static List<string> Values(string bootstrapServers, string topic, int partitions) =>
        [.. ReadAll(bootstrapServers, topic, partitions).Where(r => r.Message.Value is not null).Select(r => Encoding.UTF8.GetString(r.Message.Value!))];

    /// <summary>Waits until <paramref name="condition"/> holds for the topic's values, re-reading it (bounded).</summary>
    public static async Task<List<string>> WaitForAsync(string bootstrapServers, string topic, int partitions, Func<List<string>, bool> condition, Func<List<string>, string> explain)
    {
        var deadline = DateTime.UtcNow + EngineNodes.Wait;
        while (true)
        {
            var values = Values(bootstrapServers, topic, partitions);
            if (condition(values))
            {
                return values;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(explain(values));
            }

            await Task.Delay(500);
        }
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

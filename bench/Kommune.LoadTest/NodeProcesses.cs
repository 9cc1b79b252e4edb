using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Kommune.Engine;

namespace Kommune.LoadTest;

/// <summary>
/// Engine nodes as <c>kommune run</c> child processes (the kommune.dll built next to this program), in one consumer
/// group on one broker, as an operator runs several: started, stopped with SIGTERM, killed with SIGKILL. Each node's
/// output goes to a log file; the partitions it says it took and handed over are followed as they are printed.
/// Children get SIGKILL when this program ends, however it ends (<see cref="ChildProcesses"/>), and <see cref="Dispose"/>
/// kills those still running.
/// </summary>
internal sealed partial class NodeProcesses : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly string _bootstrapServers;
    private readonly Dictionary<string, string> _environment;
    private readonly List<EngineNode> _all = [];
    private readonly Lock _gate = new();

    public NodeProcesses(string bootstrapServers, LoadSettings settings)
    {
        _bootstrapServers = bootstrapServers;
        GroupId = $"bench-nodes-{Guid.NewGuid():N}";
        LogDirectory = Path.Combine(Path.GetTempPath(), $"kommune-bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}");
        Directory.CreateDirectory(LogDirectory);
        _environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["KOMMUNE_GroupId"] = GroupId,
            ["KOMMUNE_ProcessingGuarantee"] = settings.ExactlyOnce ? "exactly-once" : "at-least-once",
            ["KOMMUNE_PersistState"] = settings.PersistState ? "true" : "false",
            ["KOMMUNE_StateDeltas"] = settings.StateDeltas ? "true" : "false",
            ["KOMMUNE_LogFormat"] = "text",
            ["KOMMUNE_MetricsPort"] = "0",
            ["KOMMUNE_WatchRules"] = "false",
            // The embedded broker does not implement KIP-345 (static membership): a node's partitions would wait for its
            // session to expire after any stop, and a restarted node would not get its place back.
            ["KOMMUNE_StaticMembership"] = "false",
        };
        if (settings.StateInterval is { } interval)
        {
            _environment["KOMMUNE_StateInterval"] = interval.ToString("c", CultureInfo.InvariantCulture);
        }

        if (settings.MaxInFlightEvents is { } maxInFlight)
        {
            _environment["KOMMUNE_MaxInFlightEvents"] = maxInFlight.ToString(CultureInfo.InvariantCulture);
        }

        SessionTimeout = settings.SessionTimeout ?? new EngineOptions().SessionTimeout;
        _environment["KOMMUNE_SessionTimeout"] = SessionTimeout.ToString("c", CultureInfo.InvariantCulture);
    }

    /// <summary>The nodes' consumer group (their offsets of the sensor-events topic are committed there).</summary>
    public string GroupId { get; }

    /// <summary>Where each node's output is written (<c>&lt;node&gt;.log</c>).</summary>
    public string LogDirectory { get; }

    /// <summary>The nodes' session timeout: how long the group waits for a silent node before moving its partitions.</summary>
    public TimeSpan SessionTimeout { get; }

    /// <summary>Every node started, in order, running or not.</summary>
    public IReadOnlyList<EngineNode> All
    {
        get
        {
            lock (_gate)
            {
                return [.. _all];
            }
        }
    }

    /// <summary>The nodes whose process is running.</summary>
    public IReadOnlyList<EngineNode> Running => [.. All.Where(n => !n.Exited)];

    /// <summary>Every change of ownership any node printed, in the order seen.</summary>
    public IReadOnlyList<OwnershipChange> Changes => [.. All.SelectMany(n => n.Changes).OrderBy(c => c.At)];

    /// <summary>Starts node <paramref name="nodeId"/>.</summary>
    public EngineNode Start(string nodeId)
    {
        var process = ChildProcesses.Start("kommune.dll", ["run", "--bootstrap-servers", _bootstrapServers, "--node-id", nodeId], _environment);
        var node = new EngineNode(nodeId, process, Path.Combine(LogDirectory, nodeId + ".log"));
        lock (_gate)
        {
            _all.Add(node);
        }

        return node;
    }

    /// <summary>
    /// Waits until the running nodes own every partition between them, each one at least one (while there are enough
    /// partitions), and none is owned twice: the group has settled.
    /// </summary>
    public async Task WaitUntilBalancedAsync(int partitions, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!IsBalanced(partitions))
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"The nodes did not settle on {partitions} partitions within {timeout.TotalSeconds} s: {Ownership()} (logs in {LogDirectory})");
            }

            if (All.FirstOrDefault(n => n.Exited) is { } dead && Running.Count == 0)
            {
                throw new InvalidOperationException($"Node {dead.Id} exited ({dead.ExitCode}): see {dead.LogPath}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>
    /// Events the nodes have processed (<c>kommune_events_processed_total</c> from each node's metrics endpoint, summed;
    /// a node that exited counts what it last reported): the same count as the in-process engine's, without the
    /// steps of the commit interval that committed offsets would have.
    /// </summary>
    public async Task<long> ProcessedAsync()
    {
        var total = 0L;
        foreach (var node in All)
        {
            total += await node.ProcessedAsync(Http);
        }

        return total;
    }

    /// <summary>What each running node owns now.</summary>
    public string Ownership() => string.Join("; ", Running.Select(n => $"{n.Id}: {string.Join(",", n.Owned.Order())}"));

    /// <summary>Stops a node the way a supervisor does (SIGTERM) and waits for its exit.</summary>
    public static Task StopAsync(EngineNode node, CancellationToken cancellationToken) => node.SignalAsync("TERM", cancellationToken);

    /// <summary>Kills a node (SIGKILL): no hand-over, no flush.</summary>
    public static Task KillAsync(EngineNode node, CancellationToken cancellationToken) => node.SignalAsync("KILL", cancellationToken);

    /// <summary>Per node: its exit, and the warnings and errors it printed (the first few of each kind).</summary>
    public string Summary()
    {
        var lines = new List<string>();
        foreach (var node in All)
        {
            var problems = node.Problems;
            lines.Add($"  {node.Id}: {(node.Exited ? $"exited {node.ExitCode}" : "running")}, {problems.Count(p => p.StartsWith("warn", StringComparison.Ordinal))} warnings, {problems.Count(p => !p.StartsWith("warn", StringComparison.Ordinal))} errors ({node.LogPath})");
            lines.AddRange(problems.DistinctBy(Shape).Take(8).Select(p => "    " + (p.Length > 300 ? p[..300] + "…" : p)));
        }

        return string.Join('\n', lines);
    }

    public void Dispose()
    {
        foreach (var node in All)
        {
            node.Dispose();
        }
    }

    private bool IsBalanced(int partitions)
    {
        var running = Running;
        if (running.Count == 0)
        {
            return false;
        }

        var owned = running.SelectMany(n => n.Owned).ToList();
        return owned.Count == partitions && owned.Distinct().Count() == partitions
            && running.All(n => n.Owned.Count > 0 || running.Count > partitions);
    }

    /// <summary>A log line without its numbers, to show one example of each kind of problem.</summary>
    private static string Shape(string line) => Digits().Replace(line, "#");

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();
}

/// <summary>A node took (or handed over, or lost) partitions, at <see cref="At"/> (Stopwatch ticks when it was printed).</summary>
internal sealed record OwnershipChange(long At, string Node, IReadOnlyList<int> Partitions, string What);

/// <summary>One <c>kommune run</c> child process: its output to a file, and the partitions it owns as it says.</summary>
internal sealed partial class EngineNode : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _gate = new();
    private readonly HashSet<int> _owned = [];
    private readonly List<OwnershipChange> _changes = [];
    private readonly List<string> _problems = [];
    private Uri? _metrics;
    private long _processed;

    public EngineNode(string id, Process process, string logPath)
    {
        Id = id;
        LogPath = logPath;
        _process = process;
        _log = new StreamWriter(logPath) { AutoFlush = true };
        _process.OutputDataReceived += (_, line) => Append(line.Data);
        _process.ErrorDataReceived += (_, line) => Append(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Id { get; }

    public string LogPath { get; }

    public bool Exited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The partitions (tasks) this node owns now, by what it printed.</summary>
    public IReadOnlyCollection<int> Owned
    {
        get
        {
            lock (_gate)
            {
                return Exited ? [] : [.. _owned];
            }
        }
    }

    public IReadOnlyList<OwnershipChange> Changes
    {
        get
        {
            lock (_gate)
            {
                return [.. _changes];
            }
        }
    }

    /// <summary>Warning, error and critical lines it printed.</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_gate)
            {
                return [.. _problems];
            }
        }
    }

    /// <summary>Its <c>kommune_events_processed_total</c> now (summed over sensor types), or the last it reported once it exited.</summary>
    public async Task<long> ProcessedAsync(HttpClient http)
    {
        Uri? metrics;
        lock (_gate)
        {
            metrics = _metrics;
        }

        if (metrics is null || Exited)
        {
            return _processed;
        }

        try
        {
            var text = await http.GetStringAsync(metrics);
            _processed = (long)text.Split('\n')
                .Where(l => l.StartsWith("kommune_events_processed_total{", StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }
        catch (HttpRequestException)
        {
            // Stopping or killed just now: the last value stands.
        }

        return _processed;
    }

    /// <summary>Sends a signal and waits (at most a minute) for the exit.</summary>
    public async Task SignalAsync(string signal, CancellationToken cancellationToken)
    {
        using (var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(cancellationToken);
        }

        await _process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        lock (_gate)
        {
            _log.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        var at = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            _log.WriteLine(line);
            if (Tasks().Match(line) is { Success: true } tasks)
            {
                var partitions = tasks.Groups["p"].Value.Split(", ").Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
                var what = tasks.Groups["what"].Value;
                if (what == "taken")
                {
                    _owned.UnionWith(partitions);
                }
                else
                {
                    _owned.ExceptWith(partitions);
                }

                _changes.Add(new OwnershipChange(at, Id, partitions, what));
            }
            else if (_metrics is null && MetricsAt().Match(line) is { Success: true } metrics)
            {
                _metrics = new Uri(metrics.Groups["url"].Value);
            }
            else if (Problem().Match(line) is { Success: true } problem)
            {
                _problems.Add(problem.Groups["line"].Value);
            }
        }
    }

    [GeneratedRegex(@"Partitions \(tasks\) (?<p>[0-9, ]+) (?<what>taken|handed over|lost)")]
    private static partial Regex Tasks();

    [GeneratedRegex(@"Metrics at (?<url>http://\S+/metrics)")]
    private static partial Regex MetricsAt();

    [GeneratedRegex(@"^(?:\S+ )?(?<line>(?:warn|fail|crit): .*)$")]
    private static partial Regex Problem();
}

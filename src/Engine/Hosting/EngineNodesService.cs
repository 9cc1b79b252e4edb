using System.Globalization;
using Microsoft.Extensions.Hosting;

namespace Kommune.Engine.Hosting;

/// <summary>Settings of the demo's engine nodes.</summary>
/// <param name="Nodes">How many nodes: node-1 to node-N.</param>
/// <param name="Partitions">Partitions of the sensor-events topic (tasks), for the ownership line.</param>
/// <param name="RunArguments">The options of <c>kommune run</c> every node gets (broker, group, rules ...).</param>
/// <param name="Environment">Environment variables every node gets over the demo's own.</param>
internal sealed record EngineNodesSettings(int Nodes, int Partitions, IReadOnlyList<string> RunArguments, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// The demo's engine nodes (kommune demo --nodes N): N <c>kommune run</c> processes in one consumer group. Shows what
/// each node says of its partitions (tasks), its warnings and errors, prefixed with its id, and a line of who owns what
/// whenever that changes; says when a node exits and goes on with the others; stops them all when the demo stops
/// (closing their input: the same graceful stop as SIGTERM), killing any that do not stop in time.
/// </summary>
internal sealed class EngineNodesService(EngineOptions options, EngineNodesSettings settings, IHostApplicationLifetime lifetime) : IHostedService, IDisposable
{
    private readonly Lock _gate = new();
    private readonly PartitionOwners _owners = new(settings.Partitions);
    private readonly List<EngineNodeProcess> _nodes = [];
    private string? _lastOwnership;
    private bool _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Console.WriteLine(
            $"Engine nodes: {settings.Nodes} processes of `kommune run` in group {options.GroupId}, sharing {settings.Partitions} partitions. " +
            "Stop one with kill -TERM <pid> and the others take over its partitions.");
        for (var i = 1; i <= settings.Nodes; i++)
        {
            var node = $"node-{i}";
            lock (_gate)
            {
                _owners.Join(node);
                var process = EngineNodeProcess.Start(node, settings.RunArguments, settings.Environment, line => OnLine(node, line));
                _nodes.Add(process);
                Console.WriteLine($"[{node}] started as process {process.ProcessId}");
                _ = process.Exited.ContinueWith(exit => OnExited(node, exit.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<EngineNodeProcess> nodes;
        lock (_gate)
        {
            _stopping = true;
            nodes = [.. _nodes];
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Stopping the engine nodes: each drains, commits and leaves the group (at most {options.ShutdownTimeout.TotalSeconds:0} s)"));
        foreach (var node in nodes)
        {
            node.RequestStop();
        }

        // Each node drains within its ShutdownTimeout; a few seconds more for the process to end.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(options.ShutdownTimeout + TimeSpan.FromSeconds(5));
        try
        {
            await Task.WhenAll(nodes.Select(n => n.Exited)).WaitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            foreach (var node in nodes.Where(n => !n.Exited.IsCompleted))
            {
                Console.WriteLine($"[{node.Node}] did not stop in time: killed");
                node.Kill();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            foreach (var node in _nodes)
            {
                node.Dispose();
            }

            _nodes.Clear();
        }
    }

    private void OnLine(string node, string line)
    {
        var read = NodeLogLine.Read(line);
        lock (_gate)
        {
            if (read.Text is { } text)
            {
                Console.WriteLine($"[{node}] {text}");
            }

            if (read.Partitions is { } partitions)
            {
                if (read.Taken)
                {
                    _owners.Take(node, partitions);
                }
                else
                {
                    _owners.Give(node, partitions);
                }

                if (!_stopping)
                {
                    ShowOwnership();
                }
            }
        }
    }

    private void OnExited(string node, int code)
    {
        lock (_gate)
        {
            _owners.Leave(node);
            var left = _nodes.Count(n => !n.Exited.IsCompleted);
            if (_stopping)
            {
                Console.WriteLine($"[{node}] stopped (code {code})");
                return;
            }

            if (left == 0)
            {
                Console.WriteLine($"[{node}] exited (code {code}); no engine node is left to process the events: stopping the demo");
                Environment.ExitCode = 1;
                lifetime.StopApplication();
                return;
            }

            var takeOver = code == 0
                ? "the other nodes take over its partitions"
                : string.Create(CultureInfo.InvariantCulture, $"the other nodes take over its partitions (once its session of {options.SessionTimeout.TotalSeconds:0.#} s expires, if it could not leave the group)");
            Console.WriteLine($"[{node}] exited (code {code}); {takeOver}");
            ShowOwnership();
        }
    }

    private void ShowOwnership()
    {
        var ownership = _owners.Describe();
        if (ownership != _lastOwnership)
        {
            _lastOwnership = ownership;
            Console.WriteLine($"Partitions: {ownership}");
        }
    }
}

using System.Diagnostics;
using System.Reflection;

namespace Kommune.Engine.Hosting;

/// <summary>
/// One engine node as a child process, <c>kommune run --stop-when-input-closes</c>, started with the same program this
/// process runs (the apphost, or <c>dotnet kommune.dll</c>). Its standard input is its lifeline: closing it stops the
/// node gracefully, and it closes by itself when this process ends in any way. Every line the node prints, on
/// standard output or error, goes to the given handler.
/// </summary>
internal sealed class EngineNodeProcess : IDisposable
{
    private readonly Process _process;

    private EngineNodeProcess(string node, Process process)
    {
        Node = node;
        _process = process;
        Exited = WaitForExitAsync();
    }

    /// <summary>The node's id (<c>--node-id</c>).</summary>
    public string Node { get; }

    /// <summary>The node's process id, for <c>kill</c>.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Completes with the exit code once the node has exited and all it printed has been handed over.</summary>
    public Task<int> Exited { get; }

    /// <summary>Starts <c>kommune run</c> as <paramref name="node"/> with <paramref name="runArguments"/>.</summary>
    /// <param name="node">The node id.</param>
    /// <param name="runArguments">The options of <c>run</c> besides the node id.</param>
    /// <param name="environment">Environment variables to set over this process's own.</param>
    /// <param name="onLine">Called with each line the node prints, on its own thread.</param>
    public static EngineNodeProcess Start(string node, IEnumerable<string> runArguments, IReadOnlyDictionary<string, string> environment, Action<string> onLine)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("The path of this program is not known: engine nodes cannot be started."))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            // Run as `dotnet kommune.dll`: the node is `dotnet kommune.dll run ...` too.
            start.ArgumentList.Add(Assembly.GetEntryAssembly()?.Location is { Length: > 0 } entry ? entry : Path.Combine(AppContext.BaseDirectory, "kommune.dll"));
        }

        foreach (var argument in (string[])["run", "--node-id", node, "--stop-when-input-closes", .. runArguments])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Relay(e.Data, onLine);
        process.ErrorDataReceived += (_, e) => Relay(e.Data, onLine);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new EngineNodeProcess(node, process);
    }

    /// <summary>Asks the node to stop, as a first SIGTERM does (drain, commit, flush), by closing its standard input.</summary>
    public void RequestStop()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has exited already.
        }
    }

    /// <summary>Ends the node at once (SIGKILL) if it still runs.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has exited already.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private static void Relay(string? line, Action<string> onLine)
    {
        if (line is not null)
        {
            onLine(line);
        }
    }

    private async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }
}

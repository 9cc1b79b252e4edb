using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kommune.Engine.Tests.Support;

/// <summary>
/// The kommune command run as a separate process, as a user or a supervisor runs it, with its output collected
/// and waits that end on what it prints, never on a sleep.
/// </summary>
internal sealed class KommuneProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Matches, TaskCompletionSource<string> Seen)> _waits = [];

    private KommuneProcess(Process process)
    {
        _process = process;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>The process id, for a test that looks for what the process started.</summary>
    public int Id => _process.Id;

    public static KommuneProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>Starts <c>kommune</c> with extra environment variables (configuration keys as <c>KOMMUNE_Key</c>).</summary>
    public static KommuneProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        // Any free port for the metrics endpoint unless a test names one: processes of a test run side by side.
        start.Environment["KOMMUNE_MetricsPort"] = "0";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kommune.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        var result = new KommuneProcess(new Process { StartInfo = start });
        result._process.OutputDataReceived += (_, line) => result.Append(line.Data);
        result._process.ErrorDataReceived += (_, line) => result.Append(line.Data);
        result._process.Start();
        result._process.BeginOutputReadLine();
        result._process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Completes when the process has printed a line containing <paramref name="text"/>.</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout) =>
        WaitForLineAsync(line => line.Contains(text, StringComparison.Ordinal), timeout);

    /// <summary>How many lines the process has printed so far (for <see cref="WaitForLineAsync"/>'s <c>after</c>).</summary>
    public int LineCount
    {
        get
        {
            lock (_output)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>
    /// Completes with the first line the process printed, or prints, that <paramref name="matches"/>; with
    /// <paramref name="after"/>, only lines after the first that many count.
    /// </summary>
    public Task<string> WaitForLineAsync(Func<string, bool> matches, TimeSpan timeout, int after = 0)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_lines.Skip(after).FirstOrDefault(matches) is { } line)
            {
                return Task.FromResult(line);
            }

            _waits.Add((matches, seen));
        }

        return seen.Task.WaitAsync(timeout);
    }

    /// <summary>Sends a signal (INT for Ctrl+C, TERM for a supervisor's stop) and waits for the exit.</summary>
    public async Task StopAsync(string signal, TimeSpan timeout)
    {
        await SignalAsync(signal);
        await WaitForExitAsync(timeout);
    }

    /// <summary>Sends a signal (HUP: reload the rules) without waiting for anything else.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            _lines.Add(line);
            foreach (var wait in _waits.Where(w => w.Matches(line)).ToList())
            {
                wait.Seen.TrySetResult(line);
                _waits.Remove(wait);
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace Kommune.LoadTest;

/// <summary>
/// Starts the load test's child processes (<c>dotnet &lt;dll&gt; …</c> for a dll built next to this program) so that
/// they get SIGKILL when this program ends, however it ends (<c>setpriv --pdeathsig</c>, from one thread that lives as
/// long as the program). Their standard output and error are redirected; standard input only when asked.
/// </summary>
internal static class ChildProcesses
{
    private static readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Started)> Spawns = StartSpawner();

    /// <summary>Starts <c>dotnet &lt;dll&gt; &lt;arguments&gt;</c> in this program's directory.</summary>
    public static Process Start(string dll, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, bool redirectInput = false)
    {
        var directory = AppContext.BaseDirectory;
        var start = new ProcessStartInfo(File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            WorkingDirectory = directory,
        };
        if (start.FileName != "dotnet")
        {
            foreach (var a in (string[])["--pdeathsig", "KILL", "dotnet"])
            {
                start.ArgumentList.Add(a);
            }
        }

        start.ArgumentList.Add(Path.Combine(directory, dll));
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Spawns.Add((start, started));
        return started.Task.GetAwaiter().GetResult();
    }

    /// <summary>Sends SIGTERM (a child started in the background ignores SIGINT) and waits at most <paramref name="timeout"/> for the exit; then SIGKILL.</summary>
    public static async Task TerminateAsync(Process process, TimeSpan timeout)
    {
        if (process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>
    /// Children are forked from this one thread, which lives as long as the program: <c>--pdeathsig</c> fires when the
    /// thread that forked a child ends, so it must not be a pool thread that may retire.
    /// </summary>
    private static BlockingCollection<(ProcessStartInfo, TaskCompletionSource<Process>)> StartSpawner()
    {
        var spawns = new BlockingCollection<(ProcessStartInfo, TaskCompletionSource<Process>)>();
        var thread = new Thread(() =>
        {
            foreach (var (start, started) in spawns.GetConsumingEnumerable())
            {
                try
                {
                    started.SetResult(Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start"));
                }
                catch (Exception e)
                {
                    started.SetException(e);
                }
            }
        })
        { IsBackground = true, Name = "bench-child-spawner" };
        thread.Start();
        return spawns;
    }
}

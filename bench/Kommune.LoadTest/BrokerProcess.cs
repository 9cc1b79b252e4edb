using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Kommune.LoadTest;

/// <summary>
/// The embedded broker as a child process of its own: this program's hidden <c>broker</c> command
/// (<see cref="BrokerCommand"/>), librdkafka's mock cluster with the engine's topics and the load test's, until SIGTERM.
/// Ready when it prints the address it listens on. (Not <c>kommune broker</c>: it makes only the engine's topics, and
/// the mock cluster has no controller, so the admin API cannot make the others.)
/// </summary>
internal sealed partial class BrokerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BrokerProcess(int partitions, IEnumerable<string> moreTopics)
    {
        _process = ChildProcesses.Start("Kommune.LoadTest.dll", [BrokerCommand.Name, "--partitions", partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), "--topics", .. moreTopics], redirectInput: true);
        _process.OutputDataReceived += (_, line) => Append(line.Data);
        _process.ErrorDataReceived += (_, line) => Append(line.Data);
        _process.Exited += (_, _) => _listening.TrySetException(new InvalidOperationException($"The broker process exited ({_process.ExitCode}) before it listened:\n{Output()}"));
        _process.EnableRaisingEvents = true;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Where it listens, once it does.</summary>
    public string BootstrapServers => _listening.Task.Result;

    /// <summary>CPU time it has used so far.</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Starts it with <paramref name="moreTopics"/> besides the engine's, and waits (at most a minute) until it listens.</summary>
    public static BrokerProcess Start(int partitions, IEnumerable<string> moreTopics)
    {
        var broker = new BrokerProcess(partitions, moreTopics);
        try
        {
            if (!broker._listening.Task.Wait(TimeSpan.FromMinutes(1)))
            {
                throw new TimeoutException($"The broker process did not say where it listens within a minute:\n{broker.Output()}");
            }

            return broker;
        }
        catch
        {
            broker.Dispose();
            throw;
        }
    }

    /// <summary>SIGTERM, and SIGKILL if it has not exited 10 s later.</summary>
    public void Dispose()
    {
        ChildProcesses.TerminateAsync(_process, TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
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
        }

        if (Listening().Match(line) is { Success: true } listening)
        {
            _listening.TrySetResult(listening.Groups["servers"].Value);
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    [GeneratedRegex(@"listening on (?<servers>\S+)")]
    private static partial Regex Listening();
}

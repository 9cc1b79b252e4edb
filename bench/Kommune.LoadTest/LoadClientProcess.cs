using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Kommune.LoadTest;

/// <summary>
/// The generator and the latency reader in a child process of their own (this program's hidden <c>load-client</c>
/// command, <see cref="LoadClientCommand"/>), so that they share neither the garbage collector, the thread pool nor
/// librdkafka's threads with the broker and the pipe under test. It is driven over its standard input, one command a
/// line, and answers each on its standard output; every wait for an answer is bounded, and the child is stopped
/// (SIGTERM, then SIGKILL) when this one is disposed, however the run ended.
/// </summary>
internal sealed class LoadClientProcess : ILoadClient
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(45); // the generator's flush waits up to 30 s
    private readonly Process _process;
    private readonly StringBuilder _errors = new();

    private LoadClientProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is { } text)
            {
                lock (_errors)
                {
                    _errors.AppendLine(text);
                }
            }
        };
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts the child and waits until its reader is reading.</summary>
    public static async Task<LoadClientProcess> StartAsync(string bootstrapServers, string input, string output, FallIdSource fallIds, LoadSettings settings, CancellationToken cancellationToken)
    {
        var process = ChildProcesses.Start("Kommune.LoadTest.dll",
            [LoadClientCommand.Name, "--bootstrap-servers", bootstrapServers, "--input", input, "--output", output, "--fall-ids", fallIds.ToString(), "--settings", JsonSerializer.Serialize(settings)],
            redirectInput: true);
        var client = new LoadClientProcess(process);
        try
        {
            await client.ExpectAsync("ready", ReadyTimeout, cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public TimeSpan? ProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.HasExited ? null : _process.TotalProcessorTime;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => AskAsync("start", "started", AnswerTimeout, cancellationToken);

    public async Task<LoadProgress> ProgressAsync(CancellationToken cancellationToken)
    {
        var fields = await AskAsync("progress", "progress", AnswerTimeout, cancellationToken);
        return new LoadProgress(Long(fields[1]), Long(fields[2]), Long(fields[3]), double.Parse(fields[4], CultureInfo.InvariantCulture));
    }

    public Task StartMeasuringAsync(CancellationToken cancellationToken) => AskAsync("measure", "measuring", AnswerTimeout, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => AskAsync("stop", "stopped", StopTimeout, cancellationToken);

    public async Task<LoadOutcome> OutcomeAsync(CancellationToken cancellationToken)
    {
        var header = await AskAsync("outcome", "outcome", AnswerTimeout, cancellationToken);
        var outputs = new List<FallOutput>();
        for (var i = Long(header[2]); i > 0; i--)
        {
            var f = await ExpectAsync("fall", AnswerTimeout, cancellationToken);
            outputs.Add(new FallOutput(f[1], Long(f[2]), Long(f[3]), Long(f[4])));
        }

        return new LoadOutcome(Long(header[1]), outputs);
    }

    /// <summary>Closes its input (it then exits by itself); SIGTERM if it has not within 10 s, SIGKILL 10 s later.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is TimeoutException or IOException)
        {
            await ChildProcesses.TerminateAsync(_process, TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private static long Long(string field) => long.Parse(field, CultureInfo.InvariantCulture);

    private async Task<string[]> AskAsync(string command, string answer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync(command.AsMemory(), cancellationToken);
        await _process.StandardInput.FlushAsync(cancellationToken);
        return await ExpectAsync(answer, timeout, cancellationToken);
    }

    /// <summary>The next line of its output, split on spaces, which must start with <paramref name="answer"/>.</summary>
    private async Task<string[]> ExpectAsync(string answer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string? line;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The load client process did not answer '{answer}' within {timeout.TotalSeconds} s. {Errors()}");
        }

        var fields = line?.Split(' ');
        return fields is not null && fields[0] == answer
            ? fields
            : throw new InvalidOperationException($"The load client process answered '{line ?? "(it exited)"}' where '{answer}' was expected. {Errors()}");
    }

    private string Errors()
    {
        lock (_errors)
        {
            return _errors.Length == 0 ? "" : "Its standard error:\n" + _errors;
        }
    }
}

using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>The README's first command, run as a user runs it: a separate process on the embedded default.</summary>
[Collection(SequentialKafkaTests.Name)]
public sealed class DemoTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_demo_prints_alerts_and_counts_within_fifteen_seconds_and_stops_cleanly()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "kommune.dll"), "--duration", "15" })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout;
        output.WriteLine(text);
        output.WriteLine(await stderr);

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("Embedded Kafka broker on 127.0.0.1:", text, StringComparison.Ordinal);
        Assert.Contains("ALERT critical", text, StringComparison.Ordinal);
        Assert.Matches(@"processed [1-9]\d* \(\d+/s\)", text);
        Assert.Contains("Engine stopped after", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_C_stops_the_demo_cleanly_once_it_runs()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kommune.dll"));
        var text = new StringBuilder();
        var alertSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) =>
        {
            lock (text)
            {
                text.AppendLine(line.Data);
            }

            if (line.Data?.StartsWith("ALERT", StringComparison.Ordinal) == true)
            {
                alertSeen.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (text)
            {
                text.AppendLine(line.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await alertSeen.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            output.WriteLine(text.ToString());
        }

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("Engine stopped after", text.ToString(), StringComparison.Ordinal);
    }
}

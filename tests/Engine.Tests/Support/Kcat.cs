using System.Diagnostics;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Support;

/// <summary>kcat (librdkafka's command-line client, Debian package kcat): a Kafka client that knows nothing of the engine.</summary>
internal static class Kcat
{
    /// <summary>Runs kcat with <paramref name="args"/>, writing <paramref name="input"/> to it; its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(ITestOutputHelper output, string[] args, string? input)
    {
        var start = new ProcessStartInfo("kcat")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("kcat is not installed: run ./test.sh as root, or apt-get install kcat", e);
        }

        using (process)
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input);
            }

            process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(KafkaTestBed.DefaultWait);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            output.WriteLine($"kcat {string.Join(' ', args)} -> {process.ExitCode}; stderr: {await stderr}");
            return (process.ExitCode, await stdout);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kommune.Engine.Tests.Support;

/// <summary>
/// Debian's Prometheus server and promtool (package <c>prometheus</c>, installed by test.sh), run as processes.
/// A missing tool fails the test with what to install: these checks are part of the suite, never skipped.
/// </summary>
internal static class PrometheusTools
{
    /// <summary>Runs promtool with <paramref name="arguments"/>, <paramref name="input"/> on its standard input.</summary>
    public static async Task<(int ExitCode, string Output)> PromtoolAsync(string? input, params string[] arguments)
    {
        var start = new ProcessStartInfo(Require("promtool"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>The full path of <paramref name="tool"/> on PATH; fails with what to install when it is not there.</summary>
    public static string Require(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, tool);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException($"'{tool}' is not installed: ./test.sh installs Debian's prometheus package (apt-get install prometheus)");
    }

    /// <summary>A loopback port free right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>kcat (librdkafka's command-line client, Debian package kcat) talks to the engine through Kafka.</summary>
[Collection(SequentialKafkaTests.Name)]
public sealed class KcatInteropTests(ITestOutputHelper output)
{
    [Fact]
    public async Task An_event_produced_by_kcat_is_processed_and_kcat_reads_the_alert()
    {
        using var bed = new KafkaTestBed(output);
        await using var engine = await bed.StartEngineAsync();
        var fall = Events.Fall("kcat-wearable-1", "area-kcat", 5);
        var json = Encoding.UTF8.GetString(SensorEventEncoder.Encode(fall));

        var produced = await RunKcatAsync(["-b", bed.BootstrapServers, "-P", "-t", bed.Options.Topics.SensorEvents, "-K", "|"],
            $"{fall.SensorId}|{json}\n");
        Assert.Equal(0, produced.ExitCode);

        var consumed = await RunKcatAsync(["-b", bed.BootstrapServers, "-C", "-t", bed.Options.Topics.Alerts, "-o", "beginning", "-c", "1", "-f", "%k\t%s\n"], null);
        Assert.Equal(0, consumed.ExitCode);
        var line = consumed.Output.Trim();
        Assert.StartsWith(Events.AlertId(fall) + "\t", line, StringComparison.Ordinal);
        Assert.Contains("\"sensorId\":\"kcat-wearable-1\"", line, StringComparison.Ordinal);
    }

    private async Task<(int ExitCode, string Output)> RunKcatAsync(string[] args, string? input)
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

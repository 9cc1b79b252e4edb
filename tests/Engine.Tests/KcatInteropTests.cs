using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>kcat (librdkafka's command-line client, Debian package kcat) talks to the engine through Kafka.</summary>
[Collection(KafkaLanes.First)]
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

    private Task<(int ExitCode, string Output)> RunKcatAsync(string[] args, string? input) => Kcat.RunAsync(output, args, input);
}

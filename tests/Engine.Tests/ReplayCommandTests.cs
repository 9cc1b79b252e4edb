using Kommune.Connectors.Simulation;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>`kommune replay`: a real NAB series into Kafka as one sensor's events, read back by the engine.</summary>
[Collection(KafkaLanes.First)]
public sealed class ReplayCommandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Replay_streams_every_reading_of_a_recorded_series_and_the_engine_processes_them()
    {
        var file = SharedData.NabFile("realTraffic/speed_6005.csv");
        var readings = RecordedSeries.Load(file).Readings.Count;
        using var bed = new KafkaTestBed(output, partitions: 1);

        using var replay = KommuneProcess.Start(
            "replay", "-b", bed.BootstrapServers, "--file", file, "--sensor-id", "mndot-6005", "--type", "traffic", "--value", "speed");
        await replay.WaitForExitAsync(KafkaTestBed.DefaultWait);
        output.WriteLine(replay.Output);

        Assert.Equal(0, replay.ExitCode);
        Assert.Contains($"Produced {readings} events (0 failed)", replay.Output, StringComparison.Ordinal);
        await using var engine = await bed.StartEngineAsync();
        var processed = bed.ReadAtLeast(bed.Options.Topics.SensorEvents, readings);
        Assert.Equal(readings, processed.Count);
        Assert.All(processed, r => Assert.Equal("mndot-6005", System.Text.Encoding.UTF8.GetString(r.Message.Key!)));
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics.Processed >= readings);

        Assert.Equal(0, engine.Statistics.DeadLettered);
    }
}

using Kommune.Connectors.Simulation;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>Real road-sensor series (Numenta Anomaly Benchmark, ../shared/data/nab) replayed through Kafka.</summary>
[Collection(KafkaLanes.First)]
public sealed class RecordedDataTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("realTraffic/speed_6005.csv", "speed")]
    [InlineData("realTraffic/occupancy_6005.csv", "occupancy")]
    public async Task A_recorded_road_sensor_series_is_processed_in_full_with_no_dead_letter(string file, string valueName)
    {
        var series = RecordedSeries.Load(SharedData.NabFile(file));
        var events = series.ToEvents("mndot-6005", "twin-cities", "traffic", valueName, DateTimeOffset.UtcNow.AddMinutes(-5)).ToList();
        Assert.True(events.Count > 2_000, $"{file} should hold a few thousand readings, has {events.Count}");

        using var bed = new KafkaTestBed(output, partitions: 4);
        events.ForEach(bed.ProduceEvent);
        var barrier = bed.ProduceBarrier();
        await using var engine = await bed.StartEngineAsync();
        bed.ReadAlertIds(barrier);
        await engine.StopAsync();

        Assert.Equal(events.Count + bed.Partitions, engine.Statistics.Processed);
        Assert.Equal(0, engine.Statistics.DeadLettered);
    }
}

using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Hosting;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Idle means caught up: a partition stops holding the watermark back only when none of its records waits to be read.
/// Time here is virtual (the engine's clock), so "a pause longer than the idle time" is a step of the clock.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class IdlePartitionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Events_produced_after_a_pause_longer_than_the_idle_time_on_a_partition_that_was_behind_are_processed_not_dead_lettered_as_late()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var t = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().AddHours(-3).ToUnixTimeMilliseconds()); // event times are whole ms
        await using var engine = await bed.StartEngineAsync(null, TestRules.EveryFallOnly, clock);
        await using var endpoint = await EngineHttpEndpoint.StartAsync(engine, "127.0.0.1", 0, bed.LoggerFactory);
        await engine.Assigned;

        // Both partitions report, then production pauses for 35 s (the idle time is 30 s): both fall silent.
        var first = new[] { Fall(bed, "wearable-a", t, 0), Fall(bed, "wearable-b", t, 1) };
        bed.ReadAlertIds([.. first.Select(Events.AlertId)]);
        clock.Advance(TimeSpan.FromSeconds(35));

        // Partition 1 was behind: its twenty readings of the next minutes are on the broker, but its fetches fail for a
        // while (a leader that does not answer), so the consumer has not read them.
        bed.Cluster.PushPartitionRequestErrors(bed.Options.Topics.SensorEvents, 1, KafkaApi.Fetch, [.. Enumerable.Repeat(ErrorCode.NotLeaderForPartition, 12)]);
        var behind = Enumerable.Range(1, 20).Select(i => new SensorEvent($"wearable-{i}", "sagene", SensorTypes.Fall, t.AddSeconds(i), Values)).ToList();
        foreach (var fall in behind)
        {
            bed.Produce(new TopicPartition(bed.Options.Topics.SensorEvents, 1), Encoding.UTF8.GetBytes(fall.SensorId), SensorEventEncoder.Encode(fall));
        }

        bed.Flush();
        // The engine learns from the broker that partition 1 holds unread records (the lag it reports), and its clock moves on.
        await KafkaTestBed.WaitUntilAsync(async () => (await ScrapeAsync(endpoint)).Sum("kommune_consumer_lag_records", ("partition", "1")) >= 20);
        clock.Advance(TimeSpan.FromMilliseconds(400));

        // Partition 0 resumes two hours ahead.
        var ahead = Fall(bed, "wearable-a", t.AddHours(2), 0);
        bed.ReadAlertIds([Events.AlertId(ahead)]);

        // Partition 1's readings, once read, are on time: it held the watermark back while they waited.
        var alerts = bed.ReadAlertIds([.. behind.Select(Events.AlertId)]);
        Assert.All(behind, fall => Assert.Contains(Events.AlertId(fall), alerts));
        Assert.Equal(0, engine.Statistics.LateEvents);
        Assert.Empty(bed.ReadUntil(bed.Options.Topics.DeadLetters, r => r.Count > 0, TimeSpan.FromSeconds(1)));

        // Once partition 1 is caught up and silent past the idle time, it stops holding the watermark back: partition 0
        // alone moves it.
        clock.Advance(TimeSpan.FromSeconds(31));
        var later = Fall(bed, "wearable-a", t.AddHours(2).AddSeconds(10), 0);
        bed.ReadAlertIds([Events.AlertId(later)]);
        await KafkaTestBed.WaitUntilAsync(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(200));
            return engine.Watermark >= t.AddHours(2).AddSeconds(5);
        });
    }

    private static readonly Dictionary<string, SensorValue> Values = new() { ["confidence"] = 0.97 };

    private static SensorEvent Fall(KafkaTestBed bed, string sensor, DateTimeOffset time, int partition)
    {
        var fall = new SensorEvent(sensor, "sagene", SensorTypes.Fall, time, Values);
        bed.Produce(new TopicPartition(bed.Options.Topics.SensorEvents, partition), Encoding.UTF8.GetBytes(sensor), SensorEventEncoder.Encode(fall));
        bed.Flush();
        return fall;
    }

    private static Task<PrometheusText> ScrapeAsync(EngineHttpEndpoint endpoint) => EndpointClient.ScrapeAsync(endpoint);
}

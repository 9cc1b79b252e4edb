using System.Text.Json;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// One node killed (SIGKILL) 20 times while it works through a stream given as fast as possible, in which road
/// sensors stamp their readings with the minute's start: its area aggregates and area alerts end as a run without a
/// fault ends, and the congestion-area rule alerts on the areas whose segments are congested.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed class AreasSurviveCrashesTests(ITestOutputHelper output)
{
    private const int Partitions = 12;
    private const int Kills = 20;

    /// <summary>
    /// A node restarted after the last events has partitions with no new event: they hold the areas' time back for the
    /// idle timeout (another node could not tell them from partitions whose first events are still on their way).
    /// </summary>
    private static readonly Dictionary<string, string> ShortIdleTimeout = new() { ["KOMMUNE_IdlePartitionTimeout"] = "00:00:05" };

    [Fact]
    public async Task Twenty_crashes_leave_every_area_aggregate_and_area_alert_as_without_them()
    {
        var input = new ScaleOutInput(Partitions, sensors: 1_500, duration: TimeSpan.FromMinutes(10), spacing: TimeSpan.FromMilliseconds(30), fallsPerMinute: 6, minuteStamps: true);

        (Dictionary<string, string> Aggregates, Dictionary<string, string> AreaAlerts) reference;
        using (var bed = new KafkaTestBed(output, Partitions))
        using (var nodes = new EngineNodes(bed, "without-faults", SameAnswerTests.Rules, environment: ShortIdleTimeout))
        {
            input.ProduceAll(bed);
            await nodes.StartAllAsync("node-1");
            await SameAnswerTests.FinishAsync(bed, nodes, input);
            reference = LastValues(bed);
        }

        var areaAlerts = reference.AreaAlerts;
        output.WriteLine($"without faults: {areaAlerts.Count} area alert records, {reference.Aggregates.Count} aggregates");
        Assert.Contains(areaAlerts.Values, a => OutputSets.Rule(a) == "congestion-area");

        using (var bed = new KafkaTestBed(output, Partitions))
        using (var nodes = new EngineNodes(bed, "crashing", SameAnswerTests.Rules, environment: ShortIdleTimeout))
        {
            try
            {
                input.ProduceAll(bed);
                nodes.Start("node-1");
                var total = input.Events.Count;
                for (var kill = 1; kill <= Kills; kill++)
                {
                    // Killed at points spread over the stream, each after the node has committed more of it.
                    var committed = total * kill / (Kills + 2);
                    await KafkaTestBed.WaitUntilAsync(
                        () => Task.FromResult(bed.CommittedAndEnd(nodes.GroupId, bed.Options.Topics.SensorEvents).Committed >= committed),
                        () => $"before kill {kill}: committed {bed.CommittedAndEnd(nodes.GroupId, bed.Options.Topics.SensorEvents).Committed} of {committed}");
                    await nodes.KillAsync("node-1");
                    nodes.Start("node-1");
                }

                await SameAnswerTests.FinishAsync(bed, nodes, input);
                var crashed = LastValues(bed);
                output.WriteLine($"dead letters: {TopicReader.DeadLetterReasons(bed.BootstrapServers, bed.Options.Topics.DeadLetters, Partitions)}");
                AssertSameLastValues(reference.Aggregates, crashed.Aggregates, "aggregates");
                AssertSameLastValues(areaAlerts, crashed.AreaAlerts, "area alerts");
            }
            catch
            {
                nodes.WriteLogs(output);
                throw;
            }
        }
    }

    /// <summary>The last aggregate per area, metric and window, and the last area alert record per alert and sequence.</summary>
    private static (Dictionary<string, string> Aggregates, Dictionary<string, string> AreaAlerts) LastValues(KafkaTestBed bed) => (
        LastPerKey(TopicReader.Values(bed.BootstrapServers, bed.Options.Topics.Aggregates, Partitions), AggregateKey),
        LastPerKey(TopicReader.Values(bed.BootstrapServers, bed.Options.Topics.Alerts, Partitions).Where(IsAreaAlert), AlertKey));

    private static void AssertSameLastValues(Dictionary<string, string> expected, Dictionary<string, string> actual, string what)
    {
        var differing = expected.Where(e => !actual.TryGetValue(e.Key, out var a) || a != e.Value).Select(e => $"{e.Value} -> {actual.GetValueOrDefault(e.Key) ?? "missing"}").ToList();
        var extra = actual.Keys.Except(expected.Keys).ToList();
        Assert.True(differing.Count == 0 && extra.Count == 0,
            $"{what}: {differing.Count} of {expected.Count} differ from the run without faults, e.g. {string.Join("\n", differing.Take(3))}; {extra.Count} extra, e.g. {string.Join("\n", extra.Take(3))}");
    }

    /// <summary>The last record per key, in the order they were read (per partition, a key's records are in order).</summary>
    private static Dictionary<string, string> LastPerKey(IEnumerable<string> records, Func<JsonElement, string> key)
    {
        var last = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            using var json = JsonDocument.Parse(record);
            last[key(json.RootElement)] = record;
        }

        return last;
    }

    private static string AggregateKey(JsonElement a) =>
        $"{a.GetProperty("areaId").GetString()}/{a.GetProperty("metric").GetString()}/{a.GetProperty("windowStart").GetString()}";

    private static string AlertKey(JsonElement a) => $"{a.GetProperty("alertId").GetString()}#{a.GetProperty("sequence").GetInt32()}";

    private static bool IsAreaAlert(string alert)
    {
        using var json = JsonDocument.Parse(alert);
        return json.RootElement.GetProperty("sensorId").ValueKind == JsonValueKind.Null;
    }
}

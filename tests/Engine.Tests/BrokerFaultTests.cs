using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Broker faults injected through the embedded broker while the engine runs: produce errors, commit errors, a slow
/// broker, partition leaders moving, a broker down and back. The engine retries and keeps running, and after
/// recovery the distinct output equals a fault-free run's: one alert per fall, duplicates byte-identical.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed class BrokerFaultTests(ITestOutputHelper output)
{
    private const int FallsPerPhase = 40;

    [Fact]
    public async Task The_engine_rides_out_broker_faults_and_its_distinct_output_equals_a_fault_free_run()
    {
        using var bed = new KafkaTestBed(output, partitions: 4, brokers: 3);
        await using var engine = await bed.StartEngineAsync(rules: TestRules.EveryFallOnly);
        var expected = new List<string>();
        var second = 0;

        void Falls(string phase)
        {
            for (var i = 0; i < FallsPerPhase; i++)
            {
                var fall = Events.Fall($"{phase}-{i}", "a", second++);
                bed.ProduceEvent(fall);
                expected.Add(Events.AlertId(fall));
            }

            bed.Flush();
        }

        void AlertsOf(string phase)
        {
            var seen = bed.ReadAlertIds(expected);
            Assert.True(expected.All(seen.Contains), $"after {phase}: {expected.Count(id => !seen.Contains(id))} alerts missing");
            output.WriteLine($"{phase}: {expected.Count} alerts so far");
        }

        Falls("before");
        AlertsOf("before");

        // The engine's produce requests fail a few times: its idempotent producer retries them.
        bed.Cluster.PushRequestErrors(KafkaApi.Produce, ErrorCode.NotLeaderForPartition, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas);
        Falls("produce-errors");
        AlertsOf("produce-errors");

        // Offset commits fail a few times: committed offsets only lag, the next commit carries them.
        bed.Cluster.PushRequestErrors(KafkaApi.OffsetCommit, ErrorCode.RequestTimedOut, ErrorCode.NotCoordinatorForGroup, ErrorCode.RequestTimedOut);
        Falls("commit-errors");
        AlertsOf("commit-errors");

        // A slow broker: 300 ms round trips on every broker.
        foreach (var broker in new[] { 1, 2, 3 })
        {
            bed.Cluster.SetBrokerRoundTrip(broker, TimeSpan.FromMilliseconds(300));
        }

        Falls("slow-broker");
        AlertsOf("slow-broker");
        foreach (var broker in new[] { 1, 2, 3 })
        {
            bed.Cluster.SetBrokerRoundTrip(broker, TimeSpan.Zero);
        }

        // Partition leaders move to other brokers.
        foreach (var topic in bed.Options.ToKafkaTopics().All)
        {
            for (var p = 0; p < bed.Partitions; p++)
            {
                bed.Cluster.SetPartitionLeader(topic, p, 1 + ((p + 1) % 3));
            }
        }

        Falls("leaders-moved");
        AlertsOf("leaders-moved");

        // A broker down for two seconds while falls arrive, then back.
        bed.Cluster.SetBrokerDown(2);
        var down = Task.Run(() => Falls("broker-down"));
        await KafkaTestBed.WaitUntilAsync(() => second >= FallsPerPhase * 6);
        await Task.Delay(TimeSpan.FromSeconds(2)); // the outage itself: wall time is what a broker being down takes
        bed.Cluster.SetBrokerUp(2);
        await down;
        AlertsOf("broker-down");

        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
        await engine.StopAsync();
        Assert.False(engine.ConsumerCompletion.IsFaulted);

        // The distinct output equals a fault-free run's: exactly the expected alert ids, duplicates byte-identical.
        var records = bed.ReadAtLeast(bed.Options.Topics.Alerts, expected.Count);
        var byId = records.GroupBy(r => Encoding.UTF8.GetString(r.Message.Key!)).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(expected.Order(StringComparer.Ordinal), byId.Keys.Order(StringComparer.Ordinal));
        Assert.All(byId.Values, copies => Assert.All(copies, c => Assert.Equal(copies[0].Message.Value, c.Message.Value)));
        output.WriteLine($"{records.Count} alert records for {expected.Count} falls; {engine.Statistics.Processed} events processed");
    }
}

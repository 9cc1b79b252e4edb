using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Connectors.Tests;

/// <summary>The follower a view is built with, and the command sink, against the embedded broker.</summary>
public sealed class KafkaTopicFollowerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task It_reads_every_partition_from_the_start_says_when_it_caught_up_then_follows_and_picks_up_a_topic_created_later()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("alerts", partitions: 3);
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        for (var i = 0; i < 30; i++)
        {
            producer.Produce(new TopicPartition("alerts", i % 3), new Message<string, string> { Key = $"k{i}", Value = $"before-{i}", Headers = [new Header("h", "v"u8.ToArray())] });
        }

        producer.Flush(Wait);
        var seen = new ConcurrentQueue<TopicRecord>();
        using var follower = new KafkaTopicFollower(cluster.BootstrapServers, KafkaClientSettings.None, ["alerts", "later"], seen.Enqueue, NullLogger.Instance);
        follower.Start();

        await follower.CaughtUp.WaitAsync(Wait);
        Assert.Equal(30, seen.Count);
        Assert.All(seen, r => Assert.Equal("v", r.Header("h")));
        Assert.Null(seen.First().Header("absent"));

        producer.Produce("alerts", new Message<string, string> { Key = "k", Value = "after" });
        producer.Flush(Wait);
        await WaitUntilAsync(() => seen.Any(r => Value(r) == "after"));

        cluster.CreateTopic("later", partitions: 1);
        producer.Produce("later", new Message<string, string> { Key = "k", Value = "in a topic created later" });
        producer.Flush(Wait);
        await WaitUntilAsync(() => seen.Any(r => r.Topic == "later"));
        Assert.True(follower.LastRecordTimes.ContainsKey("later"));
        Assert.Equal(32, follower.Records);
    }

    [Fact]
    public async Task A_command_written_by_the_sink_is_on_the_acks_topic_keyed_by_alert_id()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("acks", partitions: 2);
        using var sink = new KafkaCommandSink(cluster.BootstrapServers, KafkaClientSettings.None, "acks");
        var command = new AlertCommand("fall:w-1:1", AlertAction.Ack, "nurse Kari", DateTimeOffset.UtcNow);

        await sink.SendAsync(command);

        var seen = new ConcurrentQueue<TopicRecord>();
        using var follower = new KafkaTopicFollower(cluster.BootstrapServers, KafkaClientSettings.None, ["acks"], seen.Enqueue, NullLogger.Instance);
        follower.Start();
        await follower.CaughtUp.WaitAsync(Wait);
        var record = Assert.Single(seen);
        Assert.Equal("fall:w-1:1", Encoding.UTF8.GetString(record.Key!));
        Assert.True(AlertCommandDecoder.TryDecode(record.Key, record.Value, out var decoded, out _));
        Assert.Equal("nurse Kari", decoded!.By);
    }

    private static string? Value(TopicRecord r) => r.Value is null ? null : Encoding.UTF8.GetString(r.Value);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}

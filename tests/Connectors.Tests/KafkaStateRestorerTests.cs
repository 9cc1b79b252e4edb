using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Tests;

/// <summary>The state restorer against the embedded broker: what it reads back of the state topic, and what it reports.</summary>
public sealed class KafkaStateRestorerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public void Partitions_is_the_state_topics_partition_count_and_0_with_an_error_when_the_cluster_refuses_the_topic()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 3);
        cluster.CreateTopic("forbidden-state", partitions: 3);
        cluster.SetTopicError("forbidden-state", ErrorCode.TopicAuthorizationFailed);
        var logger = new RecordingLogger();
        using var metadata = new KafkaTopicMetadata(cluster.BootstrapServers, KafkaClientSettings.None);

        Assert.Equal(3, Restorer(cluster, "state", new StateChunkLedger(), logger).Partitions(metadata));
        Assert.Equal(0, Restorer(cluster, "forbidden-state", new StateChunkLedger(), logger).Partitions(metadata));

        var error = Assert.Single(logger.Lines, l => l.Level == LogLevel.Error);
        Assert.Equal(3102, error.EventId);
        Assert.Contains("forbidden-state", error.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void It_hands_over_the_newest_state_of_each_key_of_the_partitions_asked_for_and_counts_the_keys_taken()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);
        var large = RandomNumberGenerator.GetBytes(1_200_000); // incompressible: written in chunks
        Write(cluster, "state",
            new StateRecord("sensor:s-1", "old"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 4 }),
            new StateRecord("sensor:s-1", "new"u8.ToArray(), 0, new Dictionary<int, long> { [0] = 9 }),
            new StateRecord("sensor:gone", "soon removed"u8.ToArray(), 0),
            new StateRecord("sensor:gone", null, 0),
            new StateRecord("area:a-1", large, 0),
            new StateRecord("sensor:not-mine", "another task's"u8.ToArray(), 0),
            new StateRecord("sensor:other-partition", "not asked for"u8.ToArray(), 1));
        var chunks = new StateChunkLedger();
        var logger = new RecordingLogger();
        var seen = new Dictionary<string, RestoredState>();

        var taken = Restorer(cluster, "state", chunks, logger).Restore([0], state =>
        {
            seen.Add(state.Key, state);
            return state.Key != "sensor:not-mine";
        });

        Assert.Equal(2, taken);
        Assert.Equal(["area:a-1", "sensor:not-mine", "sensor:s-1"], seen.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("new", Encoding.UTF8.GetString(seen["sensor:s-1"].Value));
        Assert.Equal(9, seen["sensor:s-1"].Covers[0]);
        Assert.Equal(large, seen["area:a-1"].Value);
        Assert.True(seen["area:a-1"].Chunks > 1);
        Assert.Equal(seen["area:a-1"].Chunks, chunks.Get("area:a-1")); // the writer deletes those chunks when the state shrinks
        var restored = Assert.Single(logger.Lines, l => l.EventId == 3101);
        Assert.Contains("Restored the state of 2 keys", restored.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_state_the_engine_cannot_read_is_logged_as_unreadable_not_counted_and_the_restore_goes_on()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 1);
        Write(cluster, "state",
            new StateRecord("sensor:garbled", "{not json"u8.ToArray(), 0),
            new StateRecord("sensor:fine", "{}"u8.ToArray(), 0));
        var logger = new RecordingLogger();
        var seen = new List<string>();

        var taken = Restorer(cluster, "state", new StateChunkLedger(), logger).Restore([0], state =>
        {
            seen.Add(state.Key);
            return state.Key == "sensor:garbled" ? throw new InvalidDataException("not a snapshot") : true;
        });

        Assert.Equal(1, taken);
        Assert.Equal(["sensor:fine", "sensor:garbled"], seen.Order(StringComparer.Ordinal));
        var unreadable = Assert.Single(logger.Lines, l => l.EventId == 3104);
        Assert.Equal(LogLevel.Error, unreadable.Level);
        Assert.Contains("sensor:garbled", unreadable.Text, StringComparison.Ordinal);
        Assert.Contains("not a snapshot", unreadable.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_partition_that_ends_with_a_hand_over_mark_is_read_from_where_the_mark_says_and_one_written_after_its_mark_is_read_whole()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);
        Write(cluster, "state",
            new StateRecord("sensor:a", "a old"u8.ToArray(), 0),
            new StateRecord("sensor:gone", "removed before the hand-over"u8.ToArray(), 0),
            new StateRecord("sensor:gone", null, 0),
            new StateRecord("sensor:a", "a whole"u8.ToArray(), 0), // offset 3: the hand-over's writes begin
            new StateRecord("sensor:b", "b whole"u8.ToArray(), 0),
            StateHandOverMark.For(0, 3),
            new StateRecord("sensor:c", "c old"u8.ToArray(), 1),
            StateHandOverMark.For(1, 1),
            new StateRecord("sensor:c", "c after the mark"u8.ToArray(), 1)); // the mark no longer holds
        var logger = new RecordingLogger();
        var seen = new Dictionary<string, string>();

        var taken = Restorer(cluster, "state", new StateChunkLedger(), logger).Restore([0, 1], state =>
        {
            seen.Add(state.Key, Encoding.UTF8.GetString(state.Value));
            return true;
        });

        Assert.Equal(3, taken);
        Assert.Equal(new Dictionary<string, string> { ["sensor:a"] = "a whole", ["sensor:b"] = "b whole", ["sensor:c"] = "c after the mark" }, seen);
        var fromMark = Assert.Single(logger.Lines, l => l.EventId == 3106);
        Assert.Contains("State partitions 0 end with a hand-over mark", fromMark.Text, StringComparison.Ordinal);
        Assert.Contains("passing over 3 earlier records", fromMark.Text, StringComparison.Ordinal);
        var restored = Assert.Single(logger.Lines, l => l.EventId == 3101);
        Assert.Contains("from 6 state records", restored.Text, StringComparison.Ordinal); // 3 of partition 0 (its mark too), all 3 of partition 1
    }

    [Fact]
    public void A_marks_value_names_its_offset_and_a_mark_is_never_restored_as_a_state()
    {
        Assert.True(StateHandOverMark.TryRead(StateHandOverMark.For(0, 42).Value, out var from));
        Assert.Equal(42, from);
        Assert.False(StateHandOverMark.TryRead("{}"u8, out _));
        Assert.False(StateHandOverMark.TryRead("restore-from=-1"u8, out _));

        var reader = new StateRecordReader();
        reader.Add(Encoding.UTF8.GetBytes(StateHandOverMark.Key), StateHandOverMark.For(0, 0).Value, null, 0);
        Assert.Empty(reader.States((key, _, reason) => throw new InvalidOperationException($"{key}: {reason}")));
        Assert.Equal(1, reader.Records);
    }

    [Fact]
    public void A_marks_value_names_its_partitions_first_timer_and_one_written_before_marks_named_it_reads_with_none()
    {
        var due = DateTimeOffset.FromUnixTimeMilliseconds(1_795_766_400_123);
        Assert.True(StateHandOverMark.TryRead(StateHandOverMark.For(0, 42, due).Value, out var from, out var firstTimer));
        Assert.Equal(42, from);
        Assert.Equal(due, firstTimer);
        Assert.True(StateHandOverMark.TryRead("restore-from=42"u8, out from, out firstTimer)); // as marks were written before
        Assert.Equal(42, from);
        Assert.Null(firstTimer);

        Assert.False(StateHandOverMark.TryRead("restore-from=42;first-timer=soon"u8, out _, out _));
        Assert.False(StateHandOverMark.TryRead("restore-from=42;first-timer="u8, out _, out _));
        Assert.False(StateHandOverMark.TryRead("restore-from=;first-timer=1"u8, out _, out _));
    }

    [Fact]
    public void A_restore_reads_first_the_partitions_whose_marks_name_a_timer_due_earliest_first_then_those_with_the_fewest_records()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_766_400_000);
        var reads = new[] { (0, 0L), (1, 0L), (2, 5L), (3, 0L), (4, 0L) }.Select(r => new TopicPartitionOffset("state", r.Item1, r.Item2));
        var ends = new Dictionary<int, long> { [0] = 10, [1] = 2, [2] = 100, [3] = 50, [4] = 1 };
        var firstTimers = new Dictionary<int, DateTimeOffset>
        {
            [2] = now.AddMinutes(-1),
            [3] = now.AddMinutes(-2), // due longest: first
            [4] = now.AddSeconds(1), // not due yet: as if it had none
        };

        var order = KafkaStateRestorer.RestoreOrder(reads, ends, firstTimers, now).Select(r => r.Partition.Value);

        Assert.Equal([3, 2, 4, 1, 0], order); // then 1, 2 and 10 records
    }

    [Fact]
    public void Partitions_with_no_records_restore_nothing_at_once()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);

        var taken = Restorer(cluster, "state", new StateChunkLedger(), new RecordingLogger()).Restore([0, 1], _ => throw new InvalidOperationException("nothing to hand over"));

        Assert.Equal(0, taken);
    }

    [Fact]
    public void Each_partition_is_told_once_right_after_its_own_keys_were_handed_over_an_empty_one_at_once_and_those_with_the_most_records_last_to_start()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 20);
        var records = new List<StateRecord>();
        for (var partition = 1; partition < 20; partition++)
        {
            for (var key = 0; key < 21 - partition; key++) // partition 1 has the most records, 19 the fewest; 0 none
            {
                records.Add(new StateRecord($"sensor:p{partition}-{key}", "state"u8.ToArray(), partition));
            }
        }

        Write(cluster, "state", [.. records]);
        var handed = new List<int>(); // the partition of each key handed over, then -1 - partition when it is told done
        var told = new List<int>();

        var taken = Restorer(cluster, "state", new StateChunkLedger(), new RecordingLogger()).Restore(
            [.. Enumerable.Range(0, 20)],
            state =>
            {
                handed.Add(state.Partition);
                return true;
            },
            partition =>
            {
                told.Add(partition);
                handed.Add(-1 - partition);
            });

        Assert.Equal(records.Count, taken);
        Assert.Equal(0, told[0]); // nothing to read
        Assert.Equal(Enumerable.Range(0, 20), told.Order());
        // Read 16 at a time, those with the fewest records first: the three with the most start only once one is done.
        Assert.DoesNotContain(told[1], new[] { 1, 2, 3 });
        foreach (var partition in Enumerable.Range(1, 19))
        {
            // Its keys, all of them, right before it is told done: none of it comes after, none of another partition between.
            var done = handed.IndexOf(-1 - partition);
            Assert.Equal(Enumerable.Repeat(partition, 21 - partition), handed.Skip(done - (21 - partition)).Take(21 - partition));
            Assert.DoesNotContain(partition, handed.Skip(done + 1));
        }
    }

    [Fact]
    public void A_cancelled_restore_stops_and_gives_the_partitions_not_read_as_unfinished_without_telling_them_done()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);
        Write(cluster, "state", new StateRecord("sensor:s-1", "state"u8.ToArray(), 0), new StateRecord("sensor:s-2", "state"u8.ToArray(), 1));
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var told = new List<int>();
        var unfinished = new List<int>();
        var logger = new RecordingLogger();

        var taken = Restorer(cluster, "state", new StateChunkLedger(), logger).Restore([0, 1], _ => true, told.Add, unfinished, cancel.Token);

        Assert.Equal(0, taken);
        Assert.Empty(told);
        Assert.Equal([0, 1], unfinished.Order());
        Assert.Contains(logger.Lines, l => l.EventId == 3108);
    }

    [Fact]
    public void Offsets_the_broker_refuses_are_an_error_not_an_empty_partition()
    {
        using var cluster = EmbeddedKafkaCluster.Start(1);
        cluster.CreateTopic("state", partitions: 2);
        Write(cluster, "state", new StateRecord("sensor:s-1", "kept"u8.ToArray(), 1));
        var logger = new RecordingLogger();
        var restorer = Restorer(cluster, "state", new StateChunkLedger(), logger);

        cluster.PushRequestErrors(KafkaApi.ListOffsets, ErrorCode.TopicAuthorizationFailed);
        Assert.Null(restorer.EndOffsets([0, 1]));
        var error = Assert.Single(logger.Lines, l => l.EventId == 3107);
        Assert.Contains("state", error.Text, StringComparison.Ordinal);

        cluster.PushRequestErrors(KafkaApi.ListOffsets, ErrorCode.TopicAuthorizationFailed);
        Assert.ThrowsAny<KafkaException>(() => restorer.Restore([0, 1], _ => true));

        Assert.Equal(new Dictionary<int, long> { [0] = 0, [1] = 1 }, restorer.EndOffsets([0, 1]));
        Assert.Equal(1, restorer.Restore([0, 1], _ => true));
    }

    private static KafkaStateRestorer Restorer(EmbeddedKafkaCluster cluster, string topic, StateChunkLedger chunks, ILogger logger) =>
        new(cluster.BootstrapServers, KafkaClientSettings.None, topic, Wait, chunks, logger);

    /// <summary>Writes the records as the engine's state writer does (<see cref="StateRecordFormat"/>), in order.</summary>
    private static void Write(EmbeddedKafkaCluster cluster, string topic, params StateRecord[] records)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            MessageMaxBytes = 2_000_000,
        }).Build();
        foreach (var record in records)
        {
            foreach (var message in StateRecordFormat.Encode(record, previousChunks: 0, out _))
            {
                producer.Produce(new TopicPartition(topic, record.Partition), message);
            }
        }

        Assert.Equal(0, producer.Flush(Wait));
    }
}

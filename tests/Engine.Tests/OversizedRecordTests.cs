using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Broker;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A dead letter can always be written: records too large for the dead-letter topic, and one whose dead letter the
/// broker refuses for what it holds, end as dead letters (reduced to a prefix, with the original's length and SHA-256)
/// instead of blocking their partition, in both processing guarantees; records after them are processed.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class OversizedRecordTests(ITestOutputHelper output)
{
    private const string DeadLetterTopic = "oversized.dead-letters";

    public static TheoryData<ProcessingGuarantee> Guarantees => [ProcessingGuarantee.AtLeastOnce, ProcessingGuarantee.ExactlyOnce];

    [Theory]
    [MemberData(nameof(Guarantees))]
    public async Task Records_too_large_for_a_dead_letter_and_one_whose_dead_letter_is_refused_are_dead_lettered_and_the_partition_moves_on(ProcessingGuarantee guarantee)
    {
        // A partition of the embedded broker keeps about 5 MiB and drops its oldest records beyond that; a 5 MB record
        // is kept only with little before it. So the 5 MB record has partition 0 to itself, and every large record is
        // produced once the one before is dead-lettered. One dead-letter partition, so that the broker's refusal
        // below hits the one dead letter it is meant for.
        using var bed = new KafkaTestBed(output, partitions: 2);
        bed.Cluster.CreateTopic(DeadLetterTopic, 1);
        await using var engine = await bed.StartEngineAsync(
            o =>
            {
                o.ProcessingGuarantee = guarantee;
                o.TransactionalId = "oversized-node";
                o.Topics.DeadLetters = DeadLetterTopic;
            },
            TestRules.EveryFallOnly);
        await engine.Assigned;
        var events = bed.Options.Topics.SensorEvents;

        var before = Events.Fall("wearable-before", "sagene", 1);
        bed.Produce(new TopicPartition(events, 0), Encoding.UTF8.GetBytes(before.SensorId), SensorEventEncoder.Encode(before));
        // 5 MB and 1 MB: over what a record of the engine's producer may hold. 64 KiB + 1: one byte over
        // MaxEventBytes, so refused by the decoder, and its dead letter fits whole.
        var large = new (int Partition, byte[] Value)[] { (0, LargeValue(5_000_000)), (1, LargeValue(1_000_000)), (1, LargeValue(64 * 1024 + 1)) };
        for (var i = 0; i < large.Length; i++)
        {
            bed.Produce(new TopicPartition(events, large[i].Partition), "big-sensor"u8.ToArray(), large[i].Value);
            bed.Flush();
            Assert.Equal(i + 1, bed.ReadAtLeast(DeadLetterTopic, i + 1).Count);
        }

        // The next dead letter is refused by the broker for what it holds (INVALID_RECORD): the engine writes it again
        // without the whole value (exactly-once: the epoch that held it aborts and its redo writes the reduced form).
        bed.Cluster.PushPartitionRequestErrors(DeadLetterTopic, 0, KafkaApi.Produce, ErrorCode.InvalidRecord);
        var refusedValue = Encoding.UTF8.GetBytes("{\"sensorId\":\"broken-gateway\",\"areaId\":" + new string(' ', 3000));
        bed.Produce(new TopicPartition(events, 1), "broken-gateway"u8.ToArray(), refusedValue);
        var after = Events.Fall("wearable-after", "sagene", 2);
        bed.Produce(new TopicPartition(events, 1), Encoding.UTF8.GetBytes(after.SensorId), SensorEventEncoder.Encode(after));
        bed.Flush();

        var alerts = bed.ReadAlertIds([Events.AlertId(before), Events.AlertId(after)]);
        Assert.Contains(Events.AlertId(before), alerts);
        Assert.Contains(Events.AlertId(after), alerts);
        var deadLetters = bed.ReadUntil(DeadLetterTopic, r => r.Count >= large.Length + 1);
        var bySource = deadLetters
            .GroupBy(r => (Partition: Header(r, DeadLetterHeaders.SourcePartition), Offset: Header(r, DeadLetterHeaders.SourceOffset)))
            .ToDictionary(g => $"{g.Key.Partition}@{g.Key.Offset}", g => g.ToList());
        Assert.Equal(large.Length + 1, bySource.Count);

        // 5 MB and 1 MB: a prefix, the length and SHA-256 of the whole, and why.
        AssertReduced(Assert.Single(bySource["0@1"]), large[0].Value, "over the");
        AssertReduced(Assert.Single(bySource["1@0"]), large[1].Value, "over the");
        Assert.All(bySource["0@1"].Concat(bySource["1@0"]), r => Assert.Contains("over the limit", Header(r, DeadLetterHeaders.Reason), StringComparison.Ordinal));

        // 64 KiB + 1: dead-lettered whole.
        var whole = Assert.Single(bySource["1@1"]);
        Assert.Equal(large[2].Value, whole.Message.Value);
        Assert.Null(Header(whole, DeadLetterHeaders.ValueForm));
        Assert.Contains("over the limit", Header(whole, DeadLetterHeaders.Reason), StringComparison.Ordinal);

        // The refused one: reduced after the broker's refusal, which the record names.
        var refused = Assert.Single(bySource["1@2"]);
        AssertReduced(refused, refusedValue, "InvalidRecord");
        Assert.Contains("malformed JSON", Header(refused, DeadLetterHeaders.Reason), StringComparison.Ordinal);
        Assert.Equal("decode", Header(refused, DeadLetterHeaders.Stage));

        // The committed offsets move past all of them.
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, events) is var (c, e) && c == e);
        var statistics = engine.Statistics;
        if (guarantee == ProcessingGuarantee.ExactlyOnce)
        {
            Assert.True(statistics.EpochsCommitted > 0, "no epoch committed");
            Assert.Equal(1, statistics.Restarts); // the epoch that held the refused dead letter, redone once
            Assert.True(statistics.DeadLettered > large.Length + 1, "the redone epoch dead-letters the refused record again");
        }
        else
        {
            Assert.Equal(large.Length + 1, statistics.DeadLettered);
        }

        Assert.DoesNotContain(bed.Logs.Errors, e => e.Contains("could not be written in any form", StringComparison.Ordinal));
    }

    private static void AssertReduced(ConsumeResult<byte[]?, byte[]?> record, byte[] original, string refusedBecause)
    {
        Assert.Equal("prefix", Header(record, DeadLetterHeaders.ValueForm));
        Assert.Equal(original[..Math.Min(original.Length, 1024)], record.Message.Value);
        Assert.Equal(original.Length.ToString(CultureInfo.InvariantCulture), Header(record, DeadLetterHeaders.ValueLength));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(original)), Header(record, DeadLetterHeaders.ValueSha256));
        Assert.Contains(refusedBecause, Header(record, DeadLetterHeaders.Refused), StringComparison.Ordinal);
        Assert.Equal("kommune.sensor-events", Header(record, DeadLetterHeaders.SourceTopic));
    }

    /// <summary>JSON-looking text of <paramref name="size"/> bytes, different along its length (so a prefix is not the whole).</summary>
    private static byte[] LargeValue(int size)
    {
        var bytes = new byte[size];
        var head = "{\"sensorId\":\"big-sensor\",\"areaId\":\"sagene\",\"type\":\"traffic\",\"ts\":1,\"values\":{\"blob\":\""u8;
        head.CopyTo(bytes);
        for (var i = head.Length; i < size; i++)
        {
            bytes[i] = (byte)('a' + (i % 26));
        }

        return bytes;
    }

    private static string? Header(ConsumeResult<byte[]?, byte[]?> record, string name) =>
        record.Message.Headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}

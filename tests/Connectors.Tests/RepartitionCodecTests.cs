using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Tests;

/// <summary>The records of the repartition topic read back as written.</summary>
public sealed class RepartitionCodecTests
{
    private static readonly SensorEvent Parking = new(
        "parking-æøå",
        "område nord",
        SensorTypes.Parking,
        new DateTimeOffset(2024, 5, 1, 10, 0, 0, 123, TimeSpan.Zero),
        new Dictionary<string, SensorValue> { ["occupied"] = SensorValue.FromBoolean(true), ["note"] = SensorValue.FromText("x") });

    [Fact]
    public void An_event_forwarded_as_the_bytes_it_was_consumed_in_reads_back_as_the_same_event()
    {
        // The producer's bytes, as a sensor wrote them (not the engine's encoding): the area side reads what was consumed.
        var consumed = Encoding.UTF8.GetBytes("""{ "type": "parking", "ts": "2024-05-01T10:00:00.123Z",  "values": { "note": "x", "occupied": true }, "areaId": "område nord", "sensorId": "parking-æøå" }""");

        var forwarded = Read(RepartitionCodec.Event(Parking.AreaId, consumed, "e:3:17:-1"));
        var encoded = Read(RepartitionCodec.Event(Parking, "e:3:17:-1"));

        foreach (var record in new[] { forwarded, encoded })
        {
            Assert.Equal(RepartitionKind.Event, record.Kind);
            Assert.Equal("e:3:17:-1", record.Origin);
            Assert.Equal(Parking.SensorId, record.Event!.SensorId);
            Assert.Equal(Parking.AreaId, record.Event.AreaId);
            Assert.Equal(Parking.Timestamp, record.Event.Timestamp);
            Assert.Equal(Parking.Values.OrderBy(v => v.Key, StringComparer.Ordinal), record.Event.Values.OrderBy(v => v.Key, StringComparer.Ordinal));
        }
    }

    [Fact]
    public void The_records_key_is_the_area_whichever_way_an_event_is_written()
    {
        var consumed = SensorEventEncoder.Encode(Parking);
        Assert.Equal(Encoding.UTF8.GetBytes(Parking.AreaId), RepartitionCodec.Event(Parking.AreaId, consumed, "e:0:0:-1").Key);
        Assert.Equal(Encoding.UTF8.GetBytes(Parking.AreaId), RepartitionCodec.Event(Parking, "e:0:0:-1").Key);
    }

    [Fact]
    public void Several_events_of_one_batch_in_one_record_read_back_in_order_each_with_its_origin_and_its_own_bytes()
    {
        var other = Parking with { SensorId = "road-1", AreaId = "område sør", Type = SensorTypes.Traffic, Timestamp = Parking.Timestamp.AddSeconds(1) };
        var first = Encoding.UTF8.GetBytes("""{ "type": "parking", "ts": "2024-05-01T10:00:00.123Z",  "values": { "note": "x", "occupied": true }, "areaId": "område nord", "sensorId": "parking-æøå" }""");
        var second = SensorEventEncoder.Encode(other);

        var message = RepartitionCodec.Events([(first, "e:3:17:-1"), (second, "e:3:18:-1"), (first, "e:3:19:-1")]);
        var record = Read(message);

        Assert.Null(message.Key); // the areas differ: each event names its own
        Assert.Equal(RepartitionKind.Events, record.Kind);
        Assert.Null(record.EventTime);
        var parts = record.Parts!;
        Assert.Equal(["e:3:17:-1", "e:3:18:-1", "e:3:19:-1"], parts.Select(p => p.Origin));
        Assert.All(parts, p => Assert.Equal(RepartitionKind.Event, p.Kind));
        Assert.Equal([Parking.SensorId, other.SensorId, Parking.SensorId], parts.Select(p => p.Event!.SensorId));
        Assert.Equal([Parking.AreaId, other.AreaId, Parking.AreaId], parts.Select(p => p.Event!.AreaId));
        Assert.Equal(other.Timestamp, parts[1].EventTime);
        Assert.Equal(first, parts[0].ContractJson); // what a dead letter of it carries
        Assert.Equal(second, parts[1].ContractJson);
    }

    [Theory]
    [InlineData(new byte[0], "0 events in 0 bytes")]
    [InlineData(new byte[] { 0, 0, 0, 0 }, "0 events in 4 bytes")]
    [InlineData(new byte[] { 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0 }, "-1 events in 12 bytes")]
    [InlineData(new byte[] { 2, 0, 0, 0, 1, 0, 0, 0, (byte)'o', 1, 0, 0, 0, (byte)'{' }, "2 events in 14 bytes")]
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 0, 0, 0, (byte)'o', 9, 0, 0, 0, (byte)'{' }, "event 1 of 1 is cut short")]
    [InlineData(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, (byte)'{' }, "event 1 of 1 is cut short or has no origin")]
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 0, 0, 0, (byte)'o', 255, 255, 255, 255, (byte)'{' }, "event 1 of 1 is cut short")]
    public void A_damaged_record_of_several_events_is_refused_with_what_is_wrong(byte[] value, string why)
    {
        var headers = RepartitionCodec.Events([(SensorEventEncoder.Encode(Parking), "e:0:0:-1")]).Headers;

        Assert.False(RepartitionCodec.TryDecode(null, value, headers, out var record, out var failure));
        Assert.Null(record);
        Assert.Equal(DeadLetterCode.Other, failure.Code);
        Assert.Contains(why, failure.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_of_several_events_with_an_unreadable_event_or_bytes_after_them_is_refused()
    {
        var good = RepartitionCodec.Events([(SensorEventEncoder.Encode(Parking), "e:0:0:-1")]);
        var longer = good.Value!.Concat(new byte[] { 7 }).ToArray();
        Assert.False(RepartitionCodec.TryDecode(null, longer, good.Headers, out _, out var trailing));
        Assert.Contains("1 bytes after its 1 events", trailing.Text, StringComparison.Ordinal);

        var broken = RepartitionCodec.Events([(Encoding.UTF8.GetBytes("{ not json"), "e:0:1:-1")]);
        Assert.False(RepartitionCodec.TryDecode(null, broken.Value, broken.Headers, out _, out var unreadable));
        Assert.False(string.IsNullOrEmpty(unreadable.Text));
    }

    [Fact]
    public void Watermarks_and_their_floors_read_back_with_idle_partitions()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_714_557_600_000);
        var record = Read(RepartitionCodec.Watermark(new Dictionary<int, DateTimeOffset?> { [0] = at, [1] = null }, new Dictionary<int, long> { [0] = 42 }));

        Assert.Equal(RepartitionKind.Watermark, record.Kind);
        Assert.Equal(at, record.Watermarks![0]);
        Assert.Null(record.Watermarks[1]);
        Assert.Equal(42, record.Floors![0]);
    }

    [Fact]
    public void The_same_report_for_every_partition_reads_back_the_same_and_the_next_report_reads_as_itself()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_714_557_600_000);
        var report = RepartitionCodec.Watermark(new Dictionary<int, DateTimeOffset?> { [0] = at, [1] = null }, new Dictionary<int, long> { [0] = 42 });
        var again = RepartitionCodec.WatermarkAgain(report);
        var later = RepartitionCodec.Watermark(new Dictionary<int, DateTimeOffset?> { [0] = at.AddSeconds(1), [1] = at }, new Dictionary<int, long> { [0] = 43 });

        Assert.NotSame(report, again);
        Assert.Equal(report.Value, again.Value);
        Assert.Equal(report.Headers.Select(h => (h.Key, h.GetValueBytes())), again.Headers.Select(h => (h.Key, h.GetValueBytes())));
        foreach (var message in new[] { report, again, later, again })
        {
            var record = Read(message);
            var expected = message == later ? (Zero: at.AddSeconds(1), One: (DateTimeOffset?)at, Floor: 43L) : (Zero: at, One: null, Floor: 42L);
            Assert.Equal(RepartitionKind.Watermark, record.Kind);
            Assert.Equal(expected.Zero, record.Watermarks![0]);
            Assert.Equal(expected.One, record.Watermarks[1]);
            Assert.Equal(expected.Floor, record.Floors![0]);
        }

        // A reader that reuses its buffer for the next report does not get the last one's values back.
        var buffer = Encoding.ASCII.GetBytes("0=1714557600000;1=idle");
        Assert.Equal(at, Read(new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = buffer, Headers = later.Headers }).Watermarks![0]);
        Encoding.ASCII.GetBytes("0=1714557600001;1=idle").CopyTo(buffer, 0);
        Assert.Equal(at.AddMilliseconds(1), Read(new Confluent.Kafka.Message<byte[]?, byte[]?> { Value = buffer, Headers = later.Headers }).Watermarks![0]);
    }

    [Theory]
    [InlineData("0=1714557600000;1=idle;;", true)]
    [InlineData("0=1714557600000@42", true)]
    [InlineData("0=soon", false)]
    [InlineData("x=1714557600000", false)]
    [InlineData("0=1=2", false)]
    [InlineData("0", false)]
    [InlineData("=5", false)]
    [InlineData("0=5@", false)]
    [InlineData("0=5@4@2", false)]
    [InlineData("0=-5@-1", false)]
    public void A_watermark_record_is_read_whole_or_refused_with_the_pair_it_could_not_read(string text, bool readable)
    {
        var message = RepartitionCodec.Watermark(new Dictionary<int, DateTimeOffset?>(), new Dictionary<int, long>());
        var decoded = RepartitionCodec.TryDecode(message.Key, Encoding.ASCII.GetBytes(text), message.Headers, out var record, out var failure);

        Assert.Equal(readable, decoded);
        if (readable)
        {
            Assert.Equal(RepartitionKind.Watermark, record!.Kind);
        }
        else
        {
            Assert.StartsWith("unreadable watermark record '", failure.Text, StringComparison.Ordinal);
        }
    }

    private static RepartitionRecord Read(Confluent.Kafka.Message<byte[]?, byte[]?> message)
    {
        Assert.True(RepartitionCodec.TryDecode(message.Key, message.Value, message.Headers, out var record, out var failure), failure.Text);
        return record!;
    }
}

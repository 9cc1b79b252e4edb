using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Kafka;

/// <summary>What a record of the engine's repartition topic carries.</summary>
public enum RepartitionKind
{
    /// <summary>A sensor event that area rules want, keyed by its area.</summary>
    Event,

    /// <summary>A fact from a sensor rule for its area's rules, keyed by the area.</summary>
    Fact,

    /// <summary>How far event time has come on sensor partitions: their watermarks, or that they are idle.</summary>
    Watermark,

    /// <summary>An operations centre's command, forwarded to the partition of the alert's owner.</summary>
    Command,

    /// <summary>
    /// Sensor events that area rules want, of one dispatch batch and one repartition partition, with their origins
    /// (<see cref="RepartitionRecord.Parts"/>): one record for what would be as many <see cref="Event"/> records.
    /// </summary>
    Events,
}

/// <summary>The owner of an open alert: a sensor's rules or an area's, and the partition (task) where it lives.</summary>
/// <param name="IsArea">Whether an area's rules own it (else a sensor's).</param>
/// <param name="Key">The sensor id or area id.</param>
/// <param name="Partition">The partition of the owner: its sensor-events partition, or its area's repartition partition.</param>
public sealed record AlertOwner(bool IsArea, string Key, int Partition);

/// <summary>One decoded record of the repartition topic.</summary>
/// <param name="Kind">What it carries.</param>
/// <param name="Event">For <see cref="RepartitionKind.Event"/>: the event.</param>
/// <param name="Fact">For <see cref="RepartitionKind.Fact"/>: the fact.</param>
/// <param name="Watermarks">For <see cref="RepartitionKind.Watermark"/>: per sensor partition its watermark, or null when idle.</param>
/// <param name="Command">For <see cref="RepartitionKind.Command"/>: the command.</param>
/// <param name="Owner">For <see cref="RepartitionKind.Command"/>: who holds the alert.</param>
/// <param name="OwnerArea">For <see cref="RepartitionKind.Command"/>: the owner's area.</param>
/// <param name="CommandSource">For <see cref="RepartitionKind.Command"/>: where the operations centre wrote it (for its dead letter).</param>
/// <param name="Origin">For events and facts: what caused it (<see cref="RepartitionCodec.EventOrigin"/>,
/// <see cref="RepartitionCodec.TimerOrigin"/>), the same when a crash or rebalance makes it be written again.</param>
/// <param name="Floors">For <see cref="RepartitionKind.Watermark"/>: per sensor partition, the offset below which every
/// event's records were written before this one.</param>
/// <param name="Parts">For <see cref="RepartitionKind.Events"/>: its events, in the order written, each an
/// <see cref="RepartitionKind.Event"/> with its origin and <paramref name="ContractJson"/>.</param>
/// <param name="ContractJson">For an event of an <see cref="RepartitionKind.Events"/> record: its bytes as consumed (what
/// a dead letter of it carries).</param>
public sealed record RepartitionRecord(
    RepartitionKind Kind,
    SensorEvent? Event = null,
    Fact? Fact = null,
    IReadOnlyDictionary<int, DateTimeOffset?>? Watermarks = null,
    AlertCommand? Command = null,
    AlertOwner? Owner = null,
    RecordSource? CommandSource = null,
    string? OwnerArea = null,
    string? Origin = null,
    IReadOnlyDictionary<int, long>? Floors = null,
    IReadOnlyList<RepartitionRecord>? Parts = null,
    byte[]? ContractJson = null)
{
    /// <summary>The event time it carries (an event's or a fact's); null for watermarks and commands.</summary>
    public DateTimeOffset? EventTime => Event?.Timestamp ?? Fact?.EventTime;
}

/// <summary>
/// The records of the repartition topic (docs/architecture.md, "Scale-out"). Events are their contract JSON (v1),
/// facts the same shape (the fact's name as <c>type</c>, its sensor as <c>sensorId</c>), watermarks a line
/// <c>partition=unixMs|idle;…</c>, commands the operations centre's bytes as they came, and the events of one dispatch
/// batch for one partition a list of them (<see cref="Events"/>); the header <c>kommune-kind</c> says which.
/// </summary>
public static class RepartitionCodec
{
    // How many of the watermark reports last decoded on a thread (a consume loop's) it keeps, with their bytes: see
    // DecodeWatermark. A fetch brings each partition's new records in turn, so the same few reports come again and again.
    private const int RecentWatermarks = 16;

    [ThreadStatic]
    private static (byte[] Value, RepartitionRecord Record)[]? t_recentWatermarks;

    [ThreadStatic]
    private static int t_nextRecentWatermark;

    /// <summary>The header naming the kind.</summary>
    public const string KindHeader = "kommune-kind";

    /// <summary>On a command: <c>sensor</c> or <c>area</c>.</summary>
    public const string OwnerScopeHeader = "kommune-owner-scope";

    /// <summary>On a command: the owner's sensor or area id.</summary>
    public const string OwnerKeyHeader = "kommune-owner-key";

    /// <summary>On a command: the owner's area (a sensor's actor lives under its area's).</summary>
    public const string OwnerAreaHeader = "kommune-owner-area";

    /// <summary>On a command: <c>topic/partition/offset</c> of the operations centre's record.</summary>
    public const string SourceHeader = "kommune-source";

    /// <summary>On an event or fact: its <see cref="RepartitionRecord.Origin"/>.</summary>
    public const string OriginHeader = "kommune-origin";

    /// <summary>
    /// The origin of the <paramref name="index"/>th repartition record written while handling the event at
    /// <paramref name="offset"/> of sensor partition <paramref name="partition"/>: <c>e:partition:offset:index</c>.
    /// </summary>
    public static string EventOrigin(int partition, long offset, int index)
    {
        Span<char> written = stackalloc char[MaxEventOriginLength];
        TryWriteEventOrigin(written, partition, offset, index, out var length);
        return new string(written[..length]);
    }

    /// <summary>The longest <see cref="EventOrigin"/> there is, in characters.</summary>
    public const int MaxEventOriginLength = 48;

    /// <summary>
    /// Writes <see cref="EventOrigin"/> into <paramref name="destination"/> without making a string; false when it does
    /// not fit (it always fits in <see cref="MaxEventOriginLength"/>).
    /// </summary>
    public static bool TryWriteEventOrigin(Span<char> destination, int partition, long offset, int index, out int length) =>
        destination.TryWrite(CultureInfo.InvariantCulture, $"e:{partition}:{offset}:{index}", out length);

    /// <summary>
    /// The origin of a fact a timer made: <c>t:key:name:eventTimeMs:n</c>, the <paramref name="index"/>th fact of that
    /// name and event time from <paramref name="key"/> in one firing.
    /// </summary>
    public static string TimerOrigin(string key, string name, DateTimeOffset eventTime, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"t:{key}:{name}:{eventTime.ToUnixTimeMilliseconds()}:{index}");

    private static readonly SensorEventDecoder Decoder = new(
        new SensorEventLimits(int.MaxValue, TimeSpan.FromDays(365 * 100)) { EarliestEventTime = DateTimeOffset.UnixEpoch },
        TimeProvider.System);

    /// <summary>A sensor event for its area's rules, with its <paramref name="origin"/>.</summary>
    public static Message<byte[]?, byte[]?> Event(SensorEvent sensorEvent, string origin)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        ArgumentException.ThrowIfNullOrEmpty(origin);
        return Message(RepartitionKind.Event, sensorEvent.AreaId, SensorEventEncoder.Encode(sensorEvent), origin);
    }

    /// <summary>
    /// A sensor event for its area's rules as the bytes it was consumed in (<paramref name="contractJson"/>, which this
    /// engine decoded into an event of <paramref name="areaId"/>), with its <paramref name="origin"/>: not encoded again.
    /// </summary>
    public static Message<byte[]?, byte[]?> Event(string areaId, byte[] contractJson, string origin)
    {
        ArgumentException.ThrowIfNullOrEmpty(areaId);
        ArgumentNullException.ThrowIfNull(contractJson);
        ArgumentException.ThrowIfNullOrEmpty(origin);
        return Message(RepartitionKind.Event, areaId, contractJson, origin);
    }

    /// <summary>
    /// Sensor events for the area rules of one repartition partition, possibly of several areas, each as the bytes it was
    /// consumed in (contract JSON that this engine decoded) with its origin: one record for what one dispatch batch sends
    /// to that partition, in the batch's order. Binary: the count, then per event the origin and the JSON, each as a
    /// 32-bit little-endian length and its bytes. No key: the partition is chosen by the area, and each event names it.
    /// </summary>
    public static Message<byte[]?, byte[]?> Events(IReadOnlyList<(byte[] ContractJson, string Origin)> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentOutOfRangeException.ThrowIfLessThan(events.Count, 1);
        var size = 4;
        foreach (var (json, origin) in events)
        {
            ArgumentNullException.ThrowIfNull(json);
            ArgumentException.ThrowIfNullOrEmpty(origin);
            size += 8 + Encoding.UTF8.GetByteCount(origin) + json.Length;
        }

        var value = new byte[size];
        BinaryPrimitives.WriteInt32LittleEndian(value, events.Count);
        var at = 4;
        foreach (var (json, origin) in events)
        {
            var length = Encoding.UTF8.GetBytes(origin, value.AsSpan(at + 4));
            BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(at), length);
            at += 4 + length;
            BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(at), json.Length);
            json.CopyTo(value.AsSpan(at + 4));
            at += 4 + json.Length;
        }

        return new Message<byte[]?, byte[]?> { Value = value, Headers = [new Header(KindHeader, EventsKind)] };
    }

    private static RepartitionRecord? DecodeEvents(byte[]? value, out DecodeFailure failure)
    {
        failure = default;
        var bytes = value.AsSpan();
        var count = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(bytes) : 0;
        if (count < 1 || count > (bytes.Length - 4) / 8)
        {
            failure = new(DeadLetterCode.Other, $"unreadable events record: {count} events in {bytes.Length} bytes");
            return null;
        }

        var parts = new RepartitionRecord[count];
        var at = 4;
        for (var i = 0; i < count; i++)
        {
            if (!TryTake(bytes, ref at, out var origin) || !TryTake(bytes, ref at, out var json) || origin.IsEmpty)
            {
                failure = new(DeadLetterCode.Other, $"unreadable events record: event {i + 1} of {count} is cut short or has no origin");
                return null;
            }

            var contractJson = json.ToArray();
            if (!Decoder.TryDecode(null, contractJson, out var e, out failure))
            {
                return null;
            }

            parts[i] = new RepartitionRecord(RepartitionKind.Event, Event: e, Origin: Encoding.UTF8.GetString(origin), ContractJson: contractJson);
        }

        if (at != bytes.Length)
        {
            failure = new(DeadLetterCode.Other, $"unreadable events record: {bytes.Length - at} bytes after its {count} events");
            return null;
        }

        return new RepartitionRecord(RepartitionKind.Events, Parts: parts);
    }

    // A 32-bit little-endian length and that many bytes, at 'at'; false when they are not all there.
    private static bool TryTake(ReadOnlySpan<byte> bytes, ref int at, out ReadOnlySpan<byte> taken)
    {
        taken = default;
        if (bytes.Length - at < 4)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        if (length < 0 || length > bytes.Length - at - 4)
        {
            return false;
        }

        taken = bytes.Slice(at + 4, length);
        at += 4 + length;
        return true;
    }

    /// <summary>A fact for its area's rules, with its <paramref name="origin"/>.</summary>
    public static Message<byte[]?, byte[]?> Fact(Fact fact, string origin)
    {
        ArgumentNullException.ThrowIfNull(fact);
        ArgumentException.ThrowIfNullOrEmpty(origin);
        var asEvent = new SensorEvent(fact.SensorId, fact.AreaId, fact.Name, fact.EventTime, fact.Values);
        return Message(RepartitionKind.Fact, fact.AreaId, SensorEventEncoder.Encode(asEvent), origin);
    }

    /// <summary>
    /// The watermarks of sensor partitions (null: idle) and their floors (the offset below which every event's records
    /// were written before this record): <c>partition=unixMs|idle@floor;…</c>.
    /// </summary>
    public static Message<byte[]?, byte[]?> Watermark(IReadOnlyDictionary<int, DateTimeOffset?> watermarks, IReadOnlyDictionary<int, long>? floors = null)
    {
        ArgumentNullException.ThrowIfNull(watermarks);
        var text = string.Join(';', watermarks.OrderBy(w => w.Key).Select(w => string.Create(
            CultureInfo.InvariantCulture,
            $"{w.Key}={(w.Value is { } time ? time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : "idle")}{(floors is not null && floors.TryGetValue(w.Key, out var floor) ? "@" + floor.ToString(CultureInfo.InvariantCulture) : "")}")));
        return Message(RepartitionKind.Watermark, null, Encoding.ASCII.GetBytes(text));
    }

    /// <summary>
    /// The same watermark report as <paramref name="report"/> (made by <see cref="Watermark"/>), for another partition:
    /// a record of its own that shares the encoded value. A node writes each report to every repartition partition, so
    /// it is encoded once, not once per partition.
    /// </summary>
    public static Message<byte[]?, byte[]?> WatermarkAgain(Message<byte[]?, byte[]?> report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return Message(RepartitionKind.Watermark, null, report.Value ?? []);
    }

    /// <summary>Whether a record is a watermark report (bookkeeping that moves area time, not work of its own).</summary>
    public static bool IsWatermark(Message<byte[]?, byte[]?> message) =>
        message?.Headers is { } headers
        && headers.TryGetLastBytes(KindHeader, out var kind)
        && kind.AsSpan().SequenceEqual("watermark"u8);

    /// <summary>A command forwarded to the partition of its alert's owner.</summary>
    public static Message<byte[]?, byte[]?> Command(byte[]? key, byte[]? value, AlertOwner owner, string ownerArea, RecordSource source)
    {
        ArgumentNullException.ThrowIfNull(ownerArea);
        ArgumentNullException.ThrowIfNull(owner);
        var message = new Message<byte[]?, byte[]?>
        {
            Key = key,
            Value = value,
            Headers =
            [
                new Header(KindHeader, "command"u8.ToArray()),
                new Header(OwnerScopeHeader, owner.IsArea ? "area"u8.ToArray() : "sensor"u8.ToArray()),
                new Header(OwnerKeyHeader, Encoding.UTF8.GetBytes(owner.Key)),
                new Header(OwnerAreaHeader, Encoding.UTF8.GetBytes(ownerArea)),
                new Header(SourceHeader, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{source.Topic}/{source.Partition}/{source.Offset}"))),
            ],
        };
        return message;
    }

    /// <summary>Reads a record of the repartition topic.</summary>
    /// <returns>
    /// false, with why, for a record this engine cannot read (written by another version, or damaged): an event's or a
    /// command's own decoder's code, or <see cref="DeadLetterCode.Other"/> for what only this topic has (its kind, its
    /// headers, a watermark record).
    /// </returns>
    public static bool TryDecode(byte[]? key, byte[]? value, Headers? headers, out RepartitionRecord? record, out DecodeFailure failure)
    {
        try
        {
            return Decode(key, value, headers, out record, out failure);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            record = null;
            failure = new(DeadLetterCode.Other, $"unreadable repartition record: {e.Message}");
            return false;
        }
    }

    private static bool Decode(byte[]? key, byte[]? value, Headers? headers, out RepartitionRecord? record, out DecodeFailure failure)
    {
        record = null;
        failure = default;
        switch (Header(headers, KindHeader))
        {
            case "event":
                if (Decoder.TryDecode(null, value, out var e, out failure))
                {
                    record = new RepartitionRecord(RepartitionKind.Event, Event: e, Origin: Header(headers, OriginHeader));
                }

                break;
            case "fact":
                if (Decoder.TryDecode(null, value, out var asEvent, out failure))
                {
                    record = new RepartitionRecord(RepartitionKind.Fact, Fact: new Fact(asEvent!.Type, asEvent.SensorId, asEvent.AreaId, asEvent.Timestamp, asEvent.Values), Origin: Header(headers, OriginHeader));
                }

                break;
            case "watermark":
                record = DecodeWatermark(value, out failure);
                break;
            case "events":
                record = DecodeEvents(value, out failure);
                break;
            case "command":
                record = DecodeCommand(key, value, headers, out failure);
                break;
            default:
                failure = new(DeadLetterCode.Other, $"repartition record of unknown kind '{Header(headers, KindHeader)}'");
                break;
        }

        return record is not null;
    }

    private static RepartitionRecord? DecodeCommand(byte[]? key, byte[]? value, Headers? headers, out DecodeFailure failure)
    {
        var scope = Header(headers, OwnerScopeHeader);
        var owner = Header(headers, OwnerKeyHeader);
        var area = Header(headers, OwnerAreaHeader);
        var source = Header(headers, SourceHeader)?.Split('/') is [.. var topic, var partition, var offset]
            && int.TryParse(partition, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p)
            && long.TryParse(offset, NumberStyles.Integer, CultureInfo.InvariantCulture, out var o)
                ? new RecordSource(string.Join('/', topic), p, o, key, value)
                : (RecordSource?)null;
        if (scope is not ("sensor" or "area") || owner is null || area is null || source is null)
        {
            failure = new(DeadLetterCode.Other, "forwarded command without its owner or source");
            return null;
        }

        if (!AlertCommandDecoder.TryDecode(key, value, out var command, out failure))
        {
            return null;
        }

        return new RepartitionRecord(RepartitionKind.Command, Command: command, Owner: new AlertOwner(scope == "area", owner, -1), CommandSource: source, OwnerArea: area);
    }

    /// <summary>
    /// A watermark report. Each node writes every report to every repartition partition, so a consume loop reads the same
    /// bytes once per partition it holds: one the same as any of the last few parsed on this thread is not parsed again
    /// (its dictionaries are read-only, so the records share them).
    /// </summary>
    private static RepartitionRecord? DecodeWatermark(byte[]? value, out DecodeFailure failure)
    {
        failure = default;
        var recent = t_recentWatermarks ??= new (byte[], RepartitionRecord)[RecentWatermarks];
        if (value is not null)
        {
            foreach (var (seen, decoded) in recent)
            {
                // Reports differ within their first entries, so a report that is not this one is passed over early.
                if (seen is not null && value.AsSpan().SequenceEqual(seen))
                {
                    return decoded with { };
                }
            }
        }

        var floors = new Dictionary<int, long>();
        if (ParseWatermarks(value, floors, out failure) is not { } watermarks)
        {
            return null;
        }

        var record = new RepartitionRecord(RepartitionKind.Watermark, Watermarks: watermarks, Floors: floors);
        if (value is not null)
        {
            recent[t_nextRecentWatermark] = (value.ToArray(), record); // a copy: the caller may reuse its buffer
            t_nextRecentWatermark = (t_nextRecentWatermark + 1) % RecentWatermarks;
        }

        return record;
    }

    private static DecodeFailure Unreadable(ReadOnlySpan<char> pair) => new(DeadLetterCode.Other, $"unreadable watermark record '{pair}'");

    private static Dictionary<int, DateTimeOffset?>? ParseWatermarks(byte[]? value, Dictionary<int, long> floors, out DecodeFailure failure)
    {
        failure = default;
        var watermarks = new Dictionary<int, DateTimeOffset?>();
        // Read as spans: every node reads the watermark records of every node (one per partition, up to 20 a second), so
        // this runs on the consume loop's thread often enough that splitting into strings showed in its profile.
        ReadOnlySpan<char> text = Encoding.ASCII.GetString(value ?? []);
        foreach (var range in text.Split(';'))
        {
            var pair = text[range];
            if (pair.IsEmpty)
            {
                continue;
            }

            var equals = pair.IndexOf('=');
            var time = equals < 0 ? [] : pair[(equals + 1)..];
            if (equals < 0 || time.Contains('=') || !int.TryParse(pair[..equals], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
            {
                failure = Unreadable(pair);
                return null;
            }

            if (time.IndexOf('@') is var at and >= 0)
            {
                if (!long.TryParse(time[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var floor))
                {
                    failure = Unreadable(pair);
                    return null;
                }

                floors[partition] = floor;
                time = time[..at];
            }

            if (time.SequenceEqual("idle"))
            {
                watermarks[partition] = null;
            }
            else if (long.TryParse(time, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
            {
                watermarks[partition] = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            }
            else
            {
                failure = Unreadable(pair);
                return null;
            }
        }

        return watermarks;
    }

    // Shared by every record: the producer copies header bytes when it takes a record, and nothing writes to them.
    private static readonly byte[] EventKind = "event"u8.ToArray();
    private static readonly byte[] FactKind = "fact"u8.ToArray();
    private static readonly byte[] WatermarkKind = "watermark"u8.ToArray();
    private static readonly byte[] EventsKind = "events"u8.ToArray();

    private static Message<byte[]?, byte[]?> Message(RepartitionKind kind, string? key, byte[] value, string? origin = null)
    {
        var headers = new Headers
        {
            new Header(KindHeader, kind switch
            {
                RepartitionKind.Event => EventKind,
                RepartitionKind.Fact => FactKind,
                _ => WatermarkKind,
            }),
        };
        if (origin is not null)
        {
            headers.Add(OriginHeader, Encoding.UTF8.GetBytes(origin));
        }

        return new Message<byte[]?, byte[]?> { Key = key is null ? null : Encoding.UTF8.GetBytes(key), Value = value, Headers = headers };
    }

    private static string? Header(Headers? headers, string name) =>
        headers?.TryGetLastBytes(name, out var bytes) == true ? Encoding.UTF8.GetString(bytes) : null;
}

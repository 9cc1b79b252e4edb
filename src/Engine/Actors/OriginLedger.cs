using System.Globalization;
using System.Text.Json;
using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Which records of the repartition topic an area's rules have applied, by their origin (what made them: an event at a
/// sensor partition's offset, or a timer), so that a record written again after a rebalance or a crash of the node
/// that wrote it is applied once. Kept with the area's state, so it matches what that state includes.
/// </summary>
/// <remarks>
/// Two things keep it small. Every watermark record carries, per sensor partition, a floor: the offset below which every
/// event's records were written before that watermark record; a record from below a floor seen earlier is one made
/// again, and the origins below it are forgotten. An event's origin is kept until a floor passes it: both tests are
/// exact, so a new record is never taken for one made again. A timer's facts have no floor: their origins are forgotten
/// once the area's watermark is past their event time by more than the given horizon, and the ledger keeps that line, so
/// a timer's fact made again from before it (its origin forgotten) is known as one applied already, also on a node that
/// restored the ledger and does not yet know the area's watermark. Owned by one actor.
/// </remarks>
internal sealed class OriginLedger
{
    private readonly Dictionary<int, long> _floors = [];
    private readonly Dictionary<Origin, long> _seen = []; // origin → event time (Unix ms)
    private long _forgottenBefore = long.MinValue; // event time (Unix ms) before which timers' origins were forgotten
    private long _eventsForgottenBefore = long.MinValue; // the same for events' origins, in a ledger an older version wrote
    private IReadOnlyDictionary<int, long>? _raisedBy;

    /// <summary>How many origins it holds (besides the floors).</summary>
    public int Count => _seen.Count;

    /// <summary>Whether it holds nothing.</summary>
    public bool IsEmpty => _seen.Count == 0 && _floors.Count == 0 && _forgottenBefore == long.MinValue && _eventsForgottenBefore == long.MinValue;

    /// <summary>Raises the floors to a partition's newest ones (ignored when they are the ones it took last).</summary>
    public void Raise(IReadOnlyDictionary<int, long>? floors)
    {
        if (floors is null || ReferenceEquals(floors, _raisedBy))
        {
            return;
        }

        _raisedBy = floors;
        var raised = false;
        foreach (var (partition, floor) in floors)
        {
            if (!_floors.TryGetValue(partition, out var known) || floor > known)
            {
                _floors[partition] = floor;
                raised = true;
            }
        }

        if (raised && _seen.Count > 0)
        {
            foreach (var origin in _seen.Keys.Where(BelowFloor).ToList())
            {
                _seen.Remove(origin);
            }
        }
    }

    /// <summary>
    /// Whether the record with this origin is new, noting it when it is; a record without one (from an older version)
    /// always is. An event's record is not new when its origin was applied or is below its partition's floor. A timer's
    /// fact is not new either when it is from before the line its origins were forgotten at: its origin may have been
    /// among them (and so is an event's, before the line of a ledger an older version wrote). An event's record far
    /// behind the area's time is new here, and the area judges it too late (a dead letter, not a record skipped unseen).
    /// </summary>
    public bool FirstTime(string? origin, DateTimeOffset eventTime)
    {
        if (origin is null)
        {
            return true;
        }

        var time = eventTime.ToUnixTimeMilliseconds();
        var key = Origin.Of(origin);
        if (BelowFloor(key) || time < (key.IsEvent ? _eventsForgottenBefore : _forgottenBefore))
        {
            return false;
        }

        return _seen.TryAdd(key, time);
    }

    /// <summary>
    /// Forgets the origins of timers' facts whose event time is more than <paramref name="horizon"/> behind
    /// <paramref name="watermark"/> (events' origins go only once a floor passes them).
    /// </summary>
    public void Forget(DateTimeOffset watermark, TimeSpan horizon)
    {
        if (watermark == DateTimeOffset.MinValue)
        {
            return;
        }

        var before = (watermark - horizon).ToUnixTimeMilliseconds();
        if (before <= _forgottenBefore)
        {
            return;
        }

        _forgottenBefore = before;
        foreach (var origin in _seen.Where(s => s.Value < before && !s.Key.IsEvent).Select(s => s.Key).ToList())
        {
            _seen.Remove(origin);
        }
    }

    /// <summary>As JSON, for the state record's header; null when empty.</summary>
    public byte[]? ToJson() => IsEmpty ? null : JsonSerializer.SerializeToUtf8Bytes(new Persisted(
        _floors.ToDictionary(f => f.Key.ToString(CultureInfo.InvariantCulture), f => f.Value),
        _seen.ToDictionary(s => s.Key.ToString(), s => s.Value, StringComparer.Ordinal), // in the order they were noted
        _forgottenBefore == long.MinValue ? null : _forgottenBefore,
        EventsKept: true,
        EventsForgottenBefore: _eventsForgottenBefore == long.MinValue ? null : _eventsForgottenBefore));

    /// <summary>Reads what <see cref="ToJson"/> wrote; empty when <paramref name="json"/> is null or unreadable.</summary>
    public static OriginLedger FromJson(byte[]? json)
    {
        var ledger = new OriginLedger();
        if (json is null)
        {
            return ledger;
        }

        try
        {
            var persisted = JsonSerializer.Deserialize<Persisted>(json);
            foreach (var (partition, floor) in persisted?.Floors ?? [])
            {
                if (int.TryParse(partition, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                {
                    ledger._floors[p] = floor;
                }
            }

            foreach (var (origin, time) in persisted?.Seen ?? [])
            {
                ledger._seen[Origin.Of(origin)] = time;
            }

            ledger._forgottenBefore = persisted?.ForgottenBefore ?? long.MinValue;
            // An older version forgot events' origins at its line too: before that line an event's record may be one applied.
            ledger._eventsForgottenBefore = persisted?.EventsKept == true
                ? persisted.EventsForgottenBefore ?? long.MinValue
                : ledger._forgottenBefore;
        }
        catch (JsonException)
        {
            // An unreadable ledger is an empty one: at worst a record made again is applied twice.
        }

        return ledger;
    }

    /// <summary>An event's origin whose offset is below its partition's floor.</summary>
    private bool BelowFloor(Origin origin) =>
        origin.EventOffset is { } offset && _floors.TryGetValue(origin.Partition, out var floor) && offset < floor;

    /// <summary>
    /// An origin as the ledger keeps it. An event's (<c>e:partition:offset:index</c>, one per repartition record) is its
    /// three numbers: the ledger lives as long as its area and takes one for most records, and a string made for each,
    /// kept until a floor passes it, outlived a young-generation collection and marked the ledger's table for the next
    /// ones to scan. A timer's (and any origin not written as <see cref="RepartitionCodec.EventOrigin"/>
    /// writes one) is kept as its text. Either reads back as the text it was made of.
    /// </summary>
    private readonly struct Origin : IEquatable<Origin>
    {
        private readonly string? _text; // null for an event's, which is its numbers
        private readonly long _offset;
        private readonly int _index;

        private Origin(string? text, int partition, long offset, int index)
        {
            _text = text;
            Partition = partition;
            _offset = offset;
            _index = index;
        }

        /// <summary>The sensor partition of an event's origin (of one kept as text, when its text names one).</summary>
        public int Partition { get; }

        /// <summary>The event's offset in <see cref="Partition"/>; null when this is not an event's origin, or names no offset.</summary>
        public long? EventOffset => _text is null || _offset >= 0 ? _offset : null;

        /// <summary>Whether this is an event's origin (<c>e:</c>), which floors cover and time does not forget.</summary>
        public bool IsEvent => _text is null || _text.StartsWith("e:", StringComparison.Ordinal);

        /// <summary><paramref name="text"/> as an origin: as its numbers when it is an event's as the codec writes them.</summary>
        public static Origin Of(string text)
        {
            if (!text.StartsWith("e:", StringComparison.Ordinal))
            {
                return new Origin(text, 0, -1, 0);
            }

            // e:partition:offset:index. What names a partition and an offset is kept with them even when it must stay text,
            // so its floor still covers it.
            var rest = text.AsSpan(2);
            var colon = rest.IndexOf(':');
            if (colon < 0 || !int.TryParse(rest[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
            {
                return new Origin(text, 0, -1, 0);
            }

            rest = rest[(colon + 1)..];
            colon = rest.IndexOf(':');
            if (colon <= 0 || !long.TryParse(rest[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                return new Origin(text, partition, -1, 0);
            }

            if (int.TryParse(rest[(colon + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
            {
                Span<char> written = stackalloc char[RepartitionCodec.MaxEventOriginLength];
                if (RepartitionCodec.TryWriteEventOrigin(written, partition, offset, index, out var length) && written[..length].SequenceEqual(text))
                {
                    return new Origin(null, partition, offset, index); // reads back as the same text
                }
            }

            return new Origin(text, partition, offset, 0);
        }

        public bool Equals(Origin other) => _text is null
            ? other._text is null && Partition == other.Partition && _offset == other._offset && _index == other._index
            : string.Equals(_text, other._text, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is Origin other && Equals(other);

        public override int GetHashCode() => _text?.GetHashCode(StringComparison.Ordinal) ?? HashCode.Combine(Partition, _offset, _index);

        /// <summary>The origin's text, as it was made.</summary>
        public override string ToString() => _text ?? RepartitionCodec.EventOrigin(Partition, _offset, _index);
    }

    /// <param name="Floors">Per sensor partition, the offset below which every event's records were written.</param>
    /// <param name="Seen">The origins applied, with their event times (Unix ms).</param>
    /// <param name="ForgottenBefore">Event time (Unix ms) before which timers' origins were forgotten; absent in ledgers of older versions.</param>
    /// <param name="EventsKept">Written by a version that forgets events' origins only at floors; absent in older ledgers.</param>
    /// <param name="EventsForgottenBefore">Event time (Unix ms) before which an older version forgot events' origins, carried on.</param>
    private sealed record Persisted(
        Dictionary<string, long> Floors,
        Dictionary<string, long> Seen,
        long? ForgottenBefore = null,
        bool? EventsKept = null,
        long? EventsForgottenBefore = null);
}

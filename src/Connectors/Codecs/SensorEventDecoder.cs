using System.Globalization;
using System.Text;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>Limits that a sensor event must respect to be accepted.</summary>
/// <param name="MaxEventBytes">Largest accepted record value, in bytes.</param>
/// <param name="MaxFutureSkew">How far after the engine's clock an event time may lie (sensor clocks drift).</param>
public sealed record SensorEventLimits(int MaxEventBytes, TimeSpan MaxFutureSkew)
{
    /// <summary>The default <see cref="EarliestEventTime"/>: 2000-01-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset DefaultEarliestEventTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>64 KiB per event, event times from 2000 to 1 hour ahead of the engine's clock.</summary>
    public static SensorEventLimits Default { get; } = new(64 * 1024, TimeSpan.FromHours(1));

    /// <summary>
    /// The earliest event time accepted. A sensor whose clock was reset stamps its events 1970-01-01; taken as event
    /// time, one such reading would make a per-minute rule account for every minute since.
    /// </summary>
    public DateTimeOffset EarliestEventTime { get; init; } = DefaultEarliestEventTime;
}

/// <summary>
/// Decodes event contract v1 (docs/events.md) with <see cref="Utf8JsonReader"/>: no reflection, one pass. Every
/// refusal comes with its <see cref="DeadLetterCode"/> and a one-line reason for the dead-letter topic. The strings a stream repeats (ids, types, value
/// names, short texts) are made once and reused, and an event's values are two small arrays whose names are shared
/// by every event of the same shape: what a decoded event allocates is the event and its values. Not thread-safe:
/// one consume loop owns a decoder.
/// </summary>
public sealed class SensorEventDecoder(SensorEventLimits limits, TimeProvider clock)
{
    private const int MaxIdLength = 256;

    /// <summary>Ids, types and value names kept (a million sensors' ids and their areas fit).</summary>
    private const int MaxKeptStrings = 2_000_000;

    /// <summary>Values with more names than this are kept in a dictionary instead.</summary>
    private const int MaxCompactValues = 16;

    /// <summary>Value shapes (the names in order) kept.</summary>
    private const int MaxShapes = 64;

    private readonly Utf8StringCache _strings = new(MaxKeptStrings);
    private readonly Utf8StringCache _texts = new(10_000);
    private readonly List<string[]> _shapes = [];
    private readonly string[] _names = new string[MaxCompactValues];
    private readonly SensorValue[] _values = new SensorValue[MaxCompactValues];

    /// <summary>
    /// Whether the values of an event of an area (first argument) and type (second) will be read, or null (always). When
    /// it says no, the values are checked as always (a bad one refuses the record) but kept as their JSON, read on first
    /// use: an event no rule takes costs no value objects. Asked only when the record has its area and type before its
    /// values (as the engine's producers write them).
    /// </summary>
    public Func<string, string, bool>? ValuesWanted { get; init; }

    /// <summary>A decoder with <see cref="SensorEventLimits.Default"/> and the system clock.</summary>
    public SensorEventDecoder()
        : this(SensorEventLimits.Default, TimeProvider.System)
    {
    }

    /// <summary>Decodes one record.</summary>
    /// <param name="key">The record key (should be the sensorId), or null.</param>
    /// <param name="value">The record value, or null for a tombstone.</param>
    /// <param name="sensorEvent">The event, when decoding succeeded.</param>
    /// <param name="failure">Why the record was refused, when it failed (its code and text); <c>default</c> when it did not.</param>
    /// <returns>true when the record is a valid event.</returns>
    public bool TryDecode(byte[]? key, byte[]? value, out SensorEvent? sensorEvent, out DecodeFailure failure)
    {
        sensorEvent = null;
        if (value is null)
        {
            failure = new(DeadLetterCode.NullValue, "record value is null");
            return false;
        }

        if (value.Length > limits.MaxEventBytes)
        {
            failure = new(DeadLetterCode.TooLarge, $"record value is {value.Length} bytes, over the limit of {limits.MaxEventBytes} bytes");
            return false;
        }

        DecodeFailure? refused;
        try
        {
            refused = Parse(value, out sensorEvent);
        }
        catch (JsonException e)
        {
            refused = new(DeadLetterCode.MalformedJson, $"malformed JSON: {OneLine(e.Message)}");
        }
        catch (InvalidOperationException e)
        {
            refused = new(DeadLetterCode.MalformedJson, $"malformed JSON: {OneLine(e.Message)}");
        }

        if (refused is null && key is not null && sensorEvent is not null)
        {
            refused = CheckKey(key, sensorEvent.SensorId);
        }

        if (refused is { } why)
        {
            sensorEvent = null;
            failure = why;
            return false;
        }

        failure = default;
        return true;
    }

    private DecodeFailure? Parse(ReadOnlySpan<byte> json, out SensorEvent? sensorEvent)
    {
        sensorEvent = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return new(DeadLetterCode.NotAnObject, "record value is not a JSON object");
        }

        string? sensorId = null, areaId = null, type = null;
        DateTimeOffset? ts = null;
        IReadOnlyDictionary<string, SensorValue>? values = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("sensorId"u8))
            {
                if (ReadId(ref reader, "sensorId", out sensorId) is { } error)
                {
                    return error;
                }
            }
            else if (reader.ValueTextEquals("areaId"u8))
            {
                if (ReadId(ref reader, "areaId", out areaId) is { } error)
                {
                    return error;
                }
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                if (ReadId(ref reader, "type", out type) is { } error)
                {
                    return error;
                }
            }
            else if (reader.ValueTextEquals("ts"u8))
            {
                if (ReadTimestamp(ref reader, out ts) is { } error)
                {
                    return error;
                }
            }
            else if (reader.ValueTextEquals("values"u8))
            {
                var keep = areaId is null || type is null || ValuesWanted is not { } wanted || wanted(areaId, type);
                var start = (int)reader.BytesConsumed;
                if (ReadValues(ref reader, out values, keep) is { } error)
                {
                    return error;
                }

                if (!keep && values is null && reader.TokenType == JsonTokenType.EndObject)
                {
                    var slice = json[start..(int)reader.BytesConsumed];
                    values = new DeferredValues(slice[slice.IndexOf((byte)'{')..].ToArray());
                }
            }
            else
            {
                // Unknown fields are skipped: newer producers may add fields that this version ignores.
                reader.Read();
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            return new(DeadLetterCode.MalformedJson, "malformed JSON: the object is not closed");
        }

        if (reader.Read())
        {
            return new(DeadLetterCode.MalformedJson, "malformed JSON: data after the end of the object");
        }

        if (sensorId is null)
        {
            return new(DeadLetterCode.MissingField, "missing field 'sensorId'");
        }

        if (areaId is null)
        {
            return new(DeadLetterCode.MissingField, "missing field 'areaId'");
        }

        if (type is null)
        {
            return new(DeadLetterCode.MissingField, "missing field 'type'");
        }

        if (ts is null)
        {
            return new(DeadLetterCode.MissingField, "missing field 'ts'");
        }

        if (ts.Value < limits.EarliestEventTime)
        {
            return new(DeadLetterCode.TooOldTimestamp, $"field 'ts' ({ts.Value.UtcDateTime:O}) is before the earliest accepted event time {limits.EarliestEventTime.UtcDateTime:O} (a sensor clock that was reset?)");
        }

        var latest = clock.GetUtcNow() + limits.MaxFutureSkew;
        if (ts.Value > latest)
        {
            return new(DeadLetterCode.FutureTimestamp, $"field 'ts' ({ts.Value.UtcDateTime:O}) is more than {limits.MaxFutureSkew} after the engine's clock");
        }

        sensorEvent = new SensorEvent(sensorId, areaId, type, ts.Value, values ?? EmptyValues);
        return null;
    }

    private static readonly IReadOnlyDictionary<string, SensorValue> EmptyValues =
        new Dictionary<string, SensorValue>(0);

    /// <summary>The current string token's text, from <paramref name="cache"/> when it can be.</summary>
    private static string ReadString(ref Utf8JsonReader reader, Utf8StringCache cache) =>
        !reader.ValueIsEscaped && !reader.HasValueSequence && cache.Get(reader.ValueSpan) is { } text
            ? text
            : reader.GetString()!; // unescapes, or refuses invalid UTF-8 as before

    private DecodeFailure? ReadId(ref Utf8JsonReader reader, string field, out string? id)
    {
        id = null;
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            return new(DeadLetterCode.WrongType, $"field '{field}' must be a string, not {Describe(reader.TokenType)}");
        }

        id = ReadString(ref reader, _strings);
        if (string.IsNullOrWhiteSpace(id))
        {
            return new(DeadLetterCode.BadId, $"field '{field}' is empty");
        }

        if (id.Length > MaxIdLength)
        {
            return new(DeadLetterCode.BadId, $"field '{field}' is longer than {MaxIdLength} characters");
        }

        // Printable ASCII (the ids a stream repeats) is checked at once; other text a character at a time.
        if (id.AsSpan().ContainsAnyExceptInRange(' ', '~') && id.Any(IsUnprintable))
        {
            return new(DeadLetterCode.BadId, $"field '{field}' contains control or line-break characters");
        }

        return null;
    }

    private static DecodeFailure? ReadTimestamp(ref Utf8JsonReader reader, out DateTimeOffset? ts)
    {
        ts = null;
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (!reader.TryGetInt64(out var millis))
                {
                    return new(DeadLetterCode.BadTimestamp, "field 'ts' must be whole epoch milliseconds");
                }

                if (millis < 0 || millis > 253_402_300_799_999)
                {
                    return new(DeadLetterCode.BadTimestamp, $"field 'ts' ({millis}) is outside the range of dates");
                }

                ts = DateTimeOffset.FromUnixTimeMilliseconds(millis);
                return null;
            case JsonTokenType.String:
                var text = reader.GetString()!;
                // RFC 3339 requires an offset (Z or +hh:mm): a local time without one is ambiguous.
                if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)
                    || !HasOffset(text))
                {
                    return new(DeadLetterCode.BadTimestamp, $"field 'ts' ('{Truncate(text)}') is not an RFC 3339 time with an offset");
                }

                ts = parsed;
                return null;
            default:
                return new(DeadLetterCode.BadTimestamp, $"field 'ts' must be an RFC 3339 string or epoch milliseconds, not {Describe(reader.TokenType)}");
        }
    }

    private static bool HasOffset(string text)
    {
        var t = text.IndexOf('T', StringComparison.OrdinalIgnoreCase);
        if (t < 0)
        {
            return false;
        }

        var time = text.AsSpan(t);
        return time.EndsWith("Z", StringComparison.OrdinalIgnoreCase) || time.Contains('+') || time.Contains('-');
    }

    /// <summary>
    /// Reads and checks the values object; with <paramref name="keep"/> false it only checks them (no value objects, no
    /// strings but for a refusal's text) and leaves <paramref name="values"/> null.
    /// </summary>
    private DecodeFailure? ReadValues(ref Utf8JsonReader reader, out IReadOnlyDictionary<string, SensorValue>? values, bool keep = true)
    {
        values = null;
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return new(DeadLetterCode.WrongType, $"field 'values' must be an object, not {Describe(reader.TokenType)}");
        }

        // Up to MaxCompactValues names are gathered in the decoder's scratch arrays; more move to a dictionary.
        Dictionary<string, SensorValue>? many = null;
        var count = 0;
        if (!keep)
        {
            return CheckValues(ref reader);
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = ReadString(ref reader, _strings);
            reader.Read();
            SensorValue value;
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    if (!reader.TryGetDouble(out var number) || !double.IsFinite(number))
                    {
                        return new(DeadLetterCode.NotFinite, $"value '{Truncate(name)}' is not a finite number");
                    }

                    value = SensorValue.FromNumber(number);
                    break;
                case JsonTokenType.String:
                    value = SensorValue.FromText(ReadString(ref reader, _texts));
                    break;
                case JsonTokenType.True:
                case JsonTokenType.False:
                    value = SensorValue.FromBoolean(reader.GetBoolean());
                    break;
                default:
                    return new(DeadLetterCode.NestedValue, $"value '{Truncate(name)}' must be a number, string or boolean, not {Describe(reader.TokenType)}");
            }

            if (many is not null)
            {
                many[name] = value;
                continue;
            }

            var at = Array.IndexOf(_names, name, 0, count); // a repeated name keeps its place and takes the last value
            if (at >= 0)
            {
                _values[at] = value;
            }
            else if (count < MaxCompactValues)
            {
                _names[count] = name;
                _values[count++] = value;
            }
            else
            {
                many = new Dictionary<string, SensorValue>(StringComparer.Ordinal);
                for (var i = 0; i < count; i++)
                {
                    many[_names[i]] = _values[i];
                }

                many[name] = value;
            }
        }

        values = many ?? (count == 0 ? EmptyValues : DecodedValues.Of(Shape(count), _values.AsSpan(0, count)));
        return null;
    }

    /// <summary>Checks a values object as <see cref="ReadValues"/> does, from just after its start, without keeping anything.</summary>
    private static DecodeFailure? CheckValues(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped || !System.Text.Unicode.Utf8.IsValid(reader.ValueSpan))
            {
                _ = reader.GetString(); // unescapes, or refuses invalid UTF-8 as ReadString does
            }

            var nameAt = reader;
            reader.Read();
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    if (!IsSurelyFinite(reader.ValueSpan) && (!reader.TryGetDouble(out var number) || !double.IsFinite(number)))
                    {
                        return new(DeadLetterCode.NotFinite, $"value '{Truncate(nameAt.GetString()!)}' is not a finite number");
                    }

                    break;
                case JsonTokenType.String:
                    if (reader.ValueIsEscaped || !System.Text.Unicode.Utf8.IsValid(reader.ValueSpan))
                    {
                        _ = reader.GetString();
                    }

                    break;
                case JsonTokenType.True:
                case JsonTokenType.False:
                    break;
                default:
                    return new(DeadLetterCode.NestedValue, $"value '{Truncate(nameAt.GetString()!)}' must be a number, string or boolean, not {Describe(reader.TokenType)}");
            }
        }

        return null;
    }

    /// <summary>
    /// Whether a JSON number is finite as a double without parsing it: one without an exponent and with fewer than 300
    /// characters is below 10^300 (doubles reach 1.8 × 10^308). Others are parsed.
    /// </summary>
    private static bool IsSurelyFinite(ReadOnlySpan<byte> number) => number.Length < 300 && !number.ContainsAny((byte)'e', (byte)'E');

    /// <summary>The kept names array equal to the first <paramref name="count"/> scratch names (kept anew if new).</summary>
    private string[] Shape(int count)
    {
        var names = _names.AsSpan(0, count);
        foreach (var shape in _shapes)
        {
            if (shape.AsSpan().SequenceEqual(names))
            {
                return shape;
            }
        }

        var made = names.ToArray();
        if (_shapes.Count < MaxShapes)
        {
            _shapes.Add(made);
        }

        return made;
    }

    private static DecodeFailure? CheckKey(byte[] key, string sensorId)
    {
        if (Ascii.Equals(key, sensorId))
        {
            return null;
        }

        // sensorId has at most MaxIdLength characters, so at most 3 UTF-8 bytes each.
        Span<byte> utf8 = stackalloc byte[MaxIdLength * 3];
        if (Encoding.UTF8.TryGetBytes(sensorId, utf8, out var written) && key.AsSpan().SequenceEqual(utf8[..written]))
        {
            return null;
        }

        // A key that differs from sensorId would send one sensor's events to several partitions, out of order.
        var shown = System.Text.Unicode.Utf8.IsValid(key) ? Truncate(Encoding.UTF8.GetString(key)) : Convert.ToBase64String(key.AsSpan(0, Math.Min(key.Length, 48)));
        return new(DeadLetterCode.KeyMismatch, $"record key '{shown}' is not the sensorId '{Truncate(sensorId)}'");
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    /// <summary>Input text as shown in a reason: at most 64 characters, on one line.</summary>
    private static string Truncate(string text)
    {
        var shown = text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 61), "...");
        return shown.Any(IsUnprintable)
            ? string.Create(shown.Length, shown, static (span, s) =>
            {
                for (var i = 0; i < s.Length; i++)
                {
                    span[i] = IsUnprintable(s[i]) ? '?' : s[i];
                }
            })
            : shown;
    }

    private static bool IsUnprintable(char c) =>
        char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}

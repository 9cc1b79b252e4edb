using System.Buffers;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// A key's state written as what changed since a whole copy of it (its base), so that a checkpoint of a large state costs
/// what one event changed and not the whole state (docs/reliability.md, "State records"). The state is the snapshot JSON
/// the engine persists: <c>{…, "rules": [{"name": …, "values": {cell: value, …}, …}, …]}</c>. A delta is that same
/// document in which a cell whose value is a JSON object may be <em>partial</em>: it holds only the properties whose
/// JSON differs from the base's same cell, and its rule lists it under <c>"partial"</c>. Everything else (the rule list,
/// open alerts, timers, cells that are not objects) is written whole, so a delta read without its base is never
/// mistaken for a state: it names its base, and <see cref="Apply"/> needs it.
/// </summary>
/// <remarks>
/// A delta is cumulative (against the base, not the delta before it), so the newest delta and its base are all a
/// restore needs, also on a compacted topic where the base lives under a key of its own.
/// </remarks>
public static class StateDelta
{
    /// <summary>The property of a rule in a delta that lists its partial cells.</summary>
    public const string PartialProperty = "partial";

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? DiffBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? DiffWriter;

    [ThreadStatic]
    private static List<Property>? DiffProperties;

    /// <summary>
    /// Takes <paramref name="state"/> as a new base: remembers a hash of each property of every object-valued cell, not
    /// the bytes.
    /// </summary>
    /// <param name="state">The whole state (snapshot JSON).</param>
    /// <param name="slot">Which of the key's two base slots it is written to (0 or 1).</param>
    /// <param name="id">The base's id, which the deltas name.</param>
    /// <exception cref="JsonException">The state is not a snapshot's JSON.</exception>
    public static StateDeltaBase Capture(ReadOnlySpan<byte> state, int slot, string id)
    {
        var cells = new List<StateDeltaBase.Cell>();
        var properties = new List<Property>();
        var reader = new Utf8JsonReader(state);
        Expect(ref reader, JsonTokenType.StartObject);
        while (NextProperty(ref reader))
        {
            var isRules = IsName(ref reader, "rules"u8);
            reader.Read();
            if (!isRules || reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                ReadOnlySpan<byte> ruleName = default;
                while (NextProperty(ref reader))
                {
                    var isName = IsName(ref reader, "name"u8);
                    var isValues = IsName(ref reader, "values"u8);
                    reader.Read();
                    if (isName && reader.TokenType == JsonTokenType.String)
                    {
                        ruleName = RawToken(state, ref reader);
                    }
                    else if (isValues && reader.TokenType == JsonTokenType.StartObject && !ruleName.IsEmpty)
                    {
                        while (NextProperty(ref reader))
                        {
                            var cellName = RawToken(state, ref reader);
                            reader.Read();
                            if (reader.TokenType != JsonTokenType.StartObject)
                            {
                                reader.Skip();
                                continue;
                            }

                            properties.Clear();
                            ReadProperties(state, ref reader, properties);
                            properties.Sort(static (a, b) => a.Name.CompareTo(b.Name));
                            cells.Add(new StateDeltaBase.Cell(
                                CellKey(ruleName, cellName),
                                properties.Select(p => p.Name).ToArray(),
                                properties.Select(p => p.Value).ToArray()));
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
        }

        return new StateDeltaBase(slot, id, [.. cells]);
    }

    /// <summary>
    /// Writes <paramref name="state"/> as a delta of <paramref name="baseState"/>, unless it would be longer than
    /// <paramref name="maxBytes"/> (then a new base is cheaper).
    /// </summary>
    /// <returns>The delta's bytes, or null when it would be longer than <paramref name="maxBytes"/>.</returns>
    /// <exception cref="JsonException">The state is not a snapshot's JSON.</exception>
    public static byte[]? Diff(ReadOnlySpan<byte> state, StateDeltaBase baseState, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(baseState);
        var buffer = DiffBuffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = DiffWriter;
        if (writer is null)
        {
            writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
            DiffWriter = writer;
        }
        else
        {
            writer.Reset(buffer);
        }

        var properties = DiffProperties ??= [];
        var reader = new Utf8JsonReader(state);
        Expect(ref reader, JsonTokenType.StartObject);
        writer.WriteStartObject();
        while (NextProperty(ref reader))
        {
            var isRules = IsName(ref reader, "rules"u8);
            WriteName(writer, ref reader);
            reader.Read();
            if (isRules && reader.TokenType == JsonTokenType.StartArray)
            {
                DiffRules(state, ref reader, writer, baseState, properties);
            }
            else
            {
                WriteRaw(state, ref reader, writer);
            }
        }

        writer.WriteEndObject();
        writer.Flush();
        if (buffer.WrittenCount > maxBytes)
        {
            return null;
        }

        var delta = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 1 << 20)
        {
            DiffBuffer = null;
            DiffWriter = null;
        }

        return delta;
    }

    /// <summary>The whole state that <paramref name="delta"/> says, written over <paramref name="baseState"/>.</summary>
    /// <exception cref="InvalidDataException">The delta names a partial cell its base does not have, or either is not a snapshot's JSON.</exception>
    public static byte[] Apply(byte[] baseState, byte[] delta)
    {
        ArgumentNullException.ThrowIfNull(baseState);
        ArgumentNullException.ThrowIfNull(delta);
        try
        {
            using var baseDocument = JsonDocument.Parse(baseState);
            using var deltaDocument = JsonDocument.Parse(delta);
            var output = new ArrayBufferWriter<byte>(baseState.Length + delta.Length);
            using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                foreach (var property in deltaDocument.RootElement.EnumerateObject())
                {
                    if (property.NameEquals("rules"u8) && property.Value.ValueKind == JsonValueKind.Array)
                    {
                        writer.WriteStartArray(property.Name);
                        foreach (var rule in property.Value.EnumerateArray())
                        {
                            ApplyRule(rule, baseDocument.RootElement, writer);
                        }

                        writer.WriteEndArray();
                    }
                    else
                    {
                        property.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
            }

            return output.WrittenSpan.ToArray();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the delta or its base is not a state's JSON: {e.Message}", e);
        }
    }

    private static void ApplyRule(JsonElement rule, JsonElement baseRoot, Utf8JsonWriter writer)
    {
        if (rule.ValueKind != JsonValueKind.Object || !rule.TryGetProperty(PartialProperty, out var partial) || partial.ValueKind != JsonValueKind.Array)
        {
            rule.WriteTo(writer);
            return;
        }

        var name = rule.TryGetProperty("name"u8, out var n) ? n.GetString() : null;
        JsonElement? baseValues = null;
        if (baseRoot.TryGetProperty("rules"u8, out var baseRules) && baseRules.ValueKind == JsonValueKind.Array)
        {
            foreach (var candidate in baseRules.EnumerateArray())
            {
                if (candidate.ValueKind == JsonValueKind.Object && candidate.TryGetProperty("name"u8, out var candidateName)
                    && candidateName.ValueKind == JsonValueKind.String && candidateName.GetString() == name
                    && candidate.TryGetProperty("values"u8, out var values))
                {
                    baseValues = values;
                    break;
                }
            }
        }

        var partialCells = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cell in partial.EnumerateArray())
        {
            partialCells.Add(cell.GetString() ?? string.Empty);
        }

        writer.WriteStartObject();
        foreach (var property in rule.EnumerateObject())
        {
            if (property.NameEquals(PartialProperty))
            {
                continue;
            }

            if (!property.NameEquals("values"u8) || property.Value.ValueKind != JsonValueKind.Object)
            {
                property.WriteTo(writer);
                continue;
            }

            writer.WriteStartObject(property.Name);
            foreach (var cell in property.Value.EnumerateObject())
            {
                if (!partialCells.Remove(cell.Name))
                {
                    cell.WriteTo(writer);
                    continue;
                }

                if (baseValues is not { } values || !values.TryGetProperty(cell.Name, out var baseCell) || baseCell.ValueKind != JsonValueKind.Object
                    || cell.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"the delta's partial cell '{cell.Name}' of rule '{name}' is not in its base");
                }

                writer.WriteStartObject(cell.Name);
                foreach (var baseProperty in baseCell.EnumerateObject())
                {
                    if (cell.Value.TryGetProperty(baseProperty.Name, out var changed))
                    {
                        writer.WritePropertyName(baseProperty.Name);
                        changed.WriteTo(writer);
                    }
                    else
                    {
                        baseProperty.WriteTo(writer);
                    }
                }

                foreach (var added in cell.Value.EnumerateObject())
                {
                    if (!baseCell.TryGetProperty(added.Name, out _))
                    {
                        added.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        if (partialCells.Count > 0)
        {
            throw new InvalidDataException($"the delta lists partial cells of rule '{name}' that it does not hold: {string.Join(", ", partialCells)}");
        }
    }

    private static void DiffRules(ReadOnlySpan<byte> state, ref Utf8JsonReader reader, Utf8JsonWriter writer, StateDeltaBase baseState, List<Property> properties)
    {
        writer.WriteStartArray();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                WriteRaw(state, ref reader, writer);
                continue;
            }

            writer.WriteStartObject();
            ReadOnlySpan<byte> ruleName = default;
            List<string>? partial = null;
            while (NextProperty(ref reader))
            {
                var isName = IsName(ref reader, "name"u8);
                var isValues = IsName(ref reader, "values"u8);
                WriteName(writer, ref reader);
                reader.Read();
                if (isName && reader.TokenType == JsonTokenType.String)
                {
                    ruleName = RawToken(state, ref reader);
                    WriteRaw(state, ref reader, writer);
                }
                else if (isValues && reader.TokenType == JsonTokenType.StartObject && !ruleName.IsEmpty)
                {
                    writer.WriteStartObject();
                    while (NextProperty(ref reader))
                    {
                        var cellName = RawToken(state, ref reader);
                        WriteName(writer, ref reader);
                        reader.Read();
                        var cell = reader.TokenType == JsonTokenType.StartObject ? baseState.Find(CellKey(ruleName, cellName)) : null;
                        if (cell is null || !WritePartial(state, ref reader, writer, cell, properties))
                        {
                            WriteRaw(state, ref reader, writer);
                            continue;
                        }

                        (partial ??= []).Add(Unescape(cellName));
                    }

                    writer.WriteEndObject();
                }
                else
                {
                    WriteRaw(state, ref reader, writer);
                }
            }

            if (partial is not null)
            {
                writer.WriteStartArray(PartialProperty);
                foreach (var cell in partial)
                {
                    writer.WriteStringValue(cell);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    /// <summary>
    /// Writes the object-valued cell at <paramref name="reader"/> as the properties that differ from its base, when every
    /// property of the base is still there (a removed one could not be said); otherwise writes nothing and leaves the
    /// reader where it was.
    /// </summary>
    private static bool WritePartial(ReadOnlySpan<byte> state, ref Utf8JsonReader reader, Utf8JsonWriter writer, StateDeltaBase.Cell cell, List<Property> properties)
    {
        var start = reader;
        properties.Clear();
        ReadProperties(state, ref reader, properties);
        var kept = 0;
        foreach (var property in properties)
        {
            if (Array.BinarySearch(cell.Names, property.Name) >= 0)
            {
                kept++;
            }
        }

        if (kept != cell.Names.Length)
        {
            reader = start;
            return false;
        }

        writer.WriteStartObject();
        foreach (var property in properties)
        {
            var at = Array.BinarySearch(cell.Names, property.Name);
            if (at >= 0 && cell.Values[at] == property.Value)
            {
                continue;
            }

            var name = new Utf8JsonReader(state[property.NameStart..]);
            name.Read();
            writer.WritePropertyName(name.ValueIsEscaped ? Encoding.UTF8.GetBytes(name.GetString()!) : name.ValueSpan);
            writer.WriteRawValue(state[property.ValueStart..property.ValueEnd], skipInputValidation: true);
        }

        writer.WriteEndObject();
        return true;
    }

    /// <summary>Reads the object at <paramref name="reader"/> (its start) to its end, hashing each property's name and value.</summary>
    private static void ReadProperties(ReadOnlySpan<byte> state, ref Utf8JsonReader reader, List<Property> properties)
    {
        while (NextProperty(ref reader))
        {
            var nameStart = (int)reader.TokenStartIndex;
            var name = XxHash3.HashToUInt64(RawToken(state, ref reader));
            reader.Read();
            var valueStart = (int)reader.TokenStartIndex;
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }

            var valueEnd = (int)reader.BytesConsumed;
            properties.Add(new Property(name, XxHash3.HashToUInt64(state[valueStart..valueEnd]), nameStart, valueStart, valueEnd));
        }
    }

    /// <summary>Moves to the next property name of the object being read; false at its end.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new JsonException("the state's JSON ends early");
        }

        return reader.TokenType switch
        {
            JsonTokenType.PropertyName => true,
            JsonTokenType.EndObject => false,
            _ => throw new JsonException($"expected a property name, found {reader.TokenType}"),
        };
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (!reader.Read() || reader.TokenType != type)
        {
            throw new JsonException($"the state's JSON does not start with {type}");
        }
    }

    private static bool IsName(ref Utf8JsonReader reader, ReadOnlySpan<byte> name) =>
        reader.TokenType == JsonTokenType.PropertyName && !reader.ValueIsEscaped && reader.ValueSpan.SequenceEqual(name);

    /// <summary>The token's bytes as written, quotes included for a string or name.</summary>
    private static ReadOnlySpan<byte> RawToken(ReadOnlySpan<byte> state, scoped ref Utf8JsonReader reader)
    {
        var start = (int)reader.TokenStartIndex;
        var end = (int)reader.BytesConsumed;
        if (reader.TokenType == JsonTokenType.PropertyName)
        {
            // BytesConsumed of a name includes the colon (and any blanks before it): the name ends at its closing quote.
            end = state[..end].LastIndexOf((byte)'"') + 1;
        }

        return state[start..end];
    }

    private static string Unescape(ReadOnlySpan<byte> rawName)
    {
        var reader = new Utf8JsonReader(rawName);
        reader.Read();
        return reader.GetString()!;
    }

    private static void WriteName(Utf8JsonWriter writer, ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            writer.WritePropertyName(reader.GetString()!);
        }
        else
        {
            writer.WritePropertyName(reader.ValueSpan);
        }
    }

    private static void WriteRaw(ReadOnlySpan<byte> state, ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        writer.WriteRawValue(state[start..(int)reader.BytesConsumed], skipInputValidation: true);
    }

    private static ulong CellKey(ReadOnlySpan<byte> ruleName, ReadOnlySpan<byte> cellName) =>
        (XxHash3.HashToUInt64(ruleName) * 0x9E3779B97F4A7C15UL) ^ XxHash3.HashToUInt64(cellName);

    private readonly record struct Property(ulong Name, ulong Value, int NameStart, int ValueStart, int ValueEnd);
}

/// <summary>
/// The base a key's deltas are written against (<see cref="StateDelta"/>): which slot and id it was written with, and a
/// hash of each property of its object-valued cells. Owned by the actor that writes the key's state; the sink marks it
/// refused when the broker did not take a record of it, and the next write starts a new base.
/// </summary>
public sealed class StateDeltaBase
{
    private readonly Cell[] _cells;
    private volatile bool _refused;

    internal StateDeltaBase(int slot, string id, Cell[] cells)
    {
        Slot = slot;
        Id = id;
        _cells = cells;
    }

    /// <summary>Which of the key's two base records holds it (0 or 1).</summary>
    public int Slot { get; }

    /// <summary>Its id, which its deltas name.</summary>
    public string Id { get; }

    /// <summary>Whether a record written with it (itself, or a delta of it) was refused: a restore may not find it.</summary>
    public bool IsRefused => _refused;

    /// <summary>Says that a record written with it was refused.</summary>
    public void Refused() => _refused = true;

    internal Cell? Find(ulong key)
    {
        foreach (var cell in _cells)
        {
            if (cell.Key == key)
            {
                return cell;
            }
        }

        return null;
    }

    /// <summary>One object-valued cell: its properties' name hashes (sorted) and value hashes (in the same order).</summary>
    internal sealed record Cell(ulong Key, ulong[] Names, ulong[] Values);
}

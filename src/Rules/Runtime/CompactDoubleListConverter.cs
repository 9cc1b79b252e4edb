using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kommune.Rules.Runtime;

/// <summary>
/// Writes a long list of doubles in rule state (a detector's reservoir, a baseline) as one base64 string of its
/// IEEE 754 little-endian bytes instead of a JSON array of numbers: about 11 characters a value instead of up to 24,
/// and a copy of memory instead of formatting each number as text, at every checkpoint of every key. Lists shorter
/// than <see cref="CompactFrom"/> stay readable arrays. Reads both forms, so state written before stays readable.
/// </summary>
internal sealed class CompactDoubleListConverter : JsonConverterFactory
{
    /// <summary>The shortest list written as base64.</summary>
    public const int CompactFrom = 4;

    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert == typeof(List<double>) || typeToConvert == typeof(IList<double>) || typeToConvert == typeof(double[]);

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        typeToConvert == typeof(double[]) ? new ArrayConverter() : typeToConvert == typeof(List<double>) ? new ListConverter() : new InterfaceConverter();

    private static void Write(Utf8JsonWriter writer, ReadOnlySpan<double> values)
    {
        if (values.Length < CompactFrom || !BitConverter.IsLittleEndian)
        {
            writer.WriteStartArray();
            foreach (var value in values)
            {
                if (double.IsFinite(value))
                {
                    writer.WriteNumberValue(value);
                }
                else
                {
                    writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture)); // "NaN", "Infinity", "-Infinity"
                }
            }

            writer.WriteEndArray();
            return;
        }

        writer.WriteBase64StringValue(MemoryMarshal.AsBytes(values));
    }

    private static List<double> Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            var bytes = reader.GetBytesFromBase64();
            if (bytes.Length % sizeof(double) != 0)
            {
                throw new JsonException($"A compact list of doubles has {bytes.Length} bytes, not a multiple of {sizeof(double)}.");
            }

            var list = new List<double>(bytes.Length / sizeof(double));
            list.AddRange(MemoryMarshal.Cast<byte, double>(bytes));
            return list;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException($"A list of doubles must be an array or a base64 string, not {reader.TokenType}.");
        }

        var values = new List<double>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(reader.TokenType switch
            {
                JsonTokenType.Number => reader.GetDouble(),
                JsonTokenType.String when double.TryParse(reader.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var named) => named,
                _ => throw new JsonException($"A list of doubles holds {reader.TokenType}."),
            });
        }

        return values;
    }

    private sealed class ListConverter : JsonConverter<List<double>>
    {
        public override List<double> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            CompactDoubleListConverter.Read(ref reader);

        public override void Write(Utf8JsonWriter writer, List<double> value, JsonSerializerOptions options) =>
            CompactDoubleListConverter.Write(writer, CollectionsMarshal.AsSpan(value));
    }

    private sealed class ArrayConverter : JsonConverter<double[]>
    {
        public override double[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            [.. CompactDoubleListConverter.Read(ref reader)];

        public override void Write(Utf8JsonWriter writer, double[] value, JsonSerializerOptions options) =>
            CompactDoubleListConverter.Write(writer, value);
    }

    private sealed class InterfaceConverter : JsonConverter<IList<double>>
    {
        public override IList<double> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            CompactDoubleListConverter.Read(ref reader);

        public override void Write(Utf8JsonWriter writer, IList<double> value, JsonSerializerOptions options)
        {
            switch (value)
            {
                case List<double> list:
                    CompactDoubleListConverter.Write(writer, CollectionsMarshal.AsSpan(list));
                    break;
                case double[] array:
                    CompactDoubleListConverter.Write(writer, array);
                    break;
                default:
                    var copy = ArrayPool<double>.Shared.Rent(value.Count);
                    value.CopyTo(copy, 0);
                    CompactDoubleListConverter.Write(writer, copy.AsSpan(0, value.Count));
                    ArrayPool<double>.Shared.Return(copy);
                    break;
            }
        }
    }
}

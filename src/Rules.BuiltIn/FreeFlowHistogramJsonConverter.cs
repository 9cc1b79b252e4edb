using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kommune.Rules.BuiltIn;

/// <summary>
/// Writes a <see cref="FreeFlowHistogram"/> as the JSON its earlier form (a sorted dictionary of bins and a count) was
/// written as, <c>{"bins": {"42": 0.93, …}, "samples": 12}</c> under the options' naming policy, and reads that back:
/// states written before it restore unchanged.
/// </summary>
internal sealed class FreeFlowHistogramJsonConverter : JsonConverter<FreeFlowHistogram>
{
    /// <inheritdoc />
    public override FreeFlowHistogram Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"A free-flow histogram is a JSON object, not {reader.TokenType}.");
        }

        var histogram = new FreeFlowHistogram();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            if (string.Equals(name, "bins", StringComparison.OrdinalIgnoreCase))
            {
                ReadBins(ref reader, histogram, options);
            }
            else if (string.Equals(name, "samples", StringComparison.OrdinalIgnoreCase))
            {
                histogram.Samples = JsonSerializer.Deserialize<long>(ref reader, options);
            }
            else
            {
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            throw new JsonException("A free-flow histogram's object does not end where it should.");
        }

        return histogram;
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, FreeFlowHistogram value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteStartObject(Name("Bins", options));
        foreach (var (bin, weight) in value.Bins)
        {
            writer.WritePropertyName(bin.ToString(CultureInfo.InvariantCulture));
            writer.WriteNumberValue(weight);
        }

        writer.WriteEndObject();
        writer.WriteNumber(Name("Samples", options), value.Samples);
        writer.WriteEndObject();
    }

    private static void ReadBins(ref Utf8JsonReader reader, FreeFlowHistogram histogram, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"A free-flow histogram's bins are a JSON object, not {reader.TokenType}.");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString();
            if (!int.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var bin) || bin is < 0 or > FreeFlowHistogram.MaxSpeed)
            {
                throw new JsonException($"A free-flow histogram's bin is a speed from 0 to {FreeFlowHistogram.MaxSpeed} km/h, not '{key}'.");
            }

            reader.Read();
            var weight = JsonSerializer.Deserialize<double>(ref reader, options);
            try
            {
                histogram.Set(bin, weight);
            }
            catch (ArgumentException e)
            {
                throw new JsonException($"A free-flow histogram's bins are unreadable: {e.Message}", e);
            }
        }
    }

    private static string Name(string property, JsonSerializerOptions options) => options.PropertyNamingPolicy?.ConvertName(property) ?? property;
}

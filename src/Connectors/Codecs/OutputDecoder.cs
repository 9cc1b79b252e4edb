using System.Globalization;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// Reads what <see cref="OutputCodec"/> writes, for consumers of the output topics (the operations console): alert
/// records (docs/alerts.md) and aggregates. Unknown fields are ignored, so newer engines can add fields; a record
/// that lacks a required field or has one of the wrong type is refused with a one-line reason.
/// </summary>
public static class OutputDecoder
{
    /// <summary>Decodes one alert record; false with a reason when it is not one.</summary>
    public static bool TryDecodeAlert(ReadOnlySpan<byte> json, out Alert? alert, out string? reason)
    {
        alert = null;
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                reason = "an alert record must be a JSON object";
                return false;
            }

            var fields = new Fields(root);
            alert = new Alert(
                fields.Text("alertId"),
                fields.Text("rule"),
                fields.Text("category"),
                fields.Text("subCategory"),
                fields.Enum<AlertSeverity>("severity"),
                fields.Enum<AlertStatus>("status"),
                fields.Integer("level"),
                fields.OptionalText("sensorId"),
                fields.Text("areaId"),
                fields.Time("eventTime"),
                fields.Time("dateIssued"),
                fields.Text("description"),
                fields.Values("evidence"))
            {
                Sequence = fields.Integer("sequence"),
                Recipients = fields.TextList("recipients"),
            };
            reason = null;
            return true;
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            reason = e.Message.ReplaceLineEndings(" ");
            return false;
        }
    }

    /// <summary>Decodes one aggregate record; false with a reason when it is not one.</summary>
    public static bool TryDecodeAggregate(ReadOnlySpan<byte> json, out Aggregate? aggregate, out string? reason)
    {
        aggregate = null;
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                reason = "an aggregate record must be a JSON object";
                return false;
            }

            var fields = new Fields(document.RootElement);
            aggregate = new Aggregate(
                fields.Text("areaId"),
                fields.Text("metric"),
                fields.Time("windowStart"),
                fields.Time("windowEnd"),
                fields.Number("value"),
                (long)fields.Number("count"))
            {
                SensorId = fields.OptionalText("sensorId"),
            };
            reason = null;
            return true;
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            reason = e.Message.ReplaceLineEndings(" ");
            return false;
        }
    }

    /// <summary>Typed reads of one record's fields; a missing or mistyped field throws <see cref="FormatException"/> naming it.</summary>
    private readonly struct Fields(JsonElement root)
    {
        public string Text(string name) => OptionalText(name) ?? throw Missing(name, "a string");

        public string? OptionalText(string name) => Field(name) switch
        {
            { ValueKind: JsonValueKind.String } e => e.GetString(),
            null or { ValueKind: JsonValueKind.Null } => null,
            _ => throw Missing(name, "a string"),
        };

        public int Integer(string name) =>
            Field(name) is { ValueKind: JsonValueKind.Number } e && e.TryGetInt32(out var value) ? value : throw Missing(name, "a whole number");

        public double Number(string name) =>
            Field(name) is { ValueKind: JsonValueKind.Number } e ? e.GetDouble() : throw Missing(name, "a number");

        public DateTimeOffset Time(string name) =>
            DateTimeOffset.TryParse(Text(name), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                ? time
                : throw Missing(name, "an RFC 3339 time");

        public T Enum<T>(string name)
            where T : struct, Enum =>
            System.Enum.TryParse<T>(Text(name), ignoreCase: true, out var value) && System.Enum.IsDefined(value)
                ? value
                : throw Missing(name, "one of " + string.Join(", ", System.Enum.GetNames<T>()).ToLowerInvariant());

        public string[] TextList(string name) => Field(name) switch
        {
            { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText())],
            null => [],
            _ => throw Missing(name, "an array"),
        };

        /// <summary>Named scalar values; anything else a producer put there is kept as its JSON text.</summary>
        public Dictionary<string, SensorValue> Values(string name)
        {
            var values = new Dictionary<string, SensorValue>(StringComparer.Ordinal);
            if (Field(name) is not { ValueKind: JsonValueKind.Object } element)
            {
                return values;
            }

            foreach (var property in element.EnumerateObject())
            {
                var value = property.Value;
                values[property.Name] = value.ValueKind switch
                {
                    JsonValueKind.Number when value.TryGetDouble(out var number) && double.IsFinite(number) => SensorValue.FromNumber(number),
                    JsonValueKind.String => SensorValue.FromText(value.GetString()!),
                    JsonValueKind.True => SensorValue.FromBoolean(true),
                    JsonValueKind.False => SensorValue.FromBoolean(false),
                    _ => SensorValue.FromText(value.GetRawText()),
                };
            }

            return values;
        }

        private JsonElement? Field(string name) => root.TryGetProperty(name, out var element) ? element : null;

        private static FormatException Missing(string name, string what) => new($"field '{name}' is missing or not {what}");
    }
}

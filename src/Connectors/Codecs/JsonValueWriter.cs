using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>Writes a set of named sensor values as one JSON object.</summary>
internal static class JsonValueWriter
{
    public static void WriteValues(Utf8JsonWriter writer, IReadOnlyDictionary<string, SensorValue> values)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in values.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            switch (value.Kind)
            {
                case SensorValueKind.Number:
                    writer.WriteNumber(name, value.Number);
                    break;
                case SensorValueKind.Text:
                    writer.WriteString(name, value.Text);
                    break;
                default:
                    writer.WriteBoolean(name, value.Boolean);
                    break;
            }
        }

        writer.WriteEndObject();
    }
}

using System.Buffers;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>Writes sensor events in event contract v1 (docs/events.md); used by the simulator and the tests.</summary>
public static class SensorEventEncoder
{
    /// <summary>Encodes one event as UTF-8 JSON, with ts as epoch milliseconds.</summary>
    public static byte[] Encode(SensorEvent sensorEvent)
    {
        ArgumentNullException.ThrowIfNull(sensorEvent);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("sensorId"u8, sensorEvent.SensorId);
            writer.WriteString("areaId"u8, sensorEvent.AreaId);
            writer.WriteString("type"u8, sensorEvent.Type);
            writer.WriteNumber("ts"u8, sensorEvent.Timestamp.ToUnixTimeMilliseconds());
            writer.WritePropertyName("values"u8);
            JsonValueWriter.WriteValues(writer, sensorEvent.Values);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

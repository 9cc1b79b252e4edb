using System.Buffers;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// Writes an operations centre's command in the documented form (docs/alerts.md), the one
/// <see cref="AlertCommandDecoder"/> reads: <c>{"alertId":…,"action":"ack"|"resolve","by":…,"ts":RFC 3339}</c>.
/// </summary>
public static class AlertCommandEncoder
{
    /// <summary>Encodes one command as UTF-8 JSON.</summary>
    public static byte[] Encode(AlertCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var buffer = new ArrayBufferWriter<byte>(160);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("alertId"u8, command.AlertId);
            writer.WriteString("action"u8, command.Action == AlertAction.Ack ? "ack"u8 : "resolve"u8);
            writer.WriteString("by"u8, command.By);
            writer.WriteString("ts"u8, OutputCodec.Rfc3339(command.Timestamp));
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

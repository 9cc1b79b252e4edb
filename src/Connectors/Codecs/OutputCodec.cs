using System.Buffers;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>Writes alerts (docs/alerts.md) and aggregates as UTF-8 JSON, byte-for-byte repeatable.</summary>
public static class OutputCodec
{
    /// <summary>Encodes one alert record.</summary>
    public static byte[] Encode(Alert alert) => Encode(alert, null);

    /// <summary>
    /// An alert record, with <c>owner</c> (<c>{"scope":"sensor"|"area","key":…,"partition":…}</c>) when known: who holds the
    /// alert, so that a command for it can be forwarded to the node that does.
    /// </summary>
    public static byte[] Encode(Alert alert, Kafka.AlertOwner? owner)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("alertId"u8, alert.AlertId);
            writer.WriteNumber("sequence"u8, alert.Sequence);
            writer.WriteString("rule"u8, alert.Rule);
            writer.WriteString("category"u8, alert.Category);
            writer.WriteString("subCategory"u8, alert.SubCategory);
            writer.WriteString("severity"u8, Lower(alert.Severity.ToString()));
            writer.WriteString("status"u8, Lower(alert.Status.ToString()));
            writer.WriteNumber("level"u8, alert.Level);
            if (alert.SensorId is null)
            {
                writer.WriteNull("sensorId"u8);
            }
            else
            {
                writer.WriteString("sensorId"u8, alert.SensorId);
            }

            writer.WriteString("areaId"u8, alert.AreaId);
            writer.WriteString("eventTime"u8, Rfc3339(alert.EventTime));
            writer.WriteString("dateIssued"u8, Rfc3339(alert.DateIssued));
            writer.WriteString("description"u8, alert.Description);
            writer.WriteStartArray("recipients"u8);
            foreach (var recipient in alert.Recipients)
            {
                writer.WriteStringValue(recipient);
            }

            writer.WriteEndArray();
            writer.WritePropertyName("evidence"u8);
            JsonValueWriter.WriteValues(writer, alert.Evidence);
            if (owner is not null)
            {
                writer.WriteStartObject("owner"u8);
                writer.WriteString("scope"u8, owner.IsArea ? "area"u8 : "sensor"u8);
                writer.WriteString("key"u8, owner.Key);
                writer.WriteNumber("partition"u8, owner.Partition);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Encodes one aggregate record (with <c>sensorId</c> for a sensor's aggregate, without it for an area's).</summary>
    public static byte[] Encode(Aggregate aggregate)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("areaId"u8, aggregate.AreaId);
            if (aggregate.SensorId is not null)
            {
                writer.WriteString("sensorId"u8, aggregate.SensorId);
            }

            writer.WriteString("metric"u8, aggregate.Metric);
            writer.WriteString("windowStart"u8, Rfc3339(aggregate.WindowStart));
            writer.WriteString("windowEnd"u8, Rfc3339(aggregate.WindowEnd));
            writer.WriteNumber("value"u8, aggregate.Value);
            writer.WriteNumber("count"u8, aggregate.Count);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A time as the records write it: RFC 3339 in UTC with milliseconds.</summary>
    internal static string Rfc3339(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Lower(string text) => string.Create(text.Length, text, static (span, t) =>
    {
        t.AsSpan().CopyTo(span);
        span[0] = char.ToLowerInvariant(span[0]);
    });
}

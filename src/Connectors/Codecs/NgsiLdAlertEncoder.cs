using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// Writes one alert record (docs/alerts.md) as the NGSI-LD normalized form of FIWARE's Smart Data Models
/// <c>Alert</c> entity, for a context broker. Only what the record already says goes in, and less: the entity
/// carries the record's category, subCategory, severity, dateIssued, description, area and source, and nothing
/// else (no evidence, recipients, level or status), so it never adds personal data to what the record holds.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>id</c>: <c>urn:ngsi-ld:Alert:</c> and the record's <c>alertId</c>, with every character a URN may not
/// hold percent-encoded (RFC 8141). Every state change of one alert maps to the same entity id, so a broker holds
/// the alert's latest state.</item>
/// <item><c>category</c>, <c>subCategory</c>, <c>description</c>: Properties with the record's values as they are.</item>
/// <item><c>severity</c>: a Property with FIWARE's value of the same name (<see cref="Severity"/>).</item>
/// <item><c>dateIssued</c>: a Property holding an NGSI-LD DateTime, the record's <c>dateIssued</c>.</item>
/// <item><c>validTo</c>: only on a <c>resolved</c> record, the record's <c>dateIssued</c>: the alert holds no longer.</item>
/// <item><c>alertSource</c>: for a sensor's alert a Relationship to the sensor, <c>urn:ngsi-ld:Device:</c> and its id;
/// for an area alert (no sensor) a Property naming the rule binding that raised it.</item>
/// <item><c>areaServed</c>: a Property with the record's <c>areaId</c>.</item>
/// <item><c>@context</c>: the Alert data model's context, then the NGSI-LD core context.</item>
/// </list>
/// </remarks>
internal static class NgsiLdAlertEncoder
{
    /// <summary>The JSON-LD context of FIWARE's Alert data model (smart-data-models/dataModel.Alert).</summary>
    internal const string AlertContext = "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld";

    /// <summary>The NGSI-LD core context.</summary>
    internal const string CoreContext = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld";

    /// <summary>Encodes one alert record as an NGSI-LD normalized <c>Alert</c> entity, UTF-8 JSON, byte-for-byte repeatable.</summary>
    internal static byte[] Encode(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var buffer = new ArrayBufferWriter<byte>(768);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id"u8, Urn("Alert", alert.AlertId));
            writer.WriteString("type"u8, "Alert"u8);
            WriteProperty(writer, "category"u8, alert.Category);
            WriteProperty(writer, "subCategory"u8, alert.SubCategory);
            WriteProperty(writer, "severity"u8, Severity(alert.Severity));
            WriteDateTime(writer, "dateIssued"u8, alert.DateIssued);
            if (alert.Status == AlertStatus.Resolved)
            {
                WriteDateTime(writer, "validTo"u8, alert.DateIssued);
            }

            WriteProperty(writer, "description"u8, alert.Description);
            writer.WriteStartObject("alertSource"u8);
            if (alert.SensorId is null)
            {
                writer.WriteString("type"u8, "Property"u8);
                writer.WriteString("value"u8, alert.Rule);
            }
            else
            {
                writer.WriteString("type"u8, "Relationship"u8);
                writer.WriteString("object"u8, Urn("Device", alert.SensorId));
            }

            writer.WriteEndObject();
            WriteProperty(writer, "areaServed"u8, alert.AreaId);
            writer.WriteStartArray("@context"u8);
            writer.WriteStringValue(AlertContext);
            writer.WriteStringValue(CoreContext);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// FIWARE's Alert <c>severity</c> value of ours: our five levels are FIWARE's five, named alike
    /// (<c>informational</c>, <c>low</c>, <c>medium</c>, <c>high</c>, <c>critical</c>), spelled out here so that
    /// renaming an enum member cannot change what brokers receive.
    /// </summary>
    internal static string Severity(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Informational => "informational",
        AlertSeverity.Low => "low",
        AlertSeverity.Medium => "medium",
        AlertSeverity.High => "high",
        AlertSeverity.Critical => "critical",
        _ => throw new ArgumentOutOfRangeException(nameof(severity), severity, "not a severity FIWARE's Alert has"),
    };

    /// <summary>
    /// <c>urn:ngsi-ld:&lt;type&gt;:&lt;id&gt;</c>, the id's characters that an RFC 8141 name may not hold (anything but
    /// letters, digits and <c>-._~!$&amp;'()*+,;=:@/</c>) percent-encoded as UTF-8, <c>%</c> included.
    /// </summary>
    internal static string Urn(string type, string id)
    {
        var urn = new StringBuilder("urn:ngsi-ld:", 12 + type.Length + 1 + id.Length).Append(type).Append(':');
        Span<byte> bytes = stackalloc byte[4];
        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            if (char.IsAsciiLetterOrDigit(c) || "-._~!$&'()*+,;=:@/".Contains(c, StringComparison.Ordinal))
            {
                urn.Append(c);
                continue;
            }

            // A lone surrogate becomes U+FFFD: the id stays a valid URN and the same for the same input.
            Rune.DecodeFromUtf16(id.AsSpan(i), out var rune, out var consumed);
            var length = rune.EncodeToUtf8(bytes);
            for (var b = 0; b < length; b++)
            {
                urn.Append('%').Append(bytes[b].ToString("X2", CultureInfo.InvariantCulture));
            }

            i += consumed - 1;
        }

        return urn.ToString();
    }

    private static void WriteProperty(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string value)
    {
        writer.WriteStartObject(name);
        writer.WriteString("type"u8, "Property"u8);
        writer.WriteString("value"u8, value);
        writer.WriteEndObject();
    }

    private static void WriteDateTime(Utf8JsonWriter writer, ReadOnlySpan<byte> name, DateTimeOffset time)
    {
        writer.WriteStartObject(name);
        writer.WriteString("type"u8, "Property"u8);
        writer.WriteStartObject("value"u8);
        writer.WriteString("@type"u8, "DateTime"u8);
        writer.WriteString("@value"u8, OutputCodec.Rfc3339(time));
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// Decodes an operations centre's command from the acks topic (docs/alerts.md):
/// <c>{"alertId": "...", "action": "ack" | "resolve", "by": "...", "ts": RFC 3339 or epoch ms}</c>, key = alertId.
/// Every refusal has its <see cref="DeadLetterCode"/> and a one-line reason for the dead-letter topic. Commands are few,
/// so this reads a JsonDocument.
/// </summary>
public static class AlertCommandDecoder
{
    private const int MaxBytes = 16 * 1024;
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal) { "alertId", "action", "by", "ts" };

    /// <summary>Decodes one record; false with why (its code and text) when it is not a valid command.</summary>
    public static bool TryDecode(byte[]? key, byte[]? value, out AlertCommand? command, out DecodeFailure failure)
    {
        command = null;
        var refused = Decode(key, value, ref command);
        failure = refused.GetValueOrDefault();
        return refused is null;
    }

    private static DecodeFailure? Decode(byte[]? key, byte[]? value, ref AlertCommand? command)
    {
        if (value is null)
        {
            return new(DeadLetterCode.NullValue, "record value is null");
        }

        if (value.Length > MaxBytes)
        {
            return new(DeadLetterCode.TooLarge, $"record value is {value.Length} bytes, over the limit of {MaxBytes} bytes");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(value);
        }
        catch (JsonException e)
        {
            return new(DeadLetterCode.MalformedJson, $"malformed JSON: {e.Message.ReplaceLineEndings(" ")}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new(DeadLetterCode.NotAnObject, $"a command must be a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}");
            }

            foreach (var property in root.EnumerateObject())
            {
                if (!Known.Contains(property.Name))
                {
                    return new(DeadLetterCode.Other, $"unknown field '{property.Name}' (a command has alertId, action, by, ts)");
                }
            }

            if (!TryText(root, "alertId", out var alertId) || alertId.Length == 0)
            {
                return new(DeadLetterCode.BadId, "field 'alertId' is missing or not a non-empty string");
            }

            if (!TryText(root, "action", out var actionText))
            {
                return new(DeadLetterCode.WrongType, "field 'action' is missing or not a string");
            }

            AlertAction action;
            switch (actionText)
            {
                case "ack":
                    action = AlertAction.Ack;
                    break;
                case "resolve":
                    action = AlertAction.Resolve;
                    break;
                default:
                    return new(DeadLetterCode.WrongType, $"field 'action' must be \"ack\" or \"resolve\", not \"{actionText}\"");
            }

            if (!TryText(root, "by", out var by) || by.Length == 0)
            {
                return new(DeadLetterCode.BadId, "field 'by' is missing or not a non-empty string (who acknowledges)");
            }

            if (!root.TryGetProperty("ts", out var tsElement))
            {
                return new(DeadLetterCode.MissingField, "field 'ts' is missing");
            }

            DateTimeOffset ts;
            if (tsElement.ValueKind == JsonValueKind.Number && tsElement.TryGetInt64(out var millis) && millis >= 0)
            {
                ts = DateTimeOffset.FromUnixTimeMilliseconds(millis);
            }
            else if (tsElement.ValueKind != JsonValueKind.String
                || !DateTimeOffset.TryParse(tsElement.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out ts)
                || !HasOffset(tsElement.GetString()!))
            {
                return new(DeadLetterCode.BadTimestamp, "field 'ts' must be an RFC 3339 time with an offset or whole epoch milliseconds");
            }

            if (key is not null && Encoding.UTF8.GetString(key) != alertId)
            {
                return new(DeadLetterCode.KeyMismatch, $"record key '{Encoding.UTF8.GetString(key)}' differs from alertId '{alertId}'");
            }

            command = new AlertCommand(alertId, action, by, ts);
            return null;
        }
    }

    private static bool TryText(JsonElement root, string name, out string text)
    {
        if (root.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.String)
        {
            text = element.GetString()!;
            return true;
        }

        text = "";
        return false;
    }

    private static bool HasOffset(string text) =>
        text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
}

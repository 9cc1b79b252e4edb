using System.Text.Json;
using System.Text.Json.Serialization;
using Kommune.Rules.Api;
using Kommune.Rules.Model;

namespace Kommune.Rules.Runtime;

/// <summary>The state of every rule for one key: what the engine persists to restore it after a restart.</summary>
/// <param name="Scope">Sensor or area.</param>
/// <param name="Key">The sensor or area id.</param>
/// <param name="AreaId">The key's area.</param>
/// <param name="Watermark">The watermark the key had seen.</param>
/// <param name="LastEventTime">The newest event time the key had handled.</param>
/// <param name="Rules">Per rule binding.</param>
internal sealed record KeyedStateSnapshot(
    RuleScope Scope,
    string Key,
    string AreaId,
    DateTimeOffset Watermark,
    DateTimeOffset LastEventTime,
    IReadOnlyList<RuleStateSnapshot> Rules)
{
    private static readonly JsonSerializerOptions Options = CreateOptions();

    /// <summary>The snapshot as UTF-8 JSON.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <summary>Reads a snapshot written by <see cref="ToJson"/>.</summary>
    /// <exception cref="JsonException">The bytes are not a snapshot.</exception>
    public static KeyedStateSnapshot FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<KeyedStateSnapshot>(json, Options) ?? throw new JsonException("A state snapshot is null.");

    /// <summary>The JSON options rule state is written with.</summary>
    internal static JsonSerializerOptions JsonOptions => Options;

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        // Rule state may hold infinities and NaN (a sum of large readings overflows, a minimum starts at +infinity):
        // they are written as "Infinity", "-Infinity" and "NaN" and read back as such.
        options.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals;
        // State is read by the engine, never put into HTML: escaping only what JSON requires keeps base64 ('+') and
        // Norwegian letters as they are, smaller and the same whichever way a value reaches the writer.
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        options.Converters.Add(new SensorValueJsonConverter());
        options.Converters.Add(new CompactDoubleListConverter());
        options.Converters.Add(new JsonStringEnumConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

/// <summary>The state of one rule binding for one key.</summary>
/// <param name="Name">The binding's name.</param>
/// <param name="Fingerprint">The binding's fingerprint when the snapshot was taken.</param>
/// <param name="Values">Named state values as JSON.</param>
/// <param name="OpenAlerts">Open alerts by incident.</param>
/// <param name="Timers">Pending timers.</param>
/// <param name="Rule">The binding's <see cref="RuleBinding.RuleId"/>; null in snapshots written before it was recorded.</param>
/// <param name="StateVersion">The rule's <see cref="Api.Rule.StateVersion"/> when the snapshot was taken (0: not recorded).</param>
/// <param name="Parameters">The binding's <see cref="RuleBinding.ParametersFingerprint"/>, or null.</param>
internal sealed record RuleStateSnapshot(
    string Name,
    string Fingerprint,
    IReadOnlyDictionary<string, JsonElement> Values,
    IReadOnlyDictionary<string, Alert> OpenAlerts,
    IReadOnlyList<RuleTimer> Timers,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Rule = null,
    int StateVersion = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Parameters = null);

/// <summary>Writes a <see cref="SensorValue"/> as its JSON number, string or boolean.</summary>
internal sealed class SensorValueJsonConverter : JsonConverter<SensorValue>
{
    public override SensorValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => SensorValue.FromNumber(reader.GetDouble()),
        JsonTokenType.String => SensorValue.FromText(reader.GetString()!),
        JsonTokenType.True => SensorValue.FromBoolean(true),
        JsonTokenType.False => SensorValue.FromBoolean(false),
        _ => throw new JsonException($"A sensor value must be a number, a string or a boolean, not {reader.TokenType}."),
    };

    public override void Write(Utf8JsonWriter writer, SensorValue value, JsonSerializerOptions options)
    {
        switch (value.Kind)
        {
            case SensorValueKind.Number:
                writer.WriteNumberValue(value.Number);
                break;
            case SensorValueKind.Text:
                writer.WriteStringValue(value.Text);
                break;
            default:
                writer.WriteBooleanValue(value.Boolean);
                break;
        }
    }
}

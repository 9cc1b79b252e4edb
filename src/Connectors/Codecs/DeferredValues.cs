using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// An event's named values kept as the JSON object they came in (already checked by the decoder), read on first use:
/// for events no rule was taking when they were decoded. Reading is safe from any thread; two threads reading at once
/// both read, and either result is kept.
/// </summary>
internal sealed class DeferredValues(byte[] json) : IReadOnlyDictionary<string, SensorValue>
{
    private Dictionary<string, SensorValue>? _read;

    private Dictionary<string, SensorValue> Read => _read ??= Parse(json);

    public int Count => Read.Count;

    public IEnumerable<string> Keys => Read.Keys;

    public IEnumerable<SensorValue> Values => Read.Values;

    public SensorValue this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The event has no value '{key}'.");

    public bool ContainsKey(string key) => Read.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out SensorValue value) => Read.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, SensorValue>> GetEnumerator() => Read.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The values as the decoder keeps them (a repeated name takes the last value), from a checked object.</summary>
    private static Dictionary<string, SensorValue> Parse(byte[] json)
    {
        var values = new Dictionary<string, SensorValue>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        reader.Read(); // the object's start
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            values[name] = reader.TokenType switch
            {
                JsonTokenType.Number => SensorValue.FromNumber(reader.GetDouble()),
                JsonTokenType.String => SensorValue.FromText(reader.GetString()!),
                _ => SensorValue.FromBoolean(reader.GetBoolean()),
            };
        }

        return values;
    }
}

using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// A decoded event's named values: its names (shared by every event of the same shape, from the decoder's cache)
/// and its values, in the order the record had them. Two small arrays instead of a dictionary per event; a lookup
/// compares the few names in turn. Immutable.
/// </summary>
internal sealed class DecodedValues(string[] names, SensorValue[] values) : IReadOnlyDictionary<string, SensorValue>
{
    public int Count => values.Length;

    public IEnumerable<string> Keys => names;

    public IEnumerable<SensorValue> Values => values;

    public SensorValue this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The event has no value '{key}'.");

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out SensorValue value)
    {
        var i = IndexOf(key);
        value = i >= 0 ? values[i] : default;
        return i >= 0;
    }

    public IEnumerator<KeyValuePair<string, SensorValue>> GetEnumerator()
    {
        for (var i = 0; i < values.Length; i++)
        {
            yield return new KeyValuePair<string, SensorValue>(names[i], values[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (var i = 0; i < names.Length; i++)
        {
            if (ReferenceEquals(names[i], key) || string.Equals(names[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

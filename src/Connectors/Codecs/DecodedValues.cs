using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kommune.Rules.Model;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// A decoded event's named values: its names (shared by every event of the same shape, from the decoder's cache)
/// and its values, in the order the record had them. Up to <see cref="MaxInline"/> values are held in the object
/// itself, more in one array: one small object per event instead of a dictionary (or a wrapper and an array); a lookup
/// compares the few names in turn. Immutable.
/// </summary>
internal abstract class DecodedValues : IReadOnlyDictionary<string, SensorValue>
{
    /// <summary>The most values held in the object itself (most sensors send one to four).</summary>
    public const int MaxInline = 4;

    private readonly string[] _names;

    private DecodedValues(string[] names) => _names = names;

    /// <summary>
    /// <paramref name="values"/> under <paramref name="names"/>, as many and in the same order. The names are kept as
    /// given (the decoder's shared shape); the values are copied, so the decoder's scratch array can be reused.
    /// </summary>
    public static DecodedValues Of(string[] names, ReadOnlySpan<SensorValue> values)
    {
        if (names.Length != values.Length || values.IsEmpty)
        {
            throw new ArgumentException($"{names.Length} names for {values.Length} values; both must be as many, and at least one.", nameof(values));
        }

        return values.Length switch
        {
            1 => new Inline<One>(names, values),
            2 => new Inline<Two>(names, values),
            3 => new Inline<Three>(names, values),
            4 => new Inline<Four>(names, values),
            _ => new InArray(names, values.ToArray()),
        };
    }

    public int Count => _names.Length;

    public IEnumerable<string> Keys => _names;

    public IEnumerable<SensorValue> Values => Stored.ToArray();

    public SensorValue this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The event has no value '{key}'.");

    /// <summary>The values, as many as the names and in their order.</summary>
    private protected abstract ReadOnlySpan<SensorValue> Stored { get; }

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out SensorValue value)
    {
        var i = IndexOf(key);
        value = i >= 0 ? Stored[i] : default;
        return i >= 0;
    }

    public IEnumerator<KeyValuePair<string, SensorValue>> GetEnumerator()
    {
        for (var i = 0; i < _names.Length; i++)
        {
            yield return new KeyValuePair<string, SensorValue>(_names[i], Stored[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (var i = 0; i < _names.Length; i++)
        {
            if (ReferenceEquals(_names[i], key) || string.Equals(_names[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Values held in the object itself: 16 bytes each, after its header and the names' reference.</summary>
    /// <typeparam name="TBuffer">An inline array of <see cref="SensorValue"/> exactly as long as the names.</typeparam>
    private sealed class Inline<TBuffer> : DecodedValues
        where TBuffer : struct
    {
        private TBuffer _buffer;

        public Inline(string[] names, ReadOnlySpan<SensorValue> values)
            : base(names)
        {
            values.CopyTo(MemoryMarshal.CreateSpan(ref First, values.Length));
        }

        private protected override ReadOnlySpan<SensorValue> Stored => MemoryMarshal.CreateReadOnlySpan(ref First, Count);

        private ref SensorValue First => ref Unsafe.As<TBuffer, SensorValue>(ref _buffer);
    }

    /// <summary>More values than <see cref="MaxInline"/>, in an array of their own.</summary>
    private sealed class InArray(string[] names, SensorValue[] values) : DecodedValues(names)
    {
        private protected override ReadOnlySpan<SensorValue> Stored => values;
    }

    [InlineArray(1)]
    private struct One
    {
        private SensorValue _first;
    }

    [InlineArray(2)]
    private struct Two
    {
        private SensorValue _first;
    }

    [InlineArray(3)]
    private struct Three
    {
        private SensorValue _first;
    }

    [InlineArray(MaxInline)]
    private struct Four
    {
        private SensorValue _first;
    }
}

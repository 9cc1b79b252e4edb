using System.Text;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// The strings a stream repeats (sensor ids, area ids, types, value names), made once from their UTF-8 bytes and
/// handed out again for the same bytes, so decoding an event does not allocate them anew. Bounded: once it holds
/// <see cref="Capacity"/> strings, a string it does not hold is made without being kept. Not thread-safe: one
/// decoder (one consume loop) owns it.
/// </summary>
internal sealed class Utf8StringCache(int capacity)
{
    /// <summary>The longest text (in UTF-8 bytes) the cache keeps; a longer one is made each time.</summary>
    public const int MaxBytes = 256;

    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);

    /// <summary>How many strings it keeps at most.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Strings kept.</summary>
    public int Count => _strings.Count;

    /// <summary>The string of <paramref name="utf8"/> (valid UTF-8, already unescaped).</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        Span<char> chars = stackalloc char[MaxBytes];
        var length = Encoding.UTF8.GetChars(utf8, chars);
        var text = chars[..length];
        var lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(text, out var known))
        {
            return known;
        }

        var made = new string(text);
        if (_strings.Count < Capacity)
        {
            _strings[made] = made;
        }

        return made;
    }
}

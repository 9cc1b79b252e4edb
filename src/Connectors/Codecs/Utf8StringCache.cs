using System.Text;
using System.Text.Unicode;

namespace Kommune.Connectors.Codecs;

/// <summary>
/// The strings a stream repeats (sensor ids, area ids, types, value names), made once from their UTF-8 bytes and
/// handed out again for the same bytes, so decoding an event does not allocate them anew. Looked up by the bytes
/// themselves: a string it holds costs a hash of the bytes and one comparison, not a conversion to UTF-16 first.
/// Bounded: once it holds <see cref="Capacity"/> strings, a string it does not hold is made without being kept. Not
/// thread-safe: one decoder (one consume loop) owns it.
/// </summary>
internal sealed class Utf8StringCache
{
    /// <summary>The longest text (in UTF-8 bytes) the cache keeps; a longer one is made each time.</summary>
    public const int MaxBytes = 256;

    private readonly Dictionary<string, string> _strings;
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<byte>> _byBytes;

    /// <param name="capacity">How many strings it keeps at most.</param>
    public Utf8StringCache(int capacity)
    {
        Capacity = capacity;
        _strings = new(Utf8KeyComparer.Instance);
        _byBytes = _strings.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>How many strings it keeps at most.</summary>
    public int Capacity { get; }

    /// <summary>Strings kept.</summary>
    public int Count => _strings.Count;

    /// <summary>
    /// The string of <paramref name="utf8"/> (already unescaped), or null when the bytes are not valid UTF-8. Bytes equal
    /// to a kept string's are valid, so only new ones are checked.
    /// </summary>
    public string? Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length <= MaxBytes && _byBytes.TryGetValue(utf8, out var known))
        {
            return known;
        }

        if (!Utf8.IsValid(utf8))
        {
            return null;
        }

        var made = Encoding.UTF8.GetString(utf8);
        if (utf8.Length <= MaxBytes && _strings.Count < Capacity)
        {
            _strings[made] = made;
        }

        return made;
    }

    /// <summary>
    /// Ordinal equality of strings, with the hash of a string's UTF-8 bytes, so that the bytes themselves can be looked
    /// up (<see cref="IAlternateEqualityComparer{TAlternate, T}"/>).
    /// </summary>
    private sealed class Utf8KeyComparer : IEqualityComparer<string>, IAlternateEqualityComparer<ReadOnlySpan<byte>, string>
    {
        public static readonly Utf8KeyComparer Instance = new();

        public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

        public int GetHashCode(string obj)
        {
            // Only kept strings are hashed this way (when kept, and when the table grows): at most MaxBytes bytes.
            Span<byte> utf8 = stackalloc byte[MaxBytes];
            return Encoding.UTF8.TryGetBytes(obj, utf8, out var written)
                ? GetHashCode(utf8[..written])
                : GetHashCode(Encoding.UTF8.GetBytes(obj));
        }

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public bool Equals(ReadOnlySpan<byte> alternate, string other)
        {
            if (Ascii.Equals(alternate, other))
            {
                return true;
            }

            if (Ascii.IsValid(alternate) || alternate.Length > MaxBytes)
            {
                return false; // ASCII bytes are that text alone; longer texts are never kept
            }

            Span<byte> utf8 = stackalloc byte[MaxBytes];
            return Encoding.UTF8.TryGetBytes(other, utf8, out var written) && alternate.SequenceEqual(utf8[..written]);
        }

        public string Create(ReadOnlySpan<byte> alternate) => Encoding.UTF8.GetString(alternate);
    }
}

using System.Buffers;

namespace Kommune.Rules.Runtime;

/// <summary>
/// Where JSON values begin and end, found by their brackets and quotes without reading what is inside (as a reader's
/// skip does, token by token): to pass over large values quickly. Says nothing about whether a value passed over is
/// valid JSON; what is read from it must be read with a reader.
/// </summary>
internal static class JsonExtent
{
    private static readonly SearchValues<byte> Structural = SearchValues.Create("\"{}[]"u8);
    private static readonly SearchValues<byte> InString = SearchValues.Create("\"\\"u8);
    private static readonly SearchValues<byte> ScalarEnd = SearchValues.Create(",}] \t\r\n"u8);

    /// <summary>Moves <paramref name="position"/> past whitespace; the byte there, or 0 at the end.</summary>
    public static byte Peek(ReadOnlySpan<byte> json, ref int position)
    {
        while (position < json.Length && json[position] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            position++;
        }

        return position < json.Length ? json[position] : (byte)0;
    }

    /// <summary>Where the value that begins at <paramref name="start"/> ends (the index after it), or -1 when it does not end.</summary>
    public static int End(ReadOnlySpan<byte> json, int start)
    {
        var first = json[start];
        if (first == (byte)'"')
        {
            return StringEnd(json, start);
        }

        if (first is not ((byte)'{' or (byte)'['))
        {
            var scalar = json[start..].IndexOfAny(ScalarEnd);
            return scalar < 0 ? json.Length : start + scalar;
        }

        var depth = 0;
        var position = start;
        while (true)
        {
            var next = json[position..].IndexOfAny(Structural);
            if (next < 0)
            {
                return -1;
            }

            position += next;
            switch (json[position])
            {
                case (byte)'"':
                    position = StringEnd(json, position);
                    if (position < 0)
                    {
                        return -1;
                    }

                    continue;
                case (byte)'{' or (byte)'[':
                    depth++;
                    break;
                default:
                    if (--depth == 0)
                    {
                        return position + 1;
                    }

                    break;
            }

            position++;
        }
    }

    // The index after the closing quote of the string whose opening quote is at start, or -1.
    private static int StringEnd(ReadOnlySpan<byte> json, int start)
    {
        var position = start + 1;
        while (position < json.Length)
        {
            var next = json[position..].IndexOfAny(InString);
            if (next < 0)
            {
                return -1;
            }

            position += next;
            if (json[position] == (byte)'"')
            {
                return position + 1;
            }

            position += 2; // an escaped character
        }

        return -1;
    }

    /// <summary>The members of an object (the whole of <c>{…}</c>): each one's name (as written, between its quotes) and value.</summary>
    public ref struct Members
    {
        private readonly ReadOnlySpan<byte> _json;
        private int _position;
        private bool _started;

        /// <summary>Reads the members of <paramref name="json"/>, which must be one object.</summary>
        public Members(ReadOnlySpan<byte> json)
        {
            _json = json;
            Failed = Peek(json, ref _position) != (byte)'{';
            _position++;
        }

        /// <summary>The current member's name, without its quotes.</summary>
        public ReadOnlySpan<byte> Name { get; private set; }

        /// <summary>The current member's value.</summary>
        public ReadOnlySpan<byte> Value { get; private set; }

        /// <summary>Whether the object was not in the shape of one: <see cref="Next"/> then returned false early.</summary>
        public bool Failed { get; private set; }

        /// <summary>Moves to the next member; false at the end of the object (or when it turned out not to be one).</summary>
        public bool Next()
        {
            if (Failed)
            {
                return false;
            }

            var next = Peek(_json, ref _position);
            if (next == (byte)'}')
            {
                return false;
            }

            if (_started)
            {
                if (next != (byte)',')
                {
                    return Fail();
                }

                _position++;
                next = Peek(_json, ref _position);
            }

            _started = true;
            var nameEnd = next == (byte)'"' ? StringEnd(_json, _position) : -1;
            if (nameEnd < 0)
            {
                return Fail();
            }

            Name = _json[(_position + 1)..(nameEnd - 1)];
            _position = nameEnd;
            if (Peek(_json, ref _position) != (byte)':')
            {
                return Fail();
            }

            _position++;
            if (Peek(_json, ref _position) is 0 or (byte)'}' or (byte)',' || End(_json, _position) is not (> 0 and var end))
            {
                return Fail();
            }

            Value = _json[_position..end];
            _position = end;
            return true;
        }

        private bool Fail()
        {
            Failed = true;
            return false;
        }
    }

    /// <summary>The elements of an array (the whole of <c>[…]</c>).</summary>
    public ref struct Elements
    {
        private readonly ReadOnlySpan<byte> _json;
        private int _position;
        private bool _started;

        /// <summary>Reads the elements of <paramref name="json"/>, which must be one array.</summary>
        public Elements(ReadOnlySpan<byte> json)
        {
            _json = json;
            Failed = Peek(json, ref _position) != (byte)'[';
            _position++;
        }

        /// <summary>The current element.</summary>
        public ReadOnlySpan<byte> Value { get; private set; }

        /// <summary>Whether the array was not in the shape of one: <see cref="Next"/> then returned false early.</summary>
        public bool Failed { get; private set; }

        /// <summary>Moves to the next element; false at the end of the array (or when it turned out not to be one).</summary>
        public bool Next()
        {
            if (Failed)
            {
                return false;
            }

            var next = Peek(_json, ref _position);
            if (next == (byte)']')
            {
                return false;
            }

            if (_started)
            {
                if (next != (byte)',')
                {
                    Failed = true;
                    return false;
                }

                _position++;
                next = Peek(_json, ref _position);
            }

            _started = true;
            if (next is 0 or (byte)']' or (byte)',' || End(_json, _position) is not (> 0 and var end))
            {
                Failed = true;
                return false;
            }

            Value = _json[_position..end];
            _position = end;
            return true;
        }
    }
}

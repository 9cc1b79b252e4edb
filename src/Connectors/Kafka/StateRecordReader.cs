using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Rebuilds the newest state of every key from the records of state-topic partitions read in offset order (the way
/// Kafka Streams restores a changelog): the newest record per key wins, a tombstone removes the key, and chunked
/// values (<see cref="StateRecordFormat"/>) are put together and checked. Not thread-safe.
/// </summary>
public sealed class StateRecordReader
{
    private readonly Dictionary<string, (byte[]? Value, int Partition, Headers? Headers)> _newest = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (byte[] Value, string? ChunkOf)> _chunks = new(StringComparer.Ordinal);

    /// <summary>How many records were read.</summary>
    public long Records { get; private set; }

    /// <summary>Takes the next record of a partition, in offset order.</summary>
    public void Add(byte[]? key, byte[]? value, Headers? headers, int partition)
    {
        Records++;
        if (key is null)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(key);
        if (text.Contains(StateRecordFormat.ChunkSeparator, StringComparison.Ordinal))
        {
            if (value is null)
            {
                _chunks.Remove(text);
            }
            else
            {
                _chunks[text] = (value, Header(headers, StateRecordFormat.ChunkOfHeader));
            }

            return;
        }

        _newest[text] = (value, partition, headers);
    }

    /// <summary>
    /// Every key that holds state, with its snapshot bytes (decoded, put together), partition, covered offsets and how
    /// many chunks it was written in; a key whose records cannot be put together is reported to
    /// <paramref name="unreadable"/> with the reason instead.
    /// </summary>
    public IEnumerable<RestoredState> States(Action<string, int, string> unreadable)
    {
        ArgumentNullException.ThrowIfNull(unreadable);
        foreach (var (key, (value, partition, headers)) in _newest)
        {
            if (value is null)
            {
                continue;
            }

            byte[] bytes;
            int chunks;
            try
            {
                bytes = Assemble(key, value, headers, out chunks);
            }
            catch (InvalidDataException e)
            {
                unreadable(key, partition, e.Message);
                continue;
            }

            var covers = StateRecord.ParseCovers(Header(headers, StateRecord.CoversHeader));
            var origins = headers?.TryGetLastBytes(StateRecord.OriginsHeader, out var o) == true ? o : null;
            yield return new RestoredState(key, bytes, partition, covers, chunks) { Origins = origins };
        }
    }

    private byte[] Assemble(string key, byte[] value, Headers? headers, out int chunks)
    {
        chunks = 0;
        var encoding = Header(headers, StateRecordFormat.EncodingHeader);
        if (Header(headers, StateRecordFormat.ChunksHeader) is not { } count)
        {
            return StateRecordFormat.Decode(value, encoding);
        }

        if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out chunks) || chunks < 1)
        {
            throw new InvalidDataException($"bad chunk count '{count}'");
        }

        var id = Header(headers, StateRecordFormat.ChunkOfHeader);
        using var whole = new MemoryStream(chunks * StateRecordFormat.ChunkBytes);
        for (var i = 0; i < chunks; i++)
        {
            if (!_chunks.TryGetValue(StateRecordFormat.ChunkKey(key, i), out var chunk))
            {
                throw new InvalidDataException($"chunk {i} of {chunks} is missing");
            }

            if (chunk.ChunkOf != id)
            {
                throw new InvalidDataException($"chunk {i} of {chunks} belongs to another version of the state");
            }

            whole.Write(chunk.Value);
        }

        var bytes = whole.ToArray();
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != id)
        {
            throw new InvalidDataException($"the {chunks} chunks do not add up to the state they were written for");
        }

        return StateRecordFormat.Decode(bytes, encoding);
    }

    private static string? Header(Headers? headers, string name) =>
        headers?.TryGetLastBytes(name, out var bytes) == true ? Encoding.UTF8.GetString(bytes) : null;
}

/// <summary>One key's state as read back from the state topic.</summary>
/// <param name="Key">The state key (<c>sensor:…</c> or <c>area:…</c>).</param>
/// <param name="Value">The snapshot's JSON bytes.</param>
/// <param name="Partition">The state topic's partition it was read from.</param>
/// <param name="Covers">Per input partition, the newest offset whose effects it includes.</param>
/// <param name="Chunks">How many chunk records held it (0: one record).</param>
public sealed record RestoredState(string Key, byte[] Value, int Partition, IReadOnlyDictionary<int, long> Covers, int Chunks)
{
    /// <summary>An area's: the origins of the repartition records its state includes (<see cref="StateRecord.Origins"/>).</summary>
    public byte[]? Origins { get; init; }
}

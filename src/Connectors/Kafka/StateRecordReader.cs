using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Rebuilds the state of every key from the records of state-topic partitions read in offset order (the way Kafka
/// Streams restores a changelog): the newest record per key wins, a tombstone removes the key, and chunked values
/// (<see cref="StateRecordFormat"/>) are put together and checked. One exception to "newest wins": a record that covers
/// less input than one before it (an offset of <see cref="StateRecord.Covers"/> lower than the earlier record's) was
/// written late by a node that had already lost the key's partition, and is passed over (<see cref="Stale"/>): the state
/// that covers more is the checkpoint the committed offsets may already be past. Not thread-safe.
/// </summary>
public sealed class StateRecordReader
{
    private readonly Dictionary<string, Newest> _newest = new(StringComparer.Ordinal);
    // Per key, per version (the SHA-256 its chunks are written for), its chunks by index and when its first chunk came:
    // a late record of an older version, even one between a newer version's chunks and its record, must not make the
    // newer version's chunks unreadable.
    private readonly Dictionary<string, Dictionary<string, ChunkVersion>> _chunks = new(StringComparer.Ordinal);
    private long _chunkVersions;
    // Per key, its base records (StateRecordFormat: a delta names the one it needs) by id, in the order they came.
    private readonly Dictionary<string, Dictionary<string, BaseVersion>> _bases = new(StringComparer.Ordinal);
    private long _baseVersions;

    /// <summary>How many records were read.</summary>
    public long Records { get; private set; }

    /// <summary>How many records were passed over because they cover less input than an earlier record of their key.</summary>
    public long Stale { get; private set; }

    /// <summary>Takes the next record of a partition, in offset order.</summary>
    public void Add(byte[]? key, byte[]? value, Headers? headers, int partition)
    {
        Records++;
        if (key is null || StateHandOverMark.IsMark(key))
        {
            return;
        }

        var text = Encoding.UTF8.GetString(key);
        var separator = text.IndexOf(StateRecordFormat.ChunkSeparator, StringComparison.Ordinal);
        if (separator >= 0 && text.Length == separator + 3 && text[separator + 1] == 'b' && char.IsAsciiDigit(text[separator + 2]))
        {
            // A base's tombstone only deletes it from a compacted topic, as a chunk's does.
            if (value is not null && Header(headers, StateRecordFormat.BaseIdHeader) is { } id)
            {
                var owner = text[..separator];
                if (!_bases.TryGetValue(owner, out var versions))
                {
                    _bases[owner] = versions = new Dictionary<string, BaseVersion>(StringComparer.Ordinal);
                }

                versions[id] = new BaseVersion(++_baseVersions, value);
            }

            return;
        }

        if (separator >= 0)
        {
            // A chunk's tombstone only deletes it from a compacted topic; its version is dropped here once the key's
            // record says which version is the key's.
            if (value is not null
                && int.TryParse(text.AsSpan(separator + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                var owner = text[..separator];
                var version = Header(headers, StateRecordFormat.ChunkOfHeader) ?? string.Empty;
                if (!_chunks.TryGetValue(owner, out var versions))
                {
                    _chunks[owner] = versions = new Dictionary<string, ChunkVersion>(StringComparer.Ordinal);
                }

                if (!versions.TryGetValue(version, out var chunkVersion))
                {
                    versions[version] = chunkVersion = new ChunkVersion(++_chunkVersions);
                }

                chunkVersion.Parts[index] = value;
            }

            return;
        }

        var covers = StateRecord.ParseCovers(Header(headers, StateRecord.CoversHeader));
        if (_newest.TryGetValue(text, out var known) && CoversLess(covers, known.Covers))
        {
            Stale++;
            ForgetChunks(text, Header(headers, StateRecordFormat.ChunkOfHeader), keep: Header(known.Headers, StateRecordFormat.ChunkOfHeader));
            return;
        }

        _newest[text] = new Newest(value, partition, headers, covers);
        ForgetOlderChunks(text, Header(headers, StateRecordFormat.ChunkOfHeader));
        ForgetOlderBases(text, DeltaOf(headers).Id);
    }

    /// <summary>
    /// Every key that holds state, with its snapshot bytes (decoded, put together), partition, covered offsets and how
    /// many chunks it was written in; a key whose records cannot be put together is reported to
    /// <paramref name="unreadable"/> with the reason instead.
    /// </summary>
    public IEnumerable<RestoredState> States(Action<string, int, string> unreadable)
    {
        ArgumentNullException.ThrowIfNull(unreadable);
        foreach (var (key, newest) in _newest)
        {
            if (newest.Value is not { } value)
            {
                continue;
            }

            byte[] bytes;
            int chunks;
            try
            {
                bytes = Assemble(key, value, newest.Headers, out chunks);
            }
            catch (InvalidDataException e)
            {
                unreadable(key, newest.Partition, e.Message);
                continue;
            }

            var (slot, id) = DeltaOf(newest.Headers);
            if (id is not null)
            {
                try
                {
                    if (!_bases.TryGetValue(key, out var versions) || !versions.TryGetValue(id, out var baseVersion))
                    {
                        throw new InvalidDataException($"its record is a delta of base {slot}:{id}, which is not on the state topic");
                    }

                    bytes = StateDelta.Apply(baseVersion.Value, bytes);
                }
                catch (InvalidDataException e)
                {
                    unreadable(key, newest.Partition, e.Message);
                    continue;
                }
            }

            var origins = newest.Headers?.TryGetLastBytes(StateRecord.OriginsHeader, out var o) == true ? o : null;
            yield return new RestoredState(key, bytes, newest.Partition, newest.Covers, chunks) { Origins = origins, BaseSlot = id is null ? null : slot };
        }
    }

    /// <summary>Whether <paramref name="candidate"/> covers a lower offset of some input partition than <paramref name="known"/>.</summary>
    private static bool CoversLess(Dictionary<int, long> candidate, Dictionary<int, long> known)
    {
        foreach (var (partition, offset) in candidate)
        {
            if (known.TryGetValue(partition, out var before) && offset < before)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Forgets the chunks of a key's versions that came before those of <paramref name="kept"/> (the version its chosen
    /// record names; all of them when it has none): chunks that came after may be a newer version's, whose record is
    /// still to come.
    /// </summary>
    private void ForgetOlderChunks(string key, string? kept) => ForgetOlder(_chunks, key, kept, v => v.Order);

    /// <summary>
    /// Forgets the base records of a key that came before the one its newest record names (all of them when it names
    /// none): a base that came after may be for a delta still to come.
    /// </summary>
    private void ForgetOlderBases(string key, string? kept) => ForgetOlder(_bases, key, kept, v => v.Order);

    /// <summary>Forgets a key's versions that came before <paramref name="kept"/> (all of them when it is null or unknown).</summary>
    private static void ForgetOlder<T>(Dictionary<string, Dictionary<string, T>> byKey, string key, string? kept, Func<T, long> order)
    {
        if (!byKey.TryGetValue(key, out var versions))
        {
            return;
        }

        var before = kept is not null && versions.TryGetValue(kept, out var own) ? order(own) : long.MaxValue;
        foreach (var version in versions.Where(v => order(v.Value) < before).Select(v => v.Key).ToList())
        {
            versions.Remove(version);
        }

        if (versions.Count == 0)
        {
            byKey.Remove(key);
        }
    }

    /// <summary>The base slot and id a record's header says it is a delta of; (0, null) for a whole state.</summary>
    private static (int Slot, string? Id) DeltaOf(Headers? headers)
    {
        if (Header(headers, StateRecordFormat.DeltaOfHeader) is not { } text)
        {
            return (0, null);
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var slot)
            ? (slot, text[(colon + 1)..])
            : (0, text);
    }

    /// <summary>Forgets the chunks of a record passed over, unless they are those of the version kept.</summary>
    private void ForgetChunks(string key, string? version, string? keep)
    {
        if (version is not null && version != keep && _chunks.TryGetValue(key, out var versions) && versions.Remove(version) && versions.Count == 0)
        {
            _chunks.Remove(key);
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

        var id = Header(headers, StateRecordFormat.ChunkOfHeader) ?? string.Empty;
        using var whole = new MemoryStream(chunks * StateRecordFormat.ChunkBytes);
        var parts = _chunks.TryGetValue(key, out var versions) && versions.TryGetValue(id, out var own) ? own.Parts : null;
        for (var i = 0; i < chunks; i++)
        {
            if (parts is null || !parts.TryGetValue(i, out var chunk))
            {
                // Chunks of other versions are never mixed in: the key's record names the version it was written with.
                throw new InvalidDataException($"chunk {i} of {chunks} of the version its record names is missing");
            }

            whole.Write(chunk);
        }

        var bytes = whole.ToArray();
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != id)
        {
            throw new InvalidDataException($"the {chunks} chunks do not add up to the state they were written for");
        }

        return StateRecordFormat.Decode(bytes, encoding);
    }

    private sealed class ChunkVersion(long order)
    {
        public long Order { get; } = order;

        public Dictionary<int, byte[]> Parts { get; } = [];
    }

    private sealed record BaseVersion(long Order, byte[] Value);

    private sealed record Newest(byte[]? Value, int Partition, Headers? Headers, Dictionary<int, long> Covers);

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

    /// <summary>
    /// The base slot its record was a delta of (<see cref="StateRecordFormat"/>), or null when it was written whole: the
    /// key's next base goes to the other slot, so this one stays readable until a record names the new one.
    /// </summary>
    public int? BaseSlot { get; init; }
}

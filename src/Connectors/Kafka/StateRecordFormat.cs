using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// How a <see cref="StateRecord"/> is laid out on the state topic, so that a key's state of any size can be written
/// and read back (docs/reliability.md, "State records"):
/// <list type="bullet">
/// <item>up to <see cref="CompressAbove"/> bytes: one record, the snapshot's JSON as it is;</item>
/// <item>larger: the JSON gzip-compressed, with the header <c>kommune-encoding: gzip</c>;</item>
/// <item>still over <see cref="ChunkBytes"/>: the encoded bytes split into chunks, each a record of its own keyed
/// <c>{key}\u001f{index}</c> (the unit separator cannot occur in a sensor or area id), written first; then the key's
/// record with an empty value and headers naming the chunk count and the SHA-256 of the encoded whole, which the
/// reader checks (so chunks of an older, larger state are never mixed in). Chunks a smaller state no longer uses
/// are deleted with tombstones.</item>
/// </list>
/// A state of <see cref="DeltaFrom"/> bytes up to <see cref="CompressAbove"/> may be written as a delta
/// (<see cref="StateDelta"/>): the key's record holds what changed since a base, and names it in the header
/// <c>kommune-delta-of: {slot}:{id}</c>; the base itself is a record keyed <c>{key}\u001fb{slot}</c> with the header
/// <c>kommune-base-id</c>, written before the first delta of it. A key has two base slots and a new base goes to the one
/// its newest record does not name, so the base that record needs stays readable, also on a compacted topic.
/// Every record of a key goes to the key's partition of the state topic, in this order.
/// </summary>
public static class StateRecordFormat
{
    /// <summary>Values over this many bytes are compressed.</summary>
    public const int CompressAbove = 64 * 1024;

    /// <summary>Encoded values over this many bytes are split into chunks of at most this many (well under Kafka's 1 MB record limit).</summary>
    public const int ChunkBytes = 512 * 1024;

    /// <summary>The header naming the value's encoding (<c>gzip</c>); absent for plain JSON.</summary>
    public const string EncodingHeader = "kommune-encoding";

    /// <summary>On a key's record: how many chunk records hold its value.</summary>
    public const string ChunksHeader = "kommune-chunks";

    /// <summary>On a key's record and each of its chunks: the SHA-256 (hex) of the encoded value the chunks make up.</summary>
    public const string ChunkOfHeader = "kommune-chunk-of";

    /// <summary>States shorter than this are always written whole: a delta would save too little.</summary>
    public const int DeltaFrom = 2048;

    /// <summary>On a key's record written as a delta: <c>{slot}:{id}</c> of the base it is a delta of.</summary>
    public const string DeltaOfHeader = "kommune-delta-of";

    /// <summary>On a base record: its id.</summary>
    public const string BaseIdHeader = "kommune-base-id";

    /// <summary>The key of base slot <paramref name="slot"/> of <paramref name="key"/>.</summary>
    public static string BaseKey(string key, int slot) => string.Create(CultureInfo.InvariantCulture, $"{key}{ChunkSeparator}b{slot}");

    /// <summary>Separates a key from a chunk's index in a chunk record's key.</summary>
    public const char ChunkSeparator = '\u001f';

    /// <summary>The key of chunk <paramref name="index"/> of <paramref name="key"/>.</summary>
    public static string ChunkKey(string key, int index) => string.Create(CultureInfo.InvariantCulture, $"{key}{ChunkSeparator}{index}");

    /// <summary>
    /// The records that write <paramref name="state"/>, in order: chunks (if any), tombstones of the chunks the key's
    /// previous state had beyond the new count (<paramref name="previousChunks"/>), then the key's own record last.
    /// </summary>
    /// <param name="state">The state to write.</param>
    /// <param name="previousChunks">How many chunks the key's last written state had (0 when none or unknown).</param>
    /// <param name="chunks">How many chunks the new state has (0: one record).</param>
    public static List<Message<byte[]?, byte[]?>> Encode(StateRecord state, int previousChunks, out int chunks)
    {
        ArgumentNullException.ThrowIfNull(state);
        var messages = new List<Message<byte[]?, byte[]?>>(1);
        var headers = new Headers();
        if (state.Covers is { Count: > 0 } covers)
        {
            headers.Add(StateRecord.CoversHeader, Encoding.UTF8.GetBytes(StateRecord.FormatCovers(covers)));
        }

        if (state.Origins is { } origins)
        {
            headers.Add(StateRecord.OriginsHeader, origins);
        }

        if (state.DeltaOf is { } deltaOf)
        {
            if (state.Base is { } whole)
            {
                messages.Add(new Message<byte[]?, byte[]?>
                {
                    Key = Encoding.UTF8.GetBytes(BaseKey(state.Key, deltaOf.Slot)),
                    Value = whole,
                    Headers = [new Header(BaseIdHeader, Encoding.ASCII.GetBytes(deltaOf.Id))],
                });
            }

            headers.Add(DeltaOfHeader, Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{deltaOf.Slot}:{deltaOf.Id}")));
        }
        else if (state.DropBases)
        {
            messages.Add(new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(BaseKey(state.Key, 0)), Value = null });
            messages.Add(new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(BaseKey(state.Key, 1)), Value = null });
        }

        var value = state.Value;
        chunks = 0;
        if (value is not null && value.Length > CompressAbove)
        {
            value = Compress(value);
            headers.Add(EncodingHeader, "gzip"u8.ToArray());
        }

        if (value is not null && value.Length > ChunkBytes)
        {
            chunks = (value.Length + ChunkBytes - 1) / ChunkBytes;
            var id = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(value)));
            for (var i = 0; i < chunks; i++)
            {
                var start = i * ChunkBytes;
                messages.Add(new Message<byte[]?, byte[]?>
                {
                    Key = Encoding.UTF8.GetBytes(ChunkKey(state.Key, i)),
                    Value = value[start..Math.Min(value.Length, start + ChunkBytes)],
                    Headers = [new Header(ChunkOfHeader, id)],
                });
            }

            headers.Add(ChunksHeader, Encoding.ASCII.GetBytes(chunks.ToString(CultureInfo.InvariantCulture)));
            headers.Add(ChunkOfHeader, id);
            value = [];
        }

        for (var i = chunks; i < previousChunks; i++)
        {
            messages.Add(new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(ChunkKey(state.Key, i)), Value = null });
        }

        messages.Add(new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(state.Key),
            Value = value,
            Headers = headers.Count > 0 ? headers : null,
        });
        return messages;
    }

    private static byte[] Compress(byte[] value)
    {
        using var output = new MemoryStream(value.Length / 4);
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(value);
        }

        return output.ToArray();
    }

    /// <summary>Undoes the encoding named by <paramref name="encoding"/> (null: plain).</summary>
    /// <exception cref="InvalidDataException">The encoding is unknown or the bytes are not what it says.</exception>
    internal static byte[] Decode(byte[] value, string? encoding)
    {
        switch (encoding)
        {
            case null:
                return value;
            case "gzip":
                using (var input = new GZipStream(new MemoryStream(value), CompressionMode.Decompress))
                using (var output = new MemoryStream(value.Length * 4))
                {
                    input.CopyTo(output);
                    return output.ToArray();
                }

            default:
                throw new InvalidDataException($"unknown encoding '{encoding}'");
        }
    }
}

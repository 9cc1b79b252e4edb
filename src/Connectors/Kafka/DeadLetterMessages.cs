using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;

namespace Kommune.Connectors.Kafka;

/// <summary>How much of a dead letter's original record its Kafka record holds, from the most to the least.</summary>
internal enum DeadLetterForm
{
    /// <summary>The original key and value, unchanged.</summary>
    Whole = 0,

    /// <summary>The first <see cref="DeadLetterMessages.PrefixBytes"/> bytes of the value (and of a key that long).</summary>
    Prefix = 1,

    /// <summary>No value; the key cut as in <see cref="Prefix"/>. The headers still say what was left out.</summary>
    HeadersOnly = 2,

    /// <summary>Nothing could be written: the dead letter is only in the log.</summary>
    Abandoned = 3,
}

/// <summary>
/// Builds the Kafka record of a dead letter in one of its <see cref="DeadLetterForm"/>s. The reduced forms keep what
/// an operator needs to find and judge the original (its source coordinates, the reason, the length and SHA-256 of
/// what was left out, and its first bytes), so a record too large for the dead-letter topic, or refused by the
/// broker for what it holds, can still be dead-lettered instead of blocking its partition.
/// </summary>
internal static class DeadLetterMessages
{
    /// <summary>How many bytes of a value (or key) the <see cref="DeadLetterForm.Prefix"/> form keeps.</summary>
    public const int PrefixBytes = 1024;

    /// <summary>The reason header is cut to this many characters (a rule's exception message can be long).</summary>
    public const int MaxReasonChars = 1000;

    /// <summary>What the whole form's record holds, in bytes: key, value and headers.</summary>
    public static int WholeSize(DeadLetter deadLetter) =>
        (deadLetter.Key?.Length ?? 0) + (deadLetter.Value?.Length ?? 0) + Encoding.UTF8.GetByteCount(deadLetter.Reason) + 256;

    /// <summary>The record for <paramref name="form"/>; <paramref name="refused"/> says why a reduced form was chosen.</summary>
    public static Message<byte[]?, byte[]?> Build(DeadLetter deadLetter, DeadLetterForm form, string? refused)
    {
        var reason = deadLetter.Reason.Length > MaxReasonChars ? deadLetter.Reason[..MaxReasonChars] + "…" : deadLetter.Reason;
        var headers = new Headers
        {
            { DeadLetterHeaders.Reason, Encoding.UTF8.GetBytes(reason) },
            { DeadLetterHeaders.Stage, Encoding.UTF8.GetBytes(deadLetter.Stage.Label) },
            { DeadLetterHeaders.Code, Encoding.UTF8.GetBytes(deadLetter.Code.Label) },
            { DeadLetterHeaders.SourceTopic, Encoding.UTF8.GetBytes(deadLetter.SourceTopic) },
            { DeadLetterHeaders.SourcePartition, Decimal(deadLetter.SourcePartition) },
            { DeadLetterHeaders.SourceOffset, Decimal(deadLetter.SourceOffset) },
        };
        if (form == DeadLetterForm.Whole)
        {
            return new Message<byte[]?, byte[]?> { Key = deadLetter.Key, Value = deadLetter.Value, Headers = headers };
        }

        var value = deadLetter.Value;
        headers.Add(DeadLetterHeaders.ValueForm, Encoding.UTF8.GetBytes(form == DeadLetterForm.Prefix ? "prefix" : "none"));
        headers.Add(DeadLetterHeaders.ValueLength, Decimal(value?.Length ?? -1));
        if (value is not null)
        {
            headers.Add(DeadLetterHeaders.ValueSha256, Sha256(value));
        }

        if (refused is not null)
        {
            headers.Add(DeadLetterHeaders.Refused, Encoding.UTF8.GetBytes(refused.Length > MaxReasonChars ? refused[..MaxReasonChars] + "…" : refused));
        }

        var key = deadLetter.Key;
        if (key is { Length: > PrefixBytes })
        {
            headers.Add(DeadLetterHeaders.KeyLength, Decimal(key.Length));
            headers.Add(DeadLetterHeaders.KeySha256, Sha256(key));
            key = key[..PrefixBytes];
        }

        return new Message<byte[]?, byte[]?>
        {
            Key = key,
            Value = form == DeadLetterForm.Prefix && value is not null ? value[..Math.Min(value.Length, PrefixBytes)] : null,
            Headers = headers,
        };
    }

    /// <summary>Lowercase hex SHA-256 of <paramref name="bytes"/>, for logs and headers.</summary>
    public static string Sha256Hex(byte[]? bytes) => bytes is null ? "-" : Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static byte[] Sha256(byte[] bytes) => Encoding.ASCII.GetBytes(Sha256Hex(bytes));

    private static byte[] Decimal(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));
}

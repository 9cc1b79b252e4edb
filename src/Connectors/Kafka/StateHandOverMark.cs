using System.Globalization;
using System.Text;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The record a node writes last into a state partition when it hands the partition over gracefully after every key of
/// it wrote its whole state (docs/reliability.md, "Restoring after a graceful stop"): it names the partition's end offset
/// from before those writes. While it is the partition's last record, the records from that offset on restore the same
/// states as all of the partition's records, so a restore starts there (as a Kafka Streams task restarts from the
/// changelog offsets of its checkpoint file after a clean shutdown). Its key cannot be a state key: it starts with
/// <see cref="StateRecordFormat.ChunkSeparator"/>, which no sensor or area id holds.
/// </summary>
public static class StateHandOverMark
{
    /// <summary>The mark's key.</summary>
    public const string Key = "\u001fhanded-over";

    private static readonly byte[] KeyBytes = Encoding.UTF8.GetBytes(Key);

    private const string Prefix = "restore-from=";

    /// <summary>The mark for state partition <paramref name="partition"/>, whose records from <paramref name="restoreFrom"/> on hold every key's state.</summary>
    public static StateRecord For(int partition, long restoreFrom)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(restoreFrom);
        return new StateRecord(Key, Encoding.UTF8.GetBytes(Prefix + restoreFrom.ToString(CultureInfo.InvariantCulture)), partition);
    }

    /// <summary>Whether <paramref name="key"/> (a record's key bytes) is a mark's.</summary>
    public static bool IsMark(ReadOnlySpan<byte> key) => key.SequenceEqual(KeyBytes);

    /// <summary>The offset a mark's value names; false when the value is not a mark's.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out long restoreFrom)
    {
        restoreFrom = -1;
        Span<char> text = stackalloc char[64];
        if (value.Length > text.Length || !Encoding.UTF8.TryGetChars(value, text, out var length))
        {
            return false;
        }

        var chars = text[..length];
        return chars.StartsWith(Prefix, StringComparison.Ordinal)
            && long.TryParse(chars[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out restoreFrom);
    }
}

using System.Globalization;
using System.Text;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The record a node writes last into a state partition when it hands the partition over gracefully after every key of
/// it wrote its whole state (docs/reliability.md, "Restoring after a graceful stop"): it names the partition's end offset
/// from before those writes. While it is the partition's last record, the records from that offset on restore the same
/// states as all of the partition's records, so a restore starts there (as a Kafka Streams task restarts from the
/// changelog offsets of its checkpoint file after a clean shutdown). Its key cannot be a state key: it starts with
/// <see cref="StateRecordFormat.ChunkSeparator"/>, which no sensor or area id holds. It also names the earliest
/// processing-time timer among the partition's keys (an escalation's deadline, say), so that a restore can read first the
/// partitions whose timers are already due: their outputs are the ones overdue.
/// </summary>
public static class StateHandOverMark
{
    /// <summary>The mark's key.</summary>
    public const string Key = "\u001fhanded-over";

    private static readonly byte[] KeyBytes = Encoding.UTF8.GetBytes(Key);

    private const string Prefix = "restore-from=";

    // Written after the offset only when the partition's keys have a processing-time timer; a reader that knows only the
    // offset finds no mark in such a value and reads the partition whole, which is slower but never wrong.
    private const string FirstTimerField = ";first-timer=";

    /// <summary>
    /// The mark for state partition <paramref name="partition"/>, whose records from <paramref name="restoreFrom"/> on hold
    /// every key's state, and whose keys' earliest processing-time timer is <paramref name="firstTimer"/> (null: none has one).
    /// </summary>
    public static StateRecord For(int partition, long restoreFrom, DateTimeOffset? firstTimer = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(restoreFrom);
        var value = Prefix + restoreFrom.ToString(CultureInfo.InvariantCulture)
            + (firstTimer is { } due ? FirstTimerField + Math.Max(0, due.ToUnixTimeMilliseconds()).ToString(CultureInfo.InvariantCulture) : "");
        return new StateRecord(Key, Encoding.UTF8.GetBytes(value), partition);
    }

    /// <summary>Whether <paramref name="key"/> (a record's key bytes) is a mark's.</summary>
    public static bool IsMark(ReadOnlySpan<byte> key) => key.SequenceEqual(KeyBytes);

    /// <summary>The offset a mark's value names; false when the value is not a mark's.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out long restoreFrom) => TryRead(value, out restoreFrom, out _);

    /// <summary>
    /// The offset a mark's value names, and the earliest processing-time timer of its partition's keys (null when none had
    /// one, or the mark was written before marks named it); false when the value is not a mark's.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out long restoreFrom, out DateTimeOffset? firstTimer)
    {
        restoreFrom = -1;
        firstTimer = null;
        Span<char> text = stackalloc char[96];
        if (value.Length > text.Length || !Encoding.UTF8.TryGetChars(value, text, out var length))
        {
            return false;
        }

        var chars = text[..length];
        if (!chars.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        chars = chars[Prefix.Length..];
        var timer = chars.IndexOf(FirstTimerField, StringComparison.Ordinal);
        if (timer >= 0)
        {
            if (!long.TryParse(chars[(timer + FirstTimerField.Length)..], NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
                || milliseconds > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            {
                return false;
            }

            firstTimer = DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
            chars = chars[..timer];
        }

        return long.TryParse(chars, NumberStyles.None, CultureInfo.InvariantCulture, out restoreFrom);
    }
}

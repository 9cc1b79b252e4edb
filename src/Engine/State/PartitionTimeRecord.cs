using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kommune.Connectors.Kafka;

namespace Kommune.Engine;

/// <summary>
/// A state-topic record of how far event time had come on one sensor partition as of an offset: written before each
/// at-least-once commit of the partition (as of the offset committed) and when its node hands it over cleanly (every
/// event it had taken handled, its keys' state written). Its own watermark, and in the record's covers that offset. The
/// next owner, or the node restarted after a crash, starts the partition from it (as Kafka Streams resumes a task's
/// stream time from its commit), so a partition that gets no new event there neither holds area time back nor leaves its
/// restored keys' event-time timers waiting. Key <c>partition-time:&lt;partition&gt;</c>, in the state partition of the
/// partition's keys.
/// </summary>
internal static class PartitionTimeRecord
{
    private const string Prefix = "partition-time:";

    /// <summary>The record's key for a sensor partition.</summary>
    public static string Key(int partition) => Prefix + partition.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether a state-topic key is one of these records' (no rule state).</summary>
    public static bool IsKey(string key) => key.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The record's value: <c>{"partition":3,"watermark":"…"}</c>.</summary>
    public static byte[] Encode(int partition, DateTimeOffset watermark) =>
        JsonSerializer.SerializeToUtf8Bytes(new Value(partition, watermark.ToUniversalTime()));

    /// <summary>
    /// The state-topic record of <paramref name="time"/> for sensor partition <paramref name="partition"/>: in the state
    /// partition of its keys (of <paramref name="statePartitions"/>), its covers the offset after the events it includes.
    /// </summary>
    public static StateRecord For(int partition, PartitionTime time, int statePartitions) =>
        new(Key(partition), Encode(partition, time.Watermark), partition % statePartitions, new Dictionary<int, long> { [partition] = time.Next });

    /// <summary>Reads a value written by <see cref="Encode"/>; false (with the reason) when it is not one.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> json, out int partition, out DateTimeOffset watermark, out string? reason)
    {
        (partition, watermark, reason) = (-1, default, null);
        try
        {
            var value = JsonSerializer.Deserialize<Value>(json);
            if (value is null || value.Partition < 0)
            {
                reason = "a partition time record needs a partition (0 or more) and a watermark";
                return false;
            }

            (partition, watermark) = (value.Partition, value.Watermark);
            return true;
        }
        catch (JsonException e)
        {
            reason = e.Message;
            return false;
        }
    }

    private sealed record Value(
        [property: JsonRequired, JsonPropertyName("partition")] int Partition,
        [property: JsonRequired, JsonPropertyName("watermark")] DateTimeOffset Watermark);
}

/// <summary>How far event time had come on a sensor partition (at a commit or its hand-over), and the offset after the events that includes.</summary>
/// <param name="Watermark">The partition's own watermark.</param>
/// <param name="Next">The offset after the newest event it includes (−1 when not known).</param>
internal readonly record struct PartitionTime(DateTimeOffset Watermark, long Next);

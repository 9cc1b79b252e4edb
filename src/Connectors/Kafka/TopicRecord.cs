namespace Kommune.Connectors.Kafka;

/// <summary>One record as a <see cref="KafkaTopicFollower"/> hands it over, without Kafka client types.</summary>
/// <param name="Topic">The topic it was read from.</param>
/// <param name="Partition">Its partition.</param>
/// <param name="Offset">Its offset.</param>
/// <param name="Key">The key bytes, or null.</param>
/// <param name="Value">The value bytes, or null (a tombstone).</param>
/// <param name="Headers">The headers, in order.</param>
/// <param name="Timestamp">The record's timestamp (when it was produced, or the broker's append time).</param>
public sealed record TopicRecord(
    string Topic,
    int Partition,
    long Offset,
    byte[]? Key,
    byte[]? Value,
    IReadOnlyList<KeyValuePair<string, byte[]>> Headers,
    DateTimeOffset Timestamp)
{
    /// <summary>The last value of header <paramref name="name"/> as UTF-8 text, or null.</summary>
    public string? Header(string name)
    {
        for (var i = Headers.Count - 1; i >= 0; i--)
        {
            if (Headers[i].Key == name)
            {
                return System.Text.Encoding.UTF8.GetString(Headers[i].Value);
            }
        }

        return null;
    }
}

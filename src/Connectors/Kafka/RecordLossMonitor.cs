using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Knows, per assigned partition, the next offset the consumer should take, and from that sees what does not follow:
/// records the broker deleted before they were read (a committed offset below the log's start after retention, or an
/// automatic offset reset of the client that jumped over records), which it counts and logs as lost; and records the
/// client delivers a second time in one assignment, which are not to be taken again. Owned by the consume loop's
/// thread, except <see cref="ClientLogged"/> (the client's log thread) and <see cref="Lost"/> (any thread).
/// </summary>
internal sealed partial class RecordLossMonitor(ILogger logger)
{
    private readonly Dictionary<TopicPartition, long> _expectedNext = [];
    private readonly ConcurrentDictionary<TopicPartition, byte> _offsetResets = new();
    private long _lost;
    private long _redelivered;

    /// <summary>Records the broker deleted before the consumer read them.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Records the client delivered again and that were not taken again.</summary>
    public long Redelivered => _redelivered;

    /// <summary>Consumption of <paramref name="partition"/> starts at <paramref name="offset"/>.</summary>
    public void StartsAt(TopicPartition partition, long offset) => _expectedNext[partition] = offset;

    /// <summary>
    /// Where consumption of a partition starts: its committed offset, or, when retention deleted records after it, the
    /// log's start <paramref name="low"/> (the records in between counted and logged as lost).
    /// </summary>
    public Offset StartAfterRetention(TopicPartitionOffset committed, Offset low)
    {
        if (committed.Offset.Value < low.Value)
        {
            var lost = low.Value - committed.Offset.Value;
            Interlocked.Add(ref _lost, lost);
            LogLost(logger, lost, committed.Topic, committed.Partition.Value, committed.Offset.Value, low.Value);
            return low;
        }

        return committed.Offset;
    }

    /// <summary>
    /// Whether the record at <paramref name="offset"/> was taken already in this assignment: the client handed it out
    /// again (seen after a pause, seek and resume of librdkafka). It is in flight or done, so taking it again would
    /// process it twice. Logged sampled.
    /// </summary>
    public bool IsRedelivered(TopicPartition partition, long offset)
    {
        if (!_expectedNext.TryGetValue(partition, out var next) || offset >= next)
        {
            return false;
        }

        var skipped = ++_redelivered;
        if (skipped <= 10 || skipped % 1000 == 0)
        {
            LogRedelivered(logger, skipped, partition.Topic, partition.Partition.Value, offset, next);
        }

        return true;
    }

    /// <summary>
    /// The record at <paramref name="offset"/> was taken: if the client reset the partition's offset since the last one,
    /// the records it jumped over are counted as lost. The next expected is the one after it.
    /// </summary>
    public void Taken(TopicPartition partition, long offset)
    {
        if (_offsetResets.TryRemove(partition, out _) && _expectedNext.TryGetValue(partition, out var expected) && offset > expected)
        {
            var lost = offset - expected;
            Interlocked.Add(ref _lost, lost);
            LogLost(logger, lost, partition.Topic, partition.Partition.Value, expected, offset);
        }

        _expectedNext[partition] = offset + 1;
    }

    /// <summary>The partition went to another consumer.</summary>
    public void Revoked(TopicPartition partition)
    {
        _expectedNext.Remove(partition);
        _offsetResets.TryRemove(partition, out _);
    }

    /// <summary>
    /// A line of the client's log: librdkafka reports an automatic offset reset only there ("topic [p]: offset reset
    /// (at offset N..."); the next record taken of that partition says how far it jumped.
    /// </summary>
    public void ClientLogged(LogMessage message)
    {
        if (message.Facility == "OFFSET" && OffsetResetPattern().Match(message.Message) is { Success: true } m)
        {
            var partition = new TopicPartition(m.Groups["topic"].Value, int.Parse(m.Groups["partition"].Value, CultureInfo.InvariantCulture));
            _offsetResets[partition] = 0;
        }
    }

    [GeneratedRegex(@"(?<topic>[^\s\]]+) \[(?<partition>\d+)\]: offset reset")]
    private static partial Regex OffsetResetPattern();

    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning, Message = "Skipped a record the client delivered again ({Count} so far): {Topic}[{Partition}] offset {Offset}, already taken up to {Next}")]
    private static partial void LogRedelivered(ILogger logger, long count, string topic, int partition, long offset, long next);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error,
        Message = "{Lost} records of {Topic}[{Partition}] were deleted by the broker before the engine read them (offsets {From} to {To} exclusive); continuing after them")]
    private static partial void LogLost(ILogger logger, long lost, string topic, int partition, long from, long to);
}

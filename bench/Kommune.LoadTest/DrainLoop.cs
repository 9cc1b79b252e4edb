using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Kommune.Rules.Model;

namespace Kommune.LoadTest;

/// <summary>
/// The hand-written pipe of the drain benchmark: what a new user would write instead of the engine for the fall-alert
/// job. One thread consumes the input topic in a new group from the earliest offset, reads each value's top-level
/// <c>type</c> (and nothing else) and produces the falls, unchanged, to the output topic through an idempotent
/// producer. An input offset is stored for commit only when no fall at or before it waits for its acknowledgement:
/// at-least-once, as the engine.
/// </summary>
internal sealed class DrainLoop : IDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _input;
    private readonly string _output;
    private readonly long _events;
    private readonly long _start;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, SortedSet<long>> _unacknowledged = []; // falls produced, not yet acknowledged, by input partition
    private readonly Dictionary<int, long> _consumedUpTo = []; // the last offset consumed, by input partition (the consuming thread's)
    private long _consumed;
    private long _falls;
    private long _acknowledged;
    private long _failed;
    private long _assignedAt;
    private long _readAt;

    /// <param name="start">The Stopwatch timestamp the run is timed from (taken before this is made).</param>
    public DrainLoop(string bootstrapServers, string input, string output, long events, long start)
    {
        _input = input;
        _output = output;
        _events = events;
        _start = start;
        _consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            GroupId = $"bench-drain-loop-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            FetchWaitMaxMs = 5,
        }).SetLogHandler((_, _) => { })
            .SetPartitionsAssignedHandler((_, _) => Interlocked.CompareExchange(ref _assignedAt, Stopwatch.GetTimestamp(), 0))
            .Build();
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            SocketNagleDisable = true,
            EnableIdempotence = true,
            LingerMs = 5,
            ClientId = "bench-drain-loop",
        }).SetLogHandler((_, _) => { }).Build();
        _consumer.Subscribe(input);
    }

    /// <summary>Input records consumed.</summary>
    public long Consumed => Interlocked.Read(ref _consumed);

    /// <summary>Falls produced to the output topic.</summary>
    public long Falls => Interlocked.Read(ref _falls);

    /// <summary>Falls the broker acknowledged.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Falls the broker refused (the run fails if any).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>When the group gave the consumer its partitions (Stopwatch timestamp), 0 before.</summary>
    public long AssignedAt => Interlocked.Read(ref _assignedAt);

    /// <summary>When the last input record was consumed (Stopwatch timestamp), 0 before.</summary>
    public long ReadAt => Interlocked.Read(ref _readAt);

    /// <summary>
    /// Runs on the calling thread until every input record is consumed and every fall acknowledged, and returns the
    /// Stopwatch timestamp of that moment; null if <paramref name="timeout"/> (from the start) ran out first.
    /// </summary>
    public long? Run(TimeSpan timeout)
    {
        var deadline = _start + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Consumed < _events)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return null;
            }

            var r = _consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null || r.IsPartitionEOF)
            {
                continue;
            }

            var partition = r.Partition.Value;
            var offset = r.Offset.Value;
            if (IsFall(r.Message.Value))
            {
                lock (_gate)
                {
                    if (!_unacknowledged.TryGetValue(partition, out var waiting))
                    {
                        _unacknowledged[partition] = waiting = [];
                    }

                    waiting.Add(offset);
                }

                Produce(new Message<byte[], byte[]> { Key = r.Message.Key, Value = r.Message.Value }, partition, offset);
                Interlocked.Increment(ref _falls);
            }

            _consumedUpTo[partition] = offset;

            if (Interlocked.Increment(ref _consumed) % 1000 == 0)
            {
                StoreOffsets();
            }
        }

        Interlocked.Exchange(ref _readAt, Stopwatch.GetTimestamp());
        var left = deadline - Stopwatch.GetTimestamp();
        if (left <= 0 || _producer.Flush(TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency)) > 0)
        {
            return null;
        }

        // Flush returns when the delivery reports are out of librdkafka; the handlers run on Confluent's poll thread.
        while (Acknowledged + Failed < Falls)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return null;
            }

            Thread.Yield();
        }

        var done = Stopwatch.GetTimestamp();
        StoreOffsets();
        return done;
    }

    /// <summary>Commits the stored offsets (after the timing) and leaves the group.</summary>
    public void Dispose()
    {
        try
        {
            StoreOffsets();
            _consumer.Commit();
        }
        catch (KafkaException)
        {
            // Nothing stored yet, or the group is gone: the run's figures do not depend on the commit.
        }

        _consumer.Close();
        _consumer.Dispose();
        _producer.Dispose();
    }

    /// <summary>Whether a sensor event's top-level <c>type</c> is <c>fall</c>; reads no further than that property.</summary>
    internal static bool IsFall(byte[]? value)
    {
        if (value is null)
        {
            return false;
        }

        var reader = new Utf8JsonReader(value);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                if (!reader.Read())
                {
                    return false;
                }

                if (isType)
                {
                    return reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(SensorTypes.Fall);
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Not JSON: not a fall.
        }

        return false;
    }

    private void Produce(Message<byte[], byte[]> message, int partition, long offset)
    {
        while (true)
        {
            try
            {
                _producer.Produce(_output, message, report =>
                {
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref _failed);
                        return; // stays unacknowledged: its offset is never stored
                    }

                    lock (_gate)
                    {
                        _unacknowledged[partition].Remove(offset);
                    }

                    Interlocked.Increment(ref _acknowledged);
                });
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(1));
            }
        }
    }

    /// <summary>Stores, per partition, the offset after the last record consumed, or the first fall still unacknowledged.</summary>
    private void StoreOffsets()
    {
        List<TopicPartitionOffset> safe;
        lock (_gate)
        {
            safe = [.. _consumedUpTo.Select(p => new TopicPartitionOffset(
                _input,
                p.Key,
                _unacknowledged.TryGetValue(p.Key, out var waiting) && waiting.Count > 0 ? waiting.Min : p.Value + 1))];
        }

        foreach (var offset in safe)
        {
            try
            {
                _consumer.StoreOffset(offset);
            }
            catch (KafkaException)
            {
                // Not assigned any more: the next owner starts from the last commit.
            }
        }
    }
}

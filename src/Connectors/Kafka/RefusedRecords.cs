using System.Collections.Concurrent;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// The output records the broker refused for good (too large, or invalid for what they hold), remembered for the
/// life of the engine node, across the restarts of its pipeline. In exactly-once mode such a refusal aborts the
/// epoch whose transaction held the record; when the epoch is redone, the sink writes the record's reduced form (or
/// its dead letter) at once instead of being refused again and aborting every epoch. Give every
/// <see cref="KafkaOutputSink"/> of one node the same instance. Bounded: the oldest entries are forgotten first.
/// </summary>
public sealed class RefusedRecords
{
    /// <summary>How many refusals are remembered.</summary>
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<string, Refusal> _refused = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private int _count; // _refused's count, read without the dictionary's locks (its IsEmpty takes every lock when empty)

    /// <summary>How many are remembered now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Whether none is remembered (the hot path's check before it builds an identity; takes no lock).</summary>
    internal bool IsEmpty => Count == 0;

    /// <summary>What was remembered of the record with this identity.</summary>
    internal bool TryGet(string identity, out Refusal refusal) => _refused.TryGetValue(identity, out refusal);

    /// <summary>Remembers (or raises) the form the record with this identity must be written in next time.</summary>
    internal void Remember(string identity, Refusal refusal)
    {
        if (_refused.TryGetValue(identity, out var known) && known.Level >= refusal.Level)
        {
            return;
        }

        if (_refused.TryAdd(identity, refusal))
        {
            Interlocked.Increment(ref _count);
            _order.Enqueue(identity);
            while (Count > Capacity && _order.TryDequeue(out var oldest))
            {
                if (_refused.TryRemove(oldest, out _))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
        }
        else
        {
            _refused[identity] = refusal;
        }
    }
}

/// <summary>A remembered refusal: the next form to try (a <see cref="DeadLetterForm"/> level) and the broker's words.</summary>
internal readonly record struct Refusal(int Level, string Reason);

/// <summary>A record the broker (or the producer) refused for what it holds: trying it again cannot help.</summary>
/// <param name="Code">The error.</param>
/// <param name="Reason">Its text.</param>
/// <param name="InTransaction">
/// Whether the record was in the open transaction, which must then abort (exactly-once mode); false when the producer
/// refused it before it entered any batch.
/// </param>
internal readonly record struct RecordRefusal(Confluent.Kafka.ErrorCode Code, string Reason, bool InTransaction)
{
    public override string ToString() => $"{Code}: {Reason}";
}

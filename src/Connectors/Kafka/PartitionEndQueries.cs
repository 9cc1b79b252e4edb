using System.Collections.Concurrent;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Kommune.Connectors.Kafka;

/// <summary>
/// Asks the broker where partitions' logs end without holding up the consume loop: the partitions asked together go in
/// one ListOffsets request (one per leader), answered on another thread, and the loop takes the answers at its next turn
/// (<see cref="Take"/>). A partition already asked is not asked again until its answer (or failure) is taken. Before,
/// the loop asked each partition in turn and waited for each answer: after a pause under backpressure it asked all 256
/// sensor partitions of the restore benchmark, about 40 ms each from a loaded broker, and read nothing for 10 s.
/// Owned by the consume loop's thread but for the answers, which any thread may add.
/// </summary>
/// <param name="admin">An admin client on the consumer's handle (its requests also wake the consumer's broker threads).</param>
/// <param name="timeout">How long one request may take.</param>
internal sealed class PartitionEndQueries(IAdminClient admin, TimeSpan timeout)
{
    private readonly HashSet<TopicPartition> _asked = [];
    private readonly ConcurrentQueue<Answer> _answers = new();
    private long _generation;

    /// <summary>Requests sent (for tests and diagnostics).</summary>
    public long Requests { get; private set; }

    /// <summary>Partitions asked whose answers have not been taken yet.</summary>
    public int Outstanding => _asked.Count;

    /// <summary>
    /// Asks where <paramref name="partitions"/> end now, in one request, leaving out those already asked. Each answer
    /// counts as of now: records written after this call may be past the end it gives.
    /// </summary>
    public void Ask(IEnumerable<TopicPartition> partitions, DateTime now)
    {
        List<TopicPartition>? batch = null;
        foreach (var tp in partitions)
        {
            if (_asked.Add(tp))
            {
                (batch ??= []).Add(tp);
            }
        }

        if (batch is not null)
        {
            Requests++;
            _ = AskAsync(batch, now, _generation);
        }
    }

    /// <summary>
    /// Forgets every question asked so far: answers to them are dropped when they come, and each partition may be asked
    /// again at once (what they said may be older than records that arrived since, as after a pause).
    /// </summary>
    public void Forget()
    {
        _generation++;
        _asked.Clear();
    }

    /// <summary>Hands the answers that came since the last call to <paramref name="monitor"/> (on the loop's thread).</summary>
    public void Take(PartitionMonitor monitor)
    {
        while (_answers.TryDequeue(out var answer))
        {
            if (answer.Generation != _generation)
            {
                continue; // asked before a Forget: the partition may have been asked again since
            }

            _asked.Remove(answer.Partition);
            if (answer.End >= 0)
            {
                monitor.ConfirmedEnd(answer.Partition, answer.End, answer.AskedAt);
            }
        }
    }

    /// <summary>
    /// Where <paramref name="partitions"/> end now, in one request, waiting at most <paramref name="wait"/> for it (on the
    /// loop's thread, when what comes next must know); the partitions not answered in time are left out.
    /// </summary>
    public IReadOnlyDictionary<TopicPartition, long> EndsNow(IReadOnlyCollection<TopicPartition> partitions, TimeSpan wait)
    {
        if (partitions.Count == 0)
        {
            return new Dictionary<TopicPartition, long>();
        }

        Requests++;
        var ends = ListAsync(partitions);
        return ends.Wait(wait) ? ends.Result : new Dictionary<TopicPartition, long>();
    }

    private async Task AskAsync(List<TopicPartition> batch, DateTime askedAt, long generation)
    {
        var ends = await ListAsync(batch).ConfigureAwait(false);
        foreach (var tp in batch)
        {
            _answers.Enqueue(new Answer(tp, ends.GetValueOrDefault(tp, -1), askedAt, generation));
        }
    }

    /// <summary>One ListOffsets request for the latest offsets; never fails: a partition without an answer is left out.</summary>
    private async Task<Dictionary<TopicPartition, long>> ListAsync(IEnumerable<TopicPartition> partitions)
    {
        var ends = new Dictionary<TopicPartition, long>();
        try
        {
            var specs = partitions.Select(tp => new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Latest() }).ToList();
            var options = new ListOffsetsOptions { RequestTimeout = timeout, IsolationLevel = IsolationLevel.ReadUncommitted };
            var result = await admin.ListOffsetsAsync(specs, options).ConfigureAwait(false);
            Collect(result.ResultInfos, ends);
        }
        catch (ListOffsetsException partly)
        {
            Collect(partly.Result.ResultInfos, ends); // the partitions answered; the others stay unconfirmed
        }
        catch (Exception)
        {
            // Unanswered (the broker is slow or down, or the client is closing): the partitions stay unconfirmed, so they
            // do not count as caught up once what was known grows old, and may be asked again.
        }

        return ends;
    }

    private static void Collect(IEnumerable<ListOffsetsResultInfo> infos, Dictionary<TopicPartition, long> ends)
    {
        foreach (var info in infos)
        {
            var answer = info.TopicPartitionOffsetError;
            if (!answer.Error.IsError && answer.Offset.Value >= 0)
            {
                ends[answer.TopicPartition] = answer.Offset.Value;
            }
        }
    }

    private readonly record struct Answer(TopicPartition Partition, long End, DateTime AskedAt, long Generation);
}

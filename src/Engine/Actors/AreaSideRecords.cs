using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// Sends the events of a dispatch batch that area rules want to the repartition topic: one record per partition with
/// all of that partition's events of the batch, in the batch's order (<see cref="RepartitionKind.Events"/>; a single
/// event as its own <see cref="RepartitionKind.Event"/> record; more than one when they pass
/// <see cref="MaxRecordBytes"/>), instead of one record per event. Each event completes once the broker has its record.
/// Owned by the router (one actor's, not shared); events it sends are marked so that their areas do not send them again
/// (<see cref="RoutedEvent.SentToAreaSide"/>).
/// </summary>
internal sealed class AreaSideRecords(EngineContext engine)
{
    private readonly BatchByKey<int, RoutedEvent> _byPartition = new();

    /// <summary>
    /// The most bytes of events one record carries: a batch of large events goes out as several records, so none comes near
    /// the producer's message.max.bytes (1 MB by default), which a record of single events (at most MaxEventBytes) never
    /// reached either. An event larger than this goes alone, as before.
    /// </summary>
    public const int MaxRecordBytes = 256 * 1024;

    /// <summary>Sends the events of <paramref name="batch"/> that area rules want (those consumed with their bytes).</summary>
    public void Send(RoutedEvent[] batch)
    {
        try
        {
            var rules = engine.Rules;
            foreach (var routed in batch)
            {
                var consumed = routed.Consumed;
                if (consumed.Source.Value is null || !RuleInterest.AreaRulesWant(rules, consumed.Event))
                {
                    continue; // no bytes to forward (an event made in this process): its area encodes and sends it
                }

                _byPartition.Add(engine.AreaTask(consumed.Event.AreaId), routed);
            }

            foreach (var (partition, group) in _byPartition.Groups)
            {
                SendGroup(partition, group);
            }
        }
        finally
        {
            _byPartition.Clear();
        }
    }

    // A partition's events of the batch, in records of at most MaxRecordBytes of events each.
    private void SendGroup(int partition, List<RoutedEvent> group)
    {
        var first = 0;
        var bytes = 0;
        for (var i = 0; i < group.Count; i++)
        {
            var size = group[i].Consumed.Source.Value!.Length;
            if (i > first && bytes + size > MaxRecordBytes)
            {
                SendRecord(partition, group, first, i - first);
                (first, bytes) = (i, 0);
            }

            bytes += size;
        }

        SendRecord(partition, group, first, group.Count - first);
    }

    private void SendRecord(int partition, List<RoutedEvent> group, int first, int count)
    {
        if (count == 1)
        {
            SendAlone(engine, group[first]);
            return;
        }

        var events = new (byte[], string)[count];
        var sent = group.GetRange(first, count).ToArray();
        for (var i = 0; i < sent.Length; i++)
        {
            var source = sent[i].Consumed.Source;
            events[i] = (source.Value!, Origin(source));
            sent[i].SentToAreaSide = true;
            sent[i].Completion.Add();
        }

        engine.Sink.Send(partition, RepartitionCodec.Events(events), () =>
        {
            foreach (var routed in sent)
            {
                routed.Completion.Done();
            }
        });
    }

    /// <summary>
    /// Sends <paramref name="routed"/> as a record of its own (<see cref="RepartitionKind.Event"/>): in the bytes it was
    /// consumed in when it has them, encoded otherwise (an event made in this process). It completes once the broker has
    /// the record. What the router does for a partition's only event of a batch, and an area actor for an event that
    /// came alone.
    /// </summary>
    public static void SendAlone(EngineContext engine, RoutedEvent routed)
    {
        var sensorEvent = routed.Consumed.Event;
        var source = routed.Consumed.Source;
        var origin = Origin(source);
        var record = source.Value is { } consumedBytes
            ? RepartitionCodec.Event(sensorEvent.AreaId, consumedBytes, origin) // the bytes it came in: not encoded again
            : RepartitionCodec.Event(sensorEvent, origin);
        routed.SentToAreaSide = true;
        routed.Completion.Add(); // before the send: the acknowledgement may come at once
        engine.Sink.Send(engine.AreaTask(sensorEvent.AreaId), record, routed.Completion.Done);
    }

    // As the area sent it: the event's partition and offset (the same when a crash or rebalance makes it be sent again).
    private static string Origin(RecordSource source) => RepartitionCodec.EventOrigin(source.Partition, source.Offset, -1);
}

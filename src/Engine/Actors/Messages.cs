using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>
/// A consumed event on its way to its area and sensor, with the watermark it was dispatched under; it is its own
/// <see cref="EventCompletion"/>.
/// </summary>
internal sealed class RoutedEvent(ConsumedEvent consumed, DateTimeOffset watermark, EngineCounters counters)
    : EventCompletion(consumed, counters)
{
    /// <summary>The event as consumed.</summary>
    public ConsumedEvent Consumed => (ConsumedEvent)Record;

    // As UTC ticks: a DateTimeOffset takes 16 bytes in an object, a long 8, and there is one of these per event.
    private readonly long _watermark = watermark.UtcTicks;

    /// <summary>
    /// Whether the router sent it to the repartition topic already (<see cref="AreaSideRecords"/>): its area does not.
    /// Set before the router sends it on; read by its area, after.
    /// </summary>
    public bool SentToAreaSide { get; set; }

    /// <summary>The watermark of its partition when it was dispatched (in UTC).</summary>
    public DateTimeOffset Watermark => new(_watermark, TimeSpan.Zero);
}

/// <summary>
/// Events of one dispatch batch, each with its partition's order kept: the engine sends its router one of these per
/// batch, and the router sends each area one with the area's events (a single event goes as itself), so actor messages
/// are per batch and area rather than per event.
/// </summary>
internal sealed class RoutedEvents(RoutedEvent[] events)
{
    /// <summary>The events, in dispatch order.</summary>
    public RoutedEvent[] Events { get; } = events;
}

/// <summary>
/// The engine's watermark moved forward: event-time timers it passes may fire. Every actor that gets it takes a part of
/// <paramref name="Barrier"/> (when there is one) and gives it back once it has handled it, so the engine knows when
/// every fact those timers emitted has been sent, and only then tells the area side how far event time has come.
/// <paramref name="Partitions"/> has, for every partition the engine tracked when it was made, the watermark its keys go
/// by (<see cref="Kommune.Rules.Runtime.WatermarkTracker.WatermarkOf"/>: the engine's, or a lower one of its own).
/// </summary>
internal sealed record WatermarkAdvanced(DateTimeOffset Watermark, Countdown? Barrier = null, IReadOnlyDictionary<int, DateTimeOffset>? Partitions = null)
{
    /// <summary>
    /// The watermark for the keys of a partition; null when this announcement does not cover it: a partition assigned
    /// after it was made (its keys, restored meanwhile, must not take the engine's watermark: their partition's backlog
    /// is still to come, and a window it closes early would drop those events), or a key that has no partition yet.
    /// Without <see cref="Partitions"/> (tests of a single actor), the engine's.
    /// </summary>
    public DateTimeOffset? For(int? partition)
    {
        if (Partitions is not { } partitions)
        {
            return Watermark;
        }

        return partition is { } p && partitions.TryGetValue(p, out var own) ? own : null;
    }

    /// <summary>
    /// The highest watermark any key of this announcement goes by: a key whose earliest event-time timer is due after it
    /// fires nothing on it, and need not be told.
    /// </summary>
    public DateTimeOffset Highest { get; } = HighestOf(Watermark, Partitions); // once, not in each of the areas it reaches

    private static DateTimeOffset HighestOf(DateTimeOffset watermark, IReadOnlyDictionary<int, DateTimeOffset>? partitions)
    {
        var highest = watermark;
        foreach (var own in partitions?.Values ?? [])
        {
            if (own > highest)
            {
                highest = own;
            }
        }

        return highest;
    }
}

/// <summary>
/// A record of the repartition topic for an area's rules (an event it wants, or a fact; or the area's events of a record
/// of several, each of whose areas has one of these, completing the record together through <paramref name="parent"/>),
/// with the area side's watermark and the partition's floors (<see cref="OriginLedger.Raise"/>).
/// </summary>
internal sealed class AreaRecord(ConsumedRepartitionRecord consumed, DateTimeOffset watermark, EngineCounters counters, IReadOnlyDictionary<int, long> floors, RepartitionRecord[]? parts = null, EventCompletion? parent = null)
    : EventCompletion(consumed, counters)
{
    /// <inheritdoc />
    protected override void Finished()
    {
        if (parent is not null)
        {
            parent.Done(); // one area's part of a record of several
        }
        else
        {
            base.Finished();
        }
    }

    /// <summary>The area's events of a record of several, in order; null when it carries the record's own event or fact.</summary>
    public RepartitionRecord[]? Parts { get; } = parts;

    /// <summary>
    /// Where an event of a record of several came from, for its dead letter: the record's place, with the event's own
    /// bytes and its area as the key (as a record of one event has).
    /// </summary>
    public static RecordSource SourceOf(RecordSource record, RepartitionRecord part) =>
        new(record.Topic, record.Partition, record.Offset, System.Text.Encoding.UTF8.GetBytes(part.Event!.AreaId), part.ContractJson);

    /// <summary>The record as consumed.</summary>
    public ConsumedRepartitionRecord Consumed => (ConsumedRepartitionRecord)Record;

    private readonly long _watermark = watermark.UtcTicks; // as RoutedEvent's

    /// <summary>The area side's watermark of its partition when it was dispatched (in UTC).</summary>
    public DateTimeOffset Watermark => new(_watermark, TimeSpan.Zero);

    /// <summary>The partition's floors when it was dispatched.</summary>
    public IReadOnlyDictionary<int, long> Floors { get; } = floors;

    /// <summary>The area.</summary>
    public string AreaId => Parts is { } parts ? parts[0].Event!.AreaId : Consumed.Record.Event?.AreaId ?? Consumed.Record.Fact!.AreaId;
}

/// <summary>
/// Records of the repartition topic from one dispatch batch, in their partitions' order: one message to the area side's
/// router per batch, and from it one per area (a single record goes as itself).
/// </summary>
internal sealed class AreaRecords(AreaRecord[] records)
{
    /// <summary>The records, in dispatch order.</summary>
    public AreaRecord[] Records { get; } = records;
}

/// <summary>
/// The area side's watermark of one repartition partition moved forward, on the watermark record
/// <paramref name="Completion"/> completes: each area takes a part of it and gives it back once what its rules sent on
/// the advance (a window's aggregate, a timer's alert) is acknowledged and the state it changed written, so the
/// record's offset is committed only after them, as an event's is.
/// </summary>
internal sealed record AreaWatermarkAdvanced(int Partition, DateTimeOffset Watermark, EventCompletion Completion);

/// <summary>
/// Partitions go to another node: every actor of them writes its state (unless <paramref name="Lost"/>: another node
/// already has them) and stops; each takes a part of <paramref name="Done"/> and gives it back once stopped. With
/// <paramref name="Whole"/>, every key that holds state writes it whole, changed or not.
/// </summary>
internal sealed record ReleasePartitions(IReadOnlySet<int> Partitions, bool Lost, Countdown Done, WholeStateHandOver? Whole = null);

/// <summary>
/// The rules were reloaded: every key carries its state over to the engine's current rules (<c>RuleReload</c>), and
/// each actor tells <paramref name="Progress"/> how many children it passes this on to, and when it has applied it.
/// </summary>
internal sealed record RulesChanged(RuleSet Rules, Reloads.RuleReloadProgress? Progress = null);


/// <summary>
/// From a sensor to its area: after handling its first <paramref name="Handled"/> events, its earliest event-time timer
/// is due at <paramref name="NextDue"/> (null: it has none), so it needs no watermark before that one passes, unless a
/// newer event sets an earlier timer (the area counts the events it delivers, and forwards every watermark to a sensor
/// that has not yet answered for all of them).
/// </summary>
internal sealed record WatermarkInterest(DateTimeOffset? NextDue, long Handled);

/// <summary>
/// An operations centre's command for the alert <c>Command.AlertId</c>, raised by the rules of <paramref name="SensorId"/>
/// (or of the area when null). <paramref name="Done"/> completes with null once handled and its outputs acknowledged,
/// or with the reason to dead-letter it.
/// </summary>
internal sealed record CommandMessage(AlertCommand Command, string? SensorId, string AreaId, TaskCompletionSource<string?> Done);

/// <summary>
/// A countdown of parts (the first is the creator's own): <see cref="Add()"/> before handing a part on, <see cref="Done"/>
/// once it is finished; the last <see cref="Done"/> runs the action, once.
/// </summary>
internal sealed class Countdown(Action whenDone) : ICountdown
{
    private int _parts = 1;

    public void Add() => Interlocked.Increment(ref _parts);

    public void Add(int parts) => Interlocked.Add(ref _parts, parts);

    public void Done()
    {
        if (Interlocked.Decrement(ref _parts) == 0)
        {
            whenDone();
        }
    }
}

/// <summary>Parts of a piece of work handed to several actors: <see cref="Add"/> before one is handed on, <see cref="Done"/> when it is finished.</summary>
internal interface ICountdown
{
    /// <summary>One more part must finish.</summary>
    void Add();

    /// <summary>A part finished.</summary>
    void Done();
}

/// <summary>To itself: the earliest processing-time timer is due.</summary>
internal sealed record ProcessingTimerDue
{
    public static ProcessingTimerDue Instance { get; } = new();
}

/// <summary>To itself: its state is written and it may stop (it is handing its partition over).</summary>
internal sealed record HandedOver
{
    public static HandedOver Instance { get; } = new();
}

/// <summary>
/// From the <see cref="CheckpointClock"/>, <see cref="EngineContext.WriteStateNow"/>, or the last acknowledgement of the
/// outputs that a key's checkpoint waited for: time to write the state changed since the last checkpoint. One sent to an actor that stopped in between is a dead letter, and not logged as one.
/// </summary>
internal sealed record Checkpoint : Akka.Event.IDeadLetterSuppression
{
    public static Checkpoint Instance { get; } = new();
}

/// <summary>
/// A key's state read back from the state topic (<paramref name="Raw"/> as written, from <paramref name="Partition"/>),
/// to restore before the key's first event; <paramref name="Header"/> is what it says about the key, and
/// <paramref name="Snapshot"/> the whole of it when it was already read (otherwise <see cref="Decode"/> reads it when the
/// key is restored); <paramref name="Covers"/> says up to which input offsets it includes, and an area's
/// <paramref name="Origins"/> which repartition records (<see cref="OriginLedger"/>).
/// </summary>
internal sealed record RestoreState(Kommune.Rules.Runtime.KeyedStateHeader Header, Kommune.Rules.Runtime.KeyedStateSnapshot? Snapshot, byte[] Raw, int Partition, IReadOnlyDictionary<int, long> Covers, byte[]? Origins = null, int? BaseSlot = null)
{
    /// <summary>The whole state.</summary>
    /// <exception cref="System.Text.Json.JsonException">The state is not a snapshot (its header was, so this is rare).</exception>
    public Kommune.Rules.Runtime.KeyedStateSnapshot Decode() => Snapshot ?? Kommune.Rules.Runtime.KeyedStateSnapshot.FromJson(Raw);

    /// <summary>
    /// The input partition of a sensor that fell asleep on this node (<see cref="FellAsleep"/>), which knew it; null for a
    /// state read from the state topic, whose record says it (<see cref="SensorTask"/>).
    /// </summary>
    public int? Task { get; init; }

    /// <summary>
    /// The input partition a sensor's state is of: <see cref="Task"/> when known, else the first it covers, or, for a
    /// state written without the offsets it covers, its state partition when those are the input partitions; null when
    /// not known.
    /// </summary>
    public int? SensorTask(int statePartitions, int taskPartitions) =>
        Task is { } task ? task
        : Covers.Count > 0 ? Covers.Keys.First()
        : statePartitions == taskPartitions ? Partition
        : null;
}

/// <summary>
/// From a sensor to its area as it stops for being idle while its rules hold state: <paramref name="State"/> is that state
/// as a restore would read it, to keep as its bytes until something needs the sensor (<see cref="DormantSensors"/>).
/// </summary>
internal sealed record FellAsleep(RestoreState State);

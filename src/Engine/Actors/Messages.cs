using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>A consumed event on its way to its area and sensor, with the watermark it was dispatched under.</summary>
internal sealed record RoutedEvent(ConsumedEvent Consumed, DateTimeOffset Watermark, EventCompletion Completion);

/// <summary>The engine's watermark moved forward: event-time timers it passes may fire.</summary>
internal sealed record WatermarkAdvanced(DateTimeOffset Watermark);

/// <summary>
/// The rules were reloaded: every key carries its state over to the engine's current rules (<c>RuleReload</c>), and
/// each actor tells <paramref name="Progress"/> how many children it passes this on to, and when it has applied it.
/// </summary>
internal sealed record RulesChanged(RuleSet Rules, Reloads.RuleReloadProgress? Progress = null);

/// <summary>A fact from a sensor's rules to its area's rules; <paramref name="Origin"/> is the event that caused it, if any.</summary>
internal sealed record FactMessage(Fact Fact, DateTimeOffset Watermark, RoutedEvent? Origin);

/// <summary>
/// From a sensor to its area. <c>Wanted = false</c>: it has no event-time timers after handling its first
/// <paramref name="Handled"/> events, so it needs no watermark updates until its next event. <c>Wanted = true</c>:
/// a timer handler set an event-time timer without a new event.
/// </summary>
internal sealed record WatermarkInterest(bool Wanted, long Handled);

/// <summary>
/// An operations centre's command for the alert <c>Command.AlertId</c>, raised by the rules of <paramref name="SensorId"/>
/// (or of the area when null). <paramref name="Done"/> completes with null once handled and its outputs acknowledged,
/// or with the reason to dead-letter it.
/// </summary>
internal sealed record CommandMessage(AlertCommand Command, string? SensorId, string AreaId, TaskCompletionSource<string?> Done);

/// <summary>To itself: the earliest processing-time timer is due.</summary>
internal sealed record ProcessingTimerDue
{
    public static ProcessingTimerDue Instance { get; } = new();
}

/// <summary>To itself: time to write the state changed since the last checkpoint.</summary>
internal sealed record Checkpoint
{
    public static Checkpoint Instance { get; } = new();
}

/// <summary>
/// A key's state read back from the state topic (<paramref name="Raw"/> as written, from <paramref name="Partition"/>),
/// to restore before the key's first event; <paramref name="Covers"/> says up to which input offsets it includes.
/// </summary>
internal sealed record RestoreState(Kommune.Rules.Runtime.KeyedStateSnapshot Snapshot, byte[] Raw, int Partition, IReadOnlyDictionary<int, long> Covers);

using Akka.Actor;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Api;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>
/// Sensors of one area kept as the bytes of their state, without an actor, until something needs them: their next event or
/// command, the watermark passing their earliest event-time timer, a rules reload, or the hand-over of their partition.
/// They come from a restore (a restart then makes no actor and reads no rule values for a sensor until it is needed,
/// instead of for every sensor with state before the first event is processed), and from sensors whose actors stopped
/// for being idle while their rules held state (<see cref="FellAsleep"/>: a road's windows, a meter's detector). Only
/// states that restoring would take as they are can wait (<see cref="MayKeep"/>). Owned by the area's actor, used only
/// from its message handlers.
/// </summary>
/// <param name="engine">The engine.</param>
/// <param name="area">The owning area's actor (named as the writer of the states it writes at a hand-over).</param>
internal sealed class DormantSensors(EngineContext engine, IActorRef area)
{
    private readonly Dictionary<string, RestoreState> _states = new(StringComparer.Ordinal);

    // Those of _states with an event-time timer: when it is due.
    private readonly Dictionary<string, DateTimeOffset> _due = new(StringComparer.Ordinal);

    /// <summary>How many sensors are kept.</summary>
    public int Count => _states.Count;

    /// <summary>
    /// Whether a sensor's state can wait as its bytes under <paramref name="rules"/>: restoring it would take it as it is
    /// (written by the bindings the area has now, not read whole yet), and nothing in it may need the sensor before its
    /// next event or the watermark passing its earliest event-time timer: no open alert (a command or an escalation may
    /// need it at any time) and no processing-time timer.
    /// </summary>
    public static bool MayKeep(RestoreState restore, RuleSet rules)
    {
        var header = restore.Header;
        return restore.Snapshot is null && header.Scope == RuleScope.Sensor && !header.HasOpenAlerts
            && header.NextProcessingTimeTimer is null && header.RestoresUnchangedUnder(rules);
    }

    /// <summary>Keeps a sensor's state if it can wait (<see cref="MayKeep"/> under the engine's rules); false when it cannot.</summary>
    public bool TryKeep(RestoreState restore)
    {
        var header = restore.Header;
        if (!MayKeep(restore, engine.Rules))
        {
            return false;
        }

        if (_states.TryAdd(header.Key, restore))
        {
            engine.Counters.DormantSensorKept();
        }
        else
        {
            _states[header.Key] = restore; // read again after a rebalance: the newer read
        }

        if (header.NextEventTimeTimer is { } due)
        {
            _due[header.Key] = due;
        }
        else
        {
            _due.Remove(header.Key);
        }

        return true;
    }

    /// <summary>Takes out the state of <paramref name="sensorId"/>, to restore it into its actor; null when it is not kept.</summary>
    public RestoreState? Take(string sensorId)
    {
        if (_states.Count == 0 || !_states.Remove(sensorId, out var restore))
        {
            return null;
        }

        _due.Remove(sensorId);
        engine.Counters.DormantSensorTaken();
        return restore;
    }

    /// <summary>Takes out, for <paramref name="wake"/>, every state with an event-time timer that <paramref name="watermark"/> has reached.</summary>
    public void TakeDue(DateTimeOffset watermark, Action<RestoreState> wake)
    {
        if (_due.Count == 0)
        {
            return;
        }

        List<string>? due = null;
        foreach (var (sensorId, time) in _due)
        {
            if (time <= watermark)
            {
                (due ??= []).Add(sensorId);
            }
        }

        foreach (var sensorId in due ?? [])
        {
            wake(Take(sensorId)!);
        }
    }

    /// <summary>
    /// The rules were reloaded: takes out, for <paramref name="wake"/>, every state that restoring under
    /// <paramref name="rules"/> would no longer take as it is (the reload changed a binding that wrote it).
    /// </summary>
    public void TakeChanged(RuleSet rules, Action<RestoreState> wake)
    {
        foreach (var (sensorId, restore) in _states.ToList())
        {
            if (!restore.Header.RestoresUnchangedUnder(rules))
            {
                wake(Take(sensorId)!);
            }
        }
    }

    /// <summary>
    /// Partitions go to another node: the states of their sensors leave this node. In a hand-over that writes every state
    /// whole (<see cref="ReleasePartitions.Whole"/>) each is written as it was read, taking a part of
    /// <see cref="ReleasePartitions.Done"/> until the broker has it; otherwise nothing is written (the state topic holds
    /// the state already), as for a sensor whose restored state did not change.
    /// </summary>
    public void HandOver(ReleasePartitions release)
    {
        foreach (var (sensorId, restore) in _states.ToList())
        {
            if (restore.SensorTask(engine.StatePartitions, engine.TaskPartitions) is { } task && !release.Partitions.Contains(task))
            {
                continue;
            }

            _states.Remove(sensorId);
            _due.Remove(sensorId);
            engine.Counters.DormantSensorTaken();
            if (!release.Lost && release.Whole is not null && restore.Header.Bindings.Count > 0)
            {
                WriteWhole(restore, release);
            }
        }
    }

    private void WriteWhole(RestoreState restore, ReleasePartitions release)
    {
        release.Done.Add();
        engine.StateBeingWritten(engine.StateUnwritten(area));
        var record = new StateRecord(StateKeys.Of(RuleScope.Sensor, restore.Header.Key), restore.Raw, restore.Partition, restore.Covers)
        {
            DropBases = restore.BaseSlot is >= 0,
        };
        engine.Sink.Send(record, () =>
        {
            engine.Counters.StateWrittenOnce();
            engine.StateWritten();
            release.Done.Done();
        });
    }
}

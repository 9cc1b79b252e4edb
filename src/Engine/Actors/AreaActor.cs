using Akka.Actor;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>
/// The sensors of one area on this node (those of its partitions of the sensor-events topic): the parent of their
/// actors, started on a sensor's first event that a sensor rule may want and passivated when idle. An event that an
/// area rule wants goes to the area's partition of the repartition topic, where the node owning that partition runs the
/// area's rules (<see cref="AreaRulesActor"/>): written by the router with the rest of its batch
/// (<see cref="AreaSideRecords"/>), or here when it came alone or without its bytes. A sensor restored from the state
/// topic waits without an actor until something needs it (<see cref="DormantSensors"/>), as does a sensor whose actor
/// fell asleep for being idle while its rules held state (<see cref="FellAsleep"/>). Forwards a watermark update only
/// to the sensors it may concern: those whose earliest event-time timer it passes (as each last said), and every sensor
/// that has not answered yet for each event passed to it or for its restored state (so a timer set by an event can
/// never miss the watermark that passes it); a dormant sensor is restored when a watermark passes its earliest
/// event-time timer. Asks its sensors whether they are idle every half sensor idle timeout (one timer for all of them).
/// Asks its own parent to stop it once it has no sensors, alive or dormant, and has been idle.
/// </summary>
internal sealed class AreaActor : ReceiveActor, IWithTimers
{
    private readonly EngineContext _engine;
    private readonly PassivatingChildren _sensors;
    private readonly DormantSensors _dormant;

    // Keyed by the sensors' actors, hashed by their incarnation (Akka's own hash code hashes the path's strings).
    // Not answered yet: every watermark goes to them.
    private readonly HashSet<IActorRef> _wantWatermark = new(ActorRefComparer.Instance);

    // Answered: a watermark goes to them once it passes this.
    private readonly Dictionary<IActorRef, DateTimeOffset> _due = new(ActorRefComparer.Instance);

    // Events delivered to each sensor, ever (its handled count's peer).
    private readonly Dictionary<IActorRef, long> _delivered = new(ActorRefComparer.Instance);

    private IdleClock _idle = null!;
    private bool _checkingIdle; // the message being handled is a timer's idle check (its own or its sensors'), not activity
    private DateTimeOffset _nextSensorIdleCheck; // when its sensors are next asked whether they are idle (CheckSensorsIdle)

    public AreaActor(EngineContext engine)
    {
        _engine = engine;
        _sensors = new PassivatingChildren(
            Context,
            SensorActor.Props(engine),
            engine.Counters.SensorStarted,
            engine.Counters.SensorStopped,
            (sensor, message) =>
            {
                if (message is RoutedEvent)
                {
                    _delivered[sensor] = _delivered.GetValueOrDefault(sensor) + 1;
                    _wantWatermark.Add(sensor);
                }
                else if (message is RestoreState)
                {
                    // Restored state may hold timers: watermarks go to it from now, not only once it has said so (a
                    // barrier passing in between would report time its timers have not reached).
                    _wantWatermark.Add(sensor);
                }
            });

        _dormant = new DormantSensors(engine, Self);
        Receive<RoutedEvent>(Handle);
        Action<RoutedEvent> handle = Handle;
        Receive<RoutedEvents>(batch => BatchHandling.Each(batch.Events, handle, engine.Counters));
        Receive<WatermarkAdvanced>(w =>
        {
            _dormant.TakeDue(w.Highest, Wake); // restored now, they are sent this watermark below
            foreach (var sensor in _wantWatermark)
            {
                Forward(sensor, w);
            }

            if (_due.Count > 0)
            {
                var highest = w.Highest;
                foreach (var (sensor, due) in _due)
                {
                    if (due <= highest && !_wantWatermark.Contains(sensor))
                    {
                        Forward(sensor, w);
                    }
                }
            }

            w.Barrier?.Done();
        });
        Receive<WatermarkInterest>(i =>
        {
            // Only an answer for every event delivered to it counts: an event still in its mailbox may set an earlier
            // timer. The count is kept across its answers: counted from one, a stale answer about fewer events settled
            // a sensor that had a newer event, and its window then closed after the area had emitted the minute.
            if (_delivered.GetValueOrDefault(Sender) > i.Handled)
            {
                return;
            }

            _wantWatermark.Remove(Sender);
            if (i.NextDue is { } due)
            {
                _due[Sender] = due;
            }
            else
            {
                _due.Remove(Sender);
            }
        });
        Receive<RestoreState>(r =>
        {
            if (_sensors.Contains(r.Header.Key) || !_dormant.TryKeep(r))
            {
                _sensors.Deliver(r.Header.Key, r, Self);
            }
        });
        Receive<FellAsleep>(f =>
        {
            // Its actor is stopping. Messages for it that came meanwhile (or a reload's changed rules) need it again: the
            // state goes ahead of them to its next incarnation.
            var sensorId = f.State.Header.Key;
            if (_sensors.HasWaiting(sensorId) || !_dormant.TryKeep(f.State))
            {
                _sensors.DeliverFirst(sensorId, f.State, Self);
            }
        });
        Receive<CommandMessage>(c =>
        {
            WakeIfDormant(c.SensorId!);
            _sensors.Deliver(c.SensorId!, c, Self);
        });
        Receive<RulesChanged>(c =>
        {
            _dormant.TakeChanged(_engine.Rules, Wake); // restored under the new rules, as a new sensor would be
            c.Progress?.Expect(_sensors.Running);
            _sensors.Broadcast(c, Self);
            c.Progress?.Done();
        });
        Receive<ReleasePartitions>(r =>
        {
            _sensors.TellAll(r, Self, r.Done);
            _dormant.HandOver(r);
            r.Done.Done();
        });
        Receive<Passivate>(_ => _sensors.Passivate(Sender));
        Receive<PassivationCancelled>(_ => _sensors.Cancelled(Sender));
        Receive<Terminated>(t =>
        {
            _wantWatermark.Remove(t.ActorRef);
            _due.Remove(t.ActorRef);
            _delivered.Remove(t.ActorRef);
            _sensors.Terminated(t.ActorRef);
        });
        Receive<CheckSensorsIdle>(_ =>
        {
            _checkingIdle = true;
            _sensors.Broadcast(IdleCheck.Instance, Self);
            CheckSensorsIdleNext();
        });
        Receive<IdleCheck>(_ =>
        {
            _checkingIdle = true;
            if (_idle.IsIdle() && CanStop)
            {
                Context.Parent.Tell(Passivate.Instance);
            }
        });
        Receive<ConfirmPassivation>(_ => Passivation.Confirm(Context, CanStop));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Whether stopping loses nothing: it has no sensors, alive or dormant.</summary>
    private bool CanStop => _sensors.Count == 0 && _dormant.Count == 0;

    protected override void PreStart()
    {
        _idle = new IdleClock(Context.System.Scheduler, Timers, _engine.Options.AreaIdleTimeout);
        _idle.Start();
        _nextSensorIdleCheck = Context.System.Scheduler.Now;
        CheckSensorsIdleNext();
    }

    // Every message but the idle checks counts as activity. The message seen here may still be wrapped (a timer's),
    // so the idle checks' handlers say when one of them was the one handled.
    protected override bool AroundReceive(Receive receive, object message)
    {
        _checkingIdle = false;
        var handled = base.AroundReceive(receive, message);
        if (!_checkingIdle)
        {
            _idle.Active();
        }

        return handled;
    }

    protected override SupervisorStrategy SupervisorStrategy() => EngineSupervision.ResumeAndCount(_engine.Counters);

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new AreaActor(engine));

    /// <summary>A dormant sensor is needed: its actor starts with its restored state, ahead of what needs it.</summary>
    private void WakeIfDormant(string sensorId)
    {
        if (_dormant.Take(sensorId) is { } restore)
        {
            Wake(restore);
        }
    }

    private void Wake(RestoreState restore) => _sensors.Deliver(restore.Header.Key, restore, Self);

    /// <summary>
    /// Sets the one timer that asks all its sensors whether they are idle, instead of a timer each (a timer and its
    /// registration cost a sensor about 500 bytes): every half idle timeout, counted from when the last one was due (not
    /// from when it was handled), so a sensor finds itself idle within one and a half idle timeouts of its last message.
    /// </summary>
    private void CheckSensorsIdleNext()
    {
        var half = _engine.Options.SensorIdleTimeout / 2;
        var now = Context.System.Scheduler.Now;
        _nextSensorIdleCheck += half;
        if (_nextSensorIdleCheck <= now)
        {
            _nextSensorIdleCheck = now + half; // handled a half timeout late or more: from now
        }

        Timers.StartSingleTimer(CheckSensorsIdle.Instance, CheckSensorsIdle.Instance, _nextSensorIdleCheck - now);
    }

    private void Forward(IActorRef sensor, WatermarkAdvanced w)
    {
        // A stopping sensor's events wait for its next incarnation: the watermark (and its barrier) goes after them.
        w.Barrier?.Add();
        _engine.Counters.WatermarkToSensor();
        _sensors.TellInOrder(sensor, w, Self);
    }

    private void Handle(RoutedEvent routed)
    {
        _engine.Counters.EventTakenByArea();
        var sensorEvent = routed.Consumed.Event;
        var rules = _engine.Rules;
        if (!routed.SentToAreaSide && RuleInterest.AreaRulesWant(rules, sensorEvent))
        {
            // To the area's rules, wherever its partition of the repartition topic is processed (unless the router sent
            // it with its batch); the event completes once the broker has it there.
            AreaSideRecords.SendAlone(_engine, routed);
        }

        if (RuleInterest.SensorRulesMayWant(rules, sensorEvent))
        {
            routed.Completion.Add();
            WakeIfDormant(sensorEvent.SensorId);
            _sensors.Deliver(sensorEvent.SensorId, routed, Self);
        }

        routed.Completion.Done();
    }
}

/// <summary>To an area itself, every half sensor idle timeout: ask its running sensors whether they are idle (<see cref="IdleCheck"/>).</summary>
internal sealed record CheckSensorsIdle
{
    public static CheckSensorsIdle Instance { get; } = new();
}

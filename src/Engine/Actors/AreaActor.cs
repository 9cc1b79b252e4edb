using Akka.Actor;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>
/// One area: hosts the area-scoped rules of that area (fed with its events and its sensors' facts) and is the
/// parent of its sensors' actors, started on a sensor's first event that a sensor rule may want and passivated
/// when idle. Forwards watermark updates only to sensors that may have event-time timers: every sensor it passed
/// an event since it last said it had none (so a timer set by an event can never miss the watermark that passes
/// it). Asks its own parent to stop it once it has no sensors, no rule state, and has been idle.
/// </summary>
internal sealed class AreaActor : ReceiveActor, IWithTimers
{
    private readonly EngineContext _engine;
    private readonly PassivatingChildren _sensors;
    private readonly HashSet<IActorRef> _wantWatermark = [];
    private readonly Dictionary<IActorRef, long> _delivered = []; // events delivered to each sensor, ever (its handled count's peer)
    private RuleHost? _rules;
    private string? _areaId;
    private IdleClock _idle = null!;
    private bool _checkingIdle;

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
                    // Restored state may hold timers: watermarks go to it from now, not only once it has said so.
                    _wantWatermark.Add(sensor);
                }
            });

        Receive<RoutedEvent>(Handle);
        Receive<FactMessage>(f =>
        {
            _rules?.OnFact(f);
            f.Origin?.Completion.Done();
        });
        Receive<WatermarkAdvanced>(w =>
        {
            _rules?.Advance(w.Watermark);
            foreach (var sensor in _wantWatermark)
            {
                sensor.Tell(w);
            }
        });
        Receive<WatermarkInterest>(i =>
        {
            if (i.Wanted)
            {
                _wantWatermark.Add(Sender);
            }
            else if (_delivered.GetValueOrDefault(Sender) <= i.Handled)
            {
                // It has handled every event delivered to it. The count is kept across its leaving and rejoining the
                // set: counted from its rejoining, a stale answer about fewer events removed a sensor that had a newer
                // event, and its window then closed after the area had emitted the minute.
                _wantWatermark.Remove(Sender);
            }
        });
        Receive<ProcessingTimerDue>(_ => _rules?.ProcessingTimerFired());
        Receive<Checkpoint>(_ => _rules?.Checkpoint());
        Receive<RestoreState>(r =>
        {
            if (r.Snapshot.Scope == RuleScope.Sensor)
            {
                _sensors.Deliver(r.Snapshot.Key, r, Self);
                return;
            }

            if (_rules is not null)
            {
                return; // alive on this node since before the rebalance: its state is at least as new as the record
            }

            _areaId ??= r.Snapshot.AreaId;
            _rules = new RuleHost(_engine, RuleScope.Area, _areaId, _areaId, Timers, null, Self);
            _rules.Restore(r);
        });
        Receive<CommandMessage>(c =>
        {
            if (c.SensorId is not null)
            {
                _sensors.Deliver(c.SensorId, c, Self);
            }
            else if (_rules is not null)
            {
                _rules.OnCommand(c);
            }
            else
            {
                c.Done.TrySetResult($"no open alert '{c.Command.AlertId}'");
            }
        });
        Receive<RulesChanged>(c =>
        {
            if (_rules is not null)
            {
                _rules.Reload(c.Progress);
            }
            else if (_areaId is not null && HasAreaRules(c.Rules, _areaId))
            {
                _rules = new RuleHost(engine, RuleScope.Area, _areaId, _areaId, Timers, null, Self);
            }

            c.Progress?.Expect(_sensors.Running);
            _sensors.Broadcast(c, Self);
            c.Progress?.Done();
        });
        Receive<Passivate>(_ => _sensors.Passivate(Sender));
        Receive<PassivationCancelled>(_ => _sensors.Cancelled(Sender));
        Receive<Terminated>(t =>
        {
            _wantWatermark.Remove(t.ActorRef);
            _delivered.Remove(t.ActorRef);
            _sensors.Terminated(t.ActorRef);
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

    /// <summary>Whether stopping loses nothing: no sensors, and its rules hold no state and nothing waits to be written.</summary>
    private bool CanStop => _sensors.Count == 0 && (_rules is null || (!_rules.Runner.HasState && !_rules.HasUnwrittenState));

    protected override void PreStart()
    {
        _idle = new IdleClock(Context.System.Scheduler, Timers, _engine.Options.AreaIdleTimeout);
        _idle.Start();
    }

    // Every message but the idle check counts as activity. The message seen here may still be wrapped (a timer's),
    // so the idle check's own handler says when it was the one handled.
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

    private void Handle(RoutedEvent routed)
    {
        _engine.Counters.EventTakenByArea();
        var sensorEvent = routed.Consumed.Event;
        var rules = _engine.Rules;
        if (_areaId is null)
        {
            _areaId = sensorEvent.AreaId;
            if (HasAreaRules(rules, _areaId))
            {
                _rules = new RuleHost(_engine, RuleScope.Area, _areaId, _areaId, Timers, null, Self);
            }
        }

        _rules?.OnEvent(routed);
        if (SensorRulesMayWant(rules, sensorEvent))
        {
            routed.Completion.Add();
            _sensors.Deliver(sensorEvent.SensorId, routed, Self);
        }

        routed.Completion.Done();
    }

    private static bool HasAreaRules(RuleSet rules, string areaId) => rules.AreaBindings.Any(b => b.CoversArea(areaId));

    private static bool SensorRulesMayWant(RuleSet rules, SensorEvent sensorEvent)
    {
        foreach (var binding in rules.SensorBindings)
        {
            if (binding.CoversArea(sensorEvent.AreaId) && (binding.SensorTypes.Count == 0 || binding.SensorTypes.Contains(sensorEvent.Type)))
            {
                return true;
            }
        }

        return false;
    }
}

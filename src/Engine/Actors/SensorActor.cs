using Akka.Actor;
using Kommune.Rules.Api;

namespace Kommune.Engine.Actors;

/// <summary>
/// One sensor: hosts the sensor-scoped rules for that sensor (their keyed state and timers), runs them on each of
/// its events in order, and sends their facts to its area. Never blocks: completion is signalled by the sink's
/// callbacks. Stops when idle (its area asks it, <see cref="IdleCheck"/>): at once when its rules hold nothing; when
/// they hold state that is all written (or not persisted), no open alert and no processing-time timer, it falls asleep,
/// and its area keeps that state as its bytes until something needs the sensor again (<see cref="DormantSensors"/>);
/// otherwise it stays.
/// </summary>
internal sealed class SensorActor : UntypedActor, IWithTimers
{
    private readonly EngineContext _engine;
    private RuleHost? _rules;
    private long _handled;
    private bool _answered; // the area knows when this sensor's next event-time timer is due (as of its last event)
    private DateTimeOffset? _answeredDue;
    private long _answeredAfterEventTicks = long.MinValue / 2; // the event time (UTC ticks) of the last event it answered right after
    private DateTimeOffset _lastActive; // when it last had a message other than its area's IdleCheck
    private ReleasePartitions? _handingOver;

    public SensorActor(EngineContext engine)
    {
        _engine = engine;
    }

    /// <summary>
    /// The least event time between two events that the sensor answers its area for right after handling them (the
    /// engine's announcement interval): one answer per event for sensors slower than the announcements, one per
    /// announcement for faster ones (the rest wait for the watermark forwarded to them).
    /// </summary>
    private static readonly TimeSpan AnswerAfterEventEvery = TimeSpan.FromMilliseconds(50);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new SensorActor(engine)).WithMailbox(CompactMailbox.ConfigPath);

    protected override void PreStart() => _lastActive = Context.System.Scheduler.Now;

    // One switch rather than ReceiveActor's per-instance handler table: a million sensors each carried one.
    protected override void OnReceive(object message)
    {
        if (message is not IdleCheck)
        {
            _lastActive = Context.System.Scheduler.Now;
        }

        switch (message)
        {
            case RoutedEvent routed:
                Handle(routed);
                break;
            case WatermarkAdvanced w:
                if (_handingOver is null)
                {
                    if (_rules is not null && w.For(_rules.Task) is { } watermark)
                    {
                        _rules.Advance(watermark);
                    }

                    // Tells the area when it next needs a watermark: until then, it is not sent one.
                    var due = _rules?.Runner.NextEventTimeTimer;
                    if (!_answered || due != _answeredDue)
                    {
                        Answer(due);
                    }
                }

                w.Barrier?.Done();
                break;
            case ProcessingTimerDue:
                if (_handingOver is null)
                {
                    _rules?.ProcessingTimerFired();
                    AfterRules();
                }

                break;
            case ReleasePartitions release:
                HandOver(release);
                break;
            case HandedOver:
                _handingOver?.Done.Done();
                Context.Stop(Self);
                break;
            case Checkpoint:
                _rules?.Checkpoint();
                break;
            case RestoreState r:
                Restore(r);
                break;
            case RulesChanged c:
                _rules?.Reload(c.Progress);
                c.Progress?.Done();
                AfterRules();
                break;
            case CommandMessage c:
                if (_rules is null)
                {
                    c.Done.TrySetResult($"no open alert '{c.Command.AlertId}'");
                    return;
                }

                _rules.OnCommand(c);
                AfterRules();
                break;
            case IdleCheck:
                // From its area, which asks its sensors every half idle timeout (AreaActor): no timer of its own.
                if (Context.System.Scheduler.Now - _lastActive >= _engine.Options.SensorIdleTimeout && (CanStop || MayFallAsleep))
                {
                    Context.Parent.Tell(Passivate.Instance);
                }

                break;
            case ConfirmPassivation:
                if (!CanStop && MayFallAsleep && _rules!.ToRestoreState() is { } state && DormantSensors.MayKeep(state, _engine.Rules))
                {
                    // Its area has it before it learns that this actor stopped (Akka delivers Terminated after what the
                    // actor sent), and gives it to the next incarnation if one is needed before then.
                    Context.Parent.Tell(new FellAsleep(state));
                    Context.Stop(Self);
                    break;
                }

                Passivation.Confirm(Context, CanStop);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Its partition goes to another node: unless it was lost (another node has it already), its state is written, and
    /// then it stops; from now on no timer of it fires here. A sensor of another partition gives its part back at once.
    /// </summary>
    private void HandOver(ReleasePartitions release)
    {
        if (_handingOver is not null || (_rules?.Task is { } task && !release.Partitions.Contains(task)))
        {
            release.Done.Done();
            return;
        }

        _handingOver = release;
        if (_rules is null || release.Lost)
        {
            _rules?.GiveUp();
            Self.Tell(HandedOver.Instance);
            return;
        }

        var self = Self;
        _rules.HandOver(() => self.Tell(HandedOver.Instance), release.Whole);
    }

    /// <summary>Whether stopping loses nothing: its rules hold no state and nothing waits to be written.</summary>
    private bool CanStop => _rules is null || (!_rules.Runner.HasState && !_rules.HasUnwrittenState);

    /// <summary>
    /// Whether it may stop with its area keeping its state as bytes (<see cref="DormantSensors"/>), as far as can be told
    /// without writing the state: all of it written, not handing over, no open alert, no processing-time timer, and the
    /// engine's current rules.
    /// </summary>
    private bool MayFallAsleep => _handingOver is null && _rules is { HasUnwrittenState: false, Runner: { HasOpenAlerts: false, NextProcessingTimeTimer: null } runner }
        && ReferenceEquals(runner.Rules, _engine.Rules);

    private void Restore(RestoreState r)
    {
        _answered = false; // the area sends it every watermark again until it answers
        if (_rules is not null)
        {
            return; // alive on this node since before the rebalance: its state is at least as new as the record
        }

        _rules = new RuleHost(_engine, RuleScope.Sensor, r.Header.Key, r.Header.AreaId, Timers, Self);
        _rules.Restore(r);
    }

    private void Handle(RoutedEvent routed)
    {
        var sensorEvent = routed.Consumed.Event;
        _rules ??= new RuleHost(_engine, RuleScope.Sensor, sensorEvent.SensorId, sensorEvent.AreaId, Timers, Self);
        _handled++;
        _answered = false; // the area counts this event and forwards every watermark until it answers
        _rules.OnEvent(routed);
        var eventTicks = sensorEvent.Timestamp.UtcTicks;
        if (eventTicks - _answeredAfterEventTicks >= AnswerAfterEventEvery.Ticks)
        {
            // Answers now, not at the next watermark: the area then need not forward that watermark only for this
            // answer. At most once per interval of event time, so a busy sensor answers per watermark, not per event.
            _answeredAfterEventTicks = eventTicks;
            Answer(_rules.Runner.NextEventTimeTimer);
        }

        routed.Completion.Done();
    }

    // Called after the rules ran (directly, not through a lambda: this is once per event and per watermark).
    private void AfterRules()
    {
        if (_answered && _rules is not null && _rules.Runner.NextEventTimeTimer is var due && due != _answeredDue)
        {
            // A timer handler, a command or a reload moved its earliest event-time timer after it last answered.
            Answer(due);
        }
    }

    private void Answer(DateTimeOffset? due)
    {
        _answered = true;
        _answeredDue = due;
        Context.Parent.Tell(new WatermarkInterest(due, _handled));
    }
}

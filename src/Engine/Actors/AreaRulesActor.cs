using Akka.Actor;
using Kommune.Rules.Api;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>
/// One area's rules, on the node that processes the area's partition of the repartition topic: fed with the events
/// they want and the facts of the area's sensors (from any node), in that partition's order, with that partition's
/// watermark (how far event time has come on every sensor partition). Its state is written with the repartition offset
/// it covers, so after a crash it skips what it already applied. Hands its state over and stops when its partition
/// goes to another node; asks its parent to stop it when idle and stateless.
/// </summary>
internal sealed class AreaRulesActor : UntypedActor, IWithTimers
{
    private readonly EngineContext _engine;
    private readonly Action<AreaRecord> _apply;
    private RuleHost? _rules;
    private string? _areaId;
    private IdleClock _idle = null!;
    private ReleasePartitions? _handingOver;

    public AreaRulesActor(EngineContext engine)
    {
        _engine = engine;
        _apply = Apply;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new AreaRulesActor(engine));

    /// <summary>Whether stopping loses nothing: its rules hold no state and nothing waits to be written.</summary>
    private bool CanStop => _rules is null || (!_rules.Runner.HasState && !_rules.HasUnwrittenState);

    protected override void PreStart()
    {
        _idle = new IdleClock(Context.System.Scheduler, Timers, _engine.Options.AreaIdleTimeout);
        _idle.Start();
    }

    protected override void OnReceive(object message)
    {
        if (message is not IdleCheck)
        {
            _idle.Active();
        }

        switch (message)
        {
            case AreaRecord record:
                Apply(record);
                break;
            case AreaRecords records:
                BatchHandling.Each(records.Records, _apply, _engine.Counters);
                break;
            case AreaWatermarkAdvanced w:
                if (_handingOver is null && _rules?.Task == w.Partition)
                {
                    _rules.Advance(w.Watermark, w.Completion);
                }

                w.Completion.Done();
                break;
            case ProcessingTimerDue:
                if (_handingOver is null)
                {
                    _rules?.ProcessingTimerFired();
                }

                break;
            case Checkpoint:
                _rules?.Checkpoint();
                break;
            case RestoreState restore:
                if (_rules is null)
                {
                    // Not alive here since before the rebalance (if it were, its state would be at least as new).
                    _areaId = restore.Header.AreaId;
                    _rules = new RuleHost(_engine, RuleScope.Area, _areaId, _areaId, Timers, Self);
                    _rules.Restore(restore);
                }

                break;
            case CommandMessage command:
                if (_rules is null)
                {
                    command.Done.TrySetResult($"no open alert '{command.Command.AlertId}'");
                }
                else
                {
                    _rules.OnCommand(command);
                }

                break;
            case RulesChanged changed:
                if (_rules is not null)
                {
                    _rules.Reload(changed.Progress);
                }
                else if (_areaId is not null && HasAreaRules(changed.Rules, _areaId))
                {
                    _rules = new RuleHost(_engine, RuleScope.Area, _areaId, _areaId, Timers, Self);
                }

                changed.Progress?.Done();
                break;
            case ReleasePartitions release:
                HandOver(release);
                break;
            case HandedOver:
                _handingOver?.Done.Done();
                Context.Stop(Self);
                break;
            case IdleCheck:
                if (_idle.IsIdle() && CanStop)
                {
                    Context.Parent.Tell(Passivate.Instance);
                }

                break;
            case ConfirmPassivation:
                Passivation.Confirm(Context, CanStop);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Apply(AreaRecord record)
    {
        Rules(record.AreaId)?.OnAreaRecord(record);
        record.Completion.Done();
    }

    private RuleHost? Rules(string areaId)
    {
        if (_areaId is null)
        {
            _areaId = areaId;
            if (HasAreaRules(_engine.Rules, areaId))
            {
                _rules = new RuleHost(_engine, RuleScope.Area, areaId, areaId, Timers, Self);
            }
        }

        return _rules;
    }

    private void HandOver(ReleasePartitions release)
    {
        var task = _areaId is null ? (int?)null : _engine.AreaTask(_areaId);
        if (_handingOver is not null || (task is { } t && !release.Partitions.Contains(t)))
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

    private static bool HasAreaRules(RuleSet rules, string areaId) => rules.AreaBindings.Any(b => b.CoversArea(areaId));
}

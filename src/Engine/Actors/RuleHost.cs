using Akka.Actor;
using Kommune.Rules.Api;
using Kommune.Rules.Runtime;

namespace Kommune.Engine.Actors;

/// <summary>
/// The rules of one key inside an actor: runs its <see cref="KeyedRuleRunner"/>, sends what the rules emit,
/// delivers their facts to the area, and keeps one Akka timer for the earliest processing-time timer. Owned by
/// one actor and used only from its message handlers.
/// </summary>
internal sealed class RuleHost
{
    private const string ProcessingTimerKey = "processing-time";
    private readonly EngineContext _engine;
    private readonly ITimerScheduler _timers;
    private readonly IActorRef? _area;
    private DateTimeOffset? _scheduled;

    /// <param name="engine">The engine's shared context.</param>
    /// <param name="scope">Sensor or area.</param>
    /// <param name="key">The sensor or area id.</param>
    /// <param name="areaId">The area.</param>
    /// <param name="timers">The owning actor's timers.</param>
    /// <param name="area">Where facts go (the area actor), or null for an area's own rules.</param>
    public RuleHost(EngineContext engine, RuleScope scope, string key, string areaId, ITimerScheduler timers, IActorRef? area)
    {
        _engine = engine;
        _timers = timers;
        _area = area;
        // The watermark comes with the messages, in dispatch order: a new actor's first message says it.
        Runner = new KeyedRuleRunner(scope, key, areaId, engine.Rules, engine.EventTime);
    }

    public KeyedRuleRunner Runner { get; }

    /// <summary>Whether this key has event-time timers (and so wants watermark updates).</summary>
    public bool WantsWatermark => Runner.NextEventTimeTimer is not null;

    /// <summary>Runs the rules on an event; the event's completion waits for the outputs and facts.</summary>
    public void OnEvent(RoutedEvent routed)
    {
        var outputs = new EventOutputs(_engine, routed.Consumed);
        Runner.OnEvent(routed.Consumed.Event, routed.Watermark, _engine.Now, outputs);
        Finish(outputs, routed.Watermark, routed);
    }

    /// <summary>Runs the area rules on a fact.</summary>
    public void OnFact(FactMessage message)
    {
        var outputs = new EventOutputs(_engine, message.Origin?.Consumed);
        Runner.OnFact(message.Fact, message.Watermark, _engine.Now, outputs);
        Finish(outputs, message.Watermark, message.Origin);
    }

    /// <summary>Runs the rule whose open alert a command names; completes the command when its outputs are acknowledged.</summary>
    public void OnCommand(CommandMessage message)
    {
        var outputs = new EventOutputs(_engine, null);
        if (!Runner.OnAlertCommand(message.Command, Runner.Watermark, _engine.Now, outputs))
        {
            message.Done.TrySetResult($"no open alert '{message.Command.AlertId}'");
            return;
        }

        Finish(outputs, Runner.Watermark, null, () => message.Done.TrySetResult(null));
    }

    /// <summary>Moves time forward: fires the timers the watermark and the clock have passed.</summary>
    public void Advance(DateTimeOffset watermark)
    {
        var outputs = new EventOutputs(_engine, null);
        Runner.Advance(watermark, _engine.Now, outputs);
        Finish(outputs, watermark, null);
    }

    /// <summary>Switches to new rules, keeping the state of unchanged ones.</summary>
    public void Reload(RuleSet rules)
    {
        Runner.Reload(rules);
        Schedule();
    }

    private void Finish(EventOutputs outputs, DateTimeOffset watermark, RoutedEvent? origin, Action? acknowledged = null)
    {
        foreach (var fact in outputs.Facts)
        {
            origin?.Completion.Add();
            _area?.Tell(new FactMessage(fact, watermark, origin));
        }

        if (origin is null)
        {
            outputs.Send(acknowledged);
        }
        else
        {
            origin.Completion.Add();
            outputs.Send(origin.Completion.Done);
        }

        Schedule();
    }

    private void Schedule()
    {
        var next = Runner.NextProcessingTimeTimer;
        if (next == _scheduled)
        {
            return;
        }

        _scheduled = next;
        if (next is null)
        {
            _timers.Cancel(ProcessingTimerKey);
            return;
        }

        var delay = next.Value - _engine.Now;
        _timers.StartSingleTimer(ProcessingTimerKey, ProcessingTimerDue.Instance, delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
    }

    /// <summary>The processing-time Akka timer fired.</summary>
    public void ProcessingTimerFired()
    {
        _scheduled = null;
        Advance(Runner.Watermark);
    }
}

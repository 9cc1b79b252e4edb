using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// The root of the area side: keeps an <see cref="AreaRulesActor"/> per area whose repartition partition this node
/// processes, starting one on first use and stopping idle ones, and passes watermarks, reloads and hand-overs to all. A
/// dispatch batch comes as one <see cref="AreaRecords"/> and goes on as one message per area in it.
/// </summary>
internal sealed class AreaRulesRouterActor : ReceiveActor
{
    private readonly PassivatingChildren _areas;
    private readonly EngineCounters _counters;
    private readonly BatchByKey<string, AreaRecord> _byArea = new();

    public AreaRulesRouterActor(EngineContext engine)
    {
        _counters = engine.Counters;
        _areas = new PassivatingChildren(Context, AreaRulesActor.Props(engine), engine.Counters.AreaStarted, engine.Counters.AreaStopped);

        Receive<AreaRecord>(r => _areas.Deliver(r.AreaId, r, Self));
        Func<AreaRecord, string> areaOf = r => r.AreaId;
        Func<AreaRecord[], object> wrap = part => new AreaRecords(part);
        Action<string, object> deliver = (area, part) => _areas.Deliver(area, part, Self);
        Receive<AreaRecords>(batch => _byArea.Split(batch.Records, areaOf, batch, wrap, deliver));
        Receive<AreaWatermarkAdvanced>(w =>
        {
            _areas.Broadcast(w, Self, w.Completion);
            w.Completion.Done(); // the routing's part
        });
        Receive<CommandMessage>(c => _areas.Deliver(c.AreaId, c, Self));
        Receive<RestoreState>(r => _areas.Deliver(r.Header.AreaId, r, Self));
        Receive<RulesChanged>(c =>
        {
            c.Progress?.Expect(_areas.Running);
            _areas.Broadcast(c, Self);
            c.Progress?.Done();
        });
        Receive<ReleasePartitions>(r =>
        {
            _areas.TellAll(r, Self, r.Done);
            r.Done.Done(); // the engine's part
        });
        Receive<Passivate>(_ => _areas.Passivate(Sender));
        Receive<PassivationCancelled>(_ => _areas.Cancelled(Sender));
        Receive<Terminated>(t => _areas.Terminated(t.ActorRef));
    }

    protected override SupervisorStrategy SupervisorStrategy() => EngineSupervision.ResumeAndCount(_counters);

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new AreaRulesRouterActor(engine));
}

using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// The root of the sensor side: routes each event of this node's sensor partitions to its area's
/// <see cref="AreaActor"/> (the parent of the area's sensors here), starting areas on first use and stopping idle ones,
/// and passes watermark updates, rule reloads and hand-overs to every area. Order per sensor holds because each hop is
/// one sender to one receiver. A dispatch batch comes as one <see cref="RoutedEvents"/> and goes on as one message per
/// area in it; what area rules want of it goes to the repartition topic from here, one record per partition
/// (<see cref="AreaSideRecords"/>), before the areas have it.
/// </summary>
internal sealed class EventRouterActor : ReceiveActor
{
    private readonly PassivatingChildren _areas;
    private readonly EngineCounters _counters;
    private readonly BatchByKey<string, RoutedEvent> _byArea = new();
    private readonly AreaSideRecords _toAreaSide;

    public EventRouterActor(EngineContext engine)
    {
        _counters = engine.Counters;
        _toAreaSide = new AreaSideRecords(engine);
        _areas = new PassivatingChildren(Context, AreaActor.Props(engine), engine.Counters.AreaStarted, engine.Counters.AreaStopped);

        Receive<RoutedEvent>(e => _areas.Deliver(e.Consumed.Event.AreaId, e, Self));
        Func<RoutedEvent, string> areaOf = e => e.Consumed.Event.AreaId;
        Func<RoutedEvent[], object> wrap = part => new RoutedEvents(part);
        Action<string, object> deliver = (area, part) => _areas.Deliver(area, part, Self);
        Receive<RoutedEvents>(batch =>
        {
            _toAreaSide.Send(batch.Events);
            _byArea.Split(batch.Events, areaOf, batch, wrap, deliver);
        });
        Receive<WatermarkAdvanced>(w =>
        {
            _areas.Broadcast(w, Self, w.Barrier);
            w.Barrier?.Done(); // the engine's part, held until every area has its own
        });
        Receive<ReleasePartitions>(r =>
        {
            _areas.TellAll(r, Self, r.Done);
            r.Done.Done(); // the engine's part
        });
        Receive<CommandMessage>(c => _areas.Deliver(c.AreaId, c, Self));
        Receive<RestoreState>(r => _areas.Deliver(r.Header.AreaId, r, Self)); // a sensor's: to its area's sensors
        Receive<RulesChanged>(c =>
        {
            c.Progress?.Expect(_areas.Running);
            _areas.Broadcast(c, Self);
            c.Progress?.Done();
        });
        Receive<Passivate>(_ => _areas.Passivate(Sender));
        Receive<PassivationCancelled>(_ => _areas.Cancelled(Sender));
        Receive<Terminated>(t => _areas.Terminated(t.ActorRef));
    }

    protected override SupervisorStrategy SupervisorStrategy() => EngineSupervision.ResumeAndCount(_counters);

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new EventRouterActor(engine));
}

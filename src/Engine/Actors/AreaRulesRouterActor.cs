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
    private readonly BatchByKey<AreaRecord> _byArea = new();

    public AreaRulesRouterActor(EngineContext engine)
    {
        _counters = engine.Counters;
        _areas = new PassivatingChildren(Context, AreaRulesActor.Props(engine), engine.Counters.AreaStarted, engine.Counters.AreaStopped);

        Receive<AreaRecord>(r => _areas.Deliver(r.AreaId, r, Self));
        Receive<AreaRecords>(Route);
        Receive<AreaWatermarkAdvanced>(w => _areas.Broadcast(w, Self));
        Receive<CommandMessage>(c => _areas.Deliver(c.AreaId, c, Self));
        Receive<RestoreState>(r => _areas.Deliver(r.Snapshot.AreaId, r, Self));
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

    private void Route(AreaRecords batch)
    {
        try
        {
            foreach (var record in batch.Records)
            {
                _byArea.Add(record.AreaId, record);
            }

            foreach (var (area, records) in _byArea.Groups)
            {
                // One area's part as one message (the batch itself when it is all one area's), a single one as itself.
                object message = records.Count == 1 ? records[0] : records.Count == batch.Records.Length ? batch : new AreaRecords([.. records]);
                _areas.Deliver(area, message, Self);
            }
        }
        finally
        {
            _byArea.Clear();
        }
    }

    protected override SupervisorStrategy SupervisorStrategy() => EngineSupervision.ResumeAndCount(_counters);

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new AreaRulesRouterActor(engine));
}

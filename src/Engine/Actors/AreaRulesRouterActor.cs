using System.Runtime.InteropServices;
using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// The root of the area side: keeps an <see cref="AreaRulesActor"/> per area whose repartition partition this node
/// processes, starting one on first use and stopping idle ones; passes a partition's watermark to the areas of that
/// partition, and reloads and hand-overs to all. A dispatch batch comes as one <see cref="AreaRecords"/> and goes on as
/// one message per area in it.
/// </summary>
internal sealed class AreaRulesRouterActor : ReceiveActor
{
    private readonly PassivatingChildren _areas;
    private readonly EngineCounters _counters;
    private readonly BatchByKey<string, AreaRecord> _byArea = new();
    private readonly Dictionary<string, int> _tasks = new(StringComparer.Ordinal); // of the areas seen: bounded by the areas there are
    private readonly EngineContext _engine;

    public AreaRulesRouterActor(EngineContext engine)
    {
        _engine = engine;
        _counters = engine.Counters;
        _areas = new PassivatingChildren(Context, AreaRulesActor.Props(engine), engine.Counters.AreaStarted, engine.Counters.AreaStopped);

        Receive<AreaRecord>(r => _areas.Deliver(r.AreaId, r, Self));
        Func<AreaRecord, string> areaOf = r => r.AreaId;
        Func<AreaRecord[], object> wrap = part => new AreaRecords(part);
        Action<string, object> deliver = (area, part) => _areas.Deliver(area, part, Self);
        Receive<AreaRecords>(batch => _byArea.Split(batch.Records, areaOf, batch, wrap, deliver));
        Receive<AreaWatermarkAdvanced>(w =>
        {
            // Only the areas of its partition: the others would pass it over, and with 12 partitions a report each to
            // every area was eleven messages in twelve for nothing (at 256 partitions, 255 in 256).
            _areas.Broadcast(w, Self, w.Completion, area => TaskOf(area) == w.Partition);
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

    // An area's repartition partition, hashed once per area (a watermark report asks it for every area here).
    private int TaskOf(string area)
    {
        ref var task = ref CollectionsMarshal.GetValueRefOrAddDefault(_tasks, area, out var known);
        if (!known)
        {
            task = _engine.AreaTask(area);
        }

        return task;
    }

    protected override SupervisorStrategy SupervisorStrategy() => EngineSupervision.ResumeAndCount(_counters);

    public static Props Props(EngineContext engine) => Akka.Actor.Props.Create(() => new AreaRulesRouterActor(engine));
}

using Akka.Actor;
using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// The root of the topology: routes each consumed event to its area's actor, starting areas on first use and
/// stopping idle ones. Order per sensor holds because each hop is one sender to one receiver.
/// </summary>
internal sealed class EventRouterActor : ReceiveActor
{
    private readonly PassivatingChildren _areas;

    public EventRouterActor(RuleCatalog catalog, IOutputSink sink, EngineCounters counters, EngineOptions options)
    {
        _areas = new PassivatingChildren(
            Context,
            AreaActor.Props(catalog, sink, counters, options),
            counters.AreaStarted,
            counters.AreaStopped);

        Receive<ConsumedEvent>(e => _areas.Deliver(e.Event.AreaId, e, Sender));
        Receive<Passivate>(_ => _areas.Passivate(Sender));
        Receive<Terminated>(t => _areas.Terminated(t.ActorRef));
    }

    public static Props Props(RuleCatalog catalog, IOutputSink sink, EngineCounters counters, EngineOptions options) =>
        Akka.Actor.Props.Create(() => new EventRouterActor(catalog, sink, counters, options));
}

using Akka.Actor;
using Kommune.Connectors.Kafka;

namespace Kommune.Engine.Actors;

/// <summary>
/// One area: the parent of its sensors' actors. Starts a sensor actor on the sensor's first event, passivates idle
/// ones, and asks its own parent to stop it once it has no sensors and has been idle.
/// </summary>
internal sealed class AreaActor : ReceiveActor
{
    private readonly PassivatingChildren _sensors;

    public AreaActor(RuleCatalog catalog, IOutputSink sink, EngineCounters counters, EngineOptions options)
    {
        _sensors = new PassivatingChildren(
            Context,
            SensorActor.Props(catalog, sink, counters, options.SensorIdleTimeout),
            counters.SensorStarted,
            counters.SensorStopped);

        Receive<ConsumedEvent>(e => _sensors.Deliver(e.Event.SensorId, e, Sender));
        Receive<Passivate>(_ => _sensors.Passivate(Sender));
        Receive<Terminated>(t => _sensors.Terminated(t.ActorRef));
        Receive<ReceiveTimeout>(_ =>
        {
            if (_sensors.Count == 0)
            {
                Context.Parent.Tell(Passivate.Instance);
            }
        });
        Context.SetReceiveTimeout(options.AreaIdleTimeout);
    }

    public static Props Props(RuleCatalog catalog, IOutputSink sink, EngineCounters counters, EngineOptions options) =>
        Akka.Actor.Props.Create(() => new AreaActor(catalog, sink, counters, options));
}

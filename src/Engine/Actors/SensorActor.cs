using Akka.Actor;
using Kommune.Connectors.Kafka;
using Kommune.Rules.Api;

namespace Kommune.Engine.Actors;

/// <summary>
/// One sensor: owns that sensor's rule instances (and so their state), runs them on each of its events in order,
/// and hands their outputs to the sink. Never blocks: completion is signalled by the sink's callbacks.
/// </summary>
internal sealed class SensorActor : ReceiveActor
{
    private readonly IReadOnlyList<IRule> _rules;
    private readonly IOutputSink _sink;
    private readonly EngineCounters _counters;

    public SensorActor(RuleCatalog catalog, IOutputSink sink, EngineCounters counters, TimeSpan idleTimeout)
    {
        _rules = catalog.CreateRules();
        _sink = sink;
        _counters = counters;
        Receive<ConsumedEvent>(Handle);
        Receive<ReceiveTimeout>(_ => Context.Parent.Tell(Passivate.Instance));
        Context.SetReceiveTimeout(idleTimeout);
    }

    public static Props Props(RuleCatalog catalog, IOutputSink sink, EngineCounters counters, TimeSpan idleTimeout) =>
        Akka.Actor.Props.Create(() => new SensorActor(catalog, sink, counters, idleTimeout));

    private void Handle(ConsumedEvent consumed)
    {
        var outputs = new EventOutputs();
        var sensorEvent = consumed.Event;
        foreach (var rule in _rules)
        {
            try
            {
                if (rule.Accepts(sensorEvent))
                {
                    rule.OnEvent(sensorEvent, outputs);
                }
            }
#pragma warning disable CA1031 // A failing rule is isolated: its event is dead-lettered and the others go on.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _counters.RuleFailed();
                outputs.RuleFailed(consumed, rule, e);
            }
        }

        outputs.SendAndComplete(consumed, _sink, _counters);
    }
}

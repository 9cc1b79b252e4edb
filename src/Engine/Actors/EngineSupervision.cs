using Akka.Actor;

namespace Kommune.Engine.Actors;

/// <summary>
/// How the router and area actors treat a child that threw. Rules run isolated (their exceptions are caught and
/// dead-lettered), so a child that throws has met a bug in the engine itself. Akka's default, a restart, would drop
/// the child's state and the events waiting for it to be written, stalling their partition for good; instead the
/// child resumes with its state, the failure is counted (<c>kommune_actor_failures_total</c>) and Akka logs it
/// with the exception. A child that failed while being created is stopped; its next message starts it again.
/// </summary>
internal static class EngineSupervision
{
    public static SupervisorStrategy ResumeAndCount(EngineCounters counters) => new OneForOneStrategy(exception =>
    {
        counters.ActorFailed();
        return exception is ActorInitializationException or ActorKilledException or DeathPactException
            ? Directive.Stop
            : Directive.Resume;
    });
}

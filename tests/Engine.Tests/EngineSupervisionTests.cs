using Akka.Actor;
using Akka.TestKit.Xunit2;
using Kommune.Engine.Actors;
using Kommune.Engine.Observability;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A child of the router or an area that throws (a bug in the engine, as rules' exceptions are caught) resumes with
/// its state, and the failure is counted in <c>kommune_actor_failures_total</c>; a child that fails while being
/// created is stopped instead.
/// </summary>
public sealed class EngineSupervisionTests(ITestOutputHelper output) : TestKit(KommuneEngine.AkkaConfig, output)
{
    [Fact]
    public async Task A_child_that_throws_resumes_with_its_state_and_the_failure_is_counted()
    {
        var metrics = new EngineMetrics("kommune.sensor-events", RuleSet.Empty);
        var counters = new EngineCounters(metrics);
        var parent = Sys.ActorOf(Props.Create(() => new Parent(counters, Props.Create(() => new Counting()))));

        parent.Tell("add", TestActor);
        parent.Tell("add", TestActor);
        parent.Tell("throw", TestActor);
        parent.Tell("add", TestActor);

        ExpectMsg(1);
        ExpectMsg(2);
        ExpectMsg(3); // the count survived the exception: resumed, not restarted
        Assert.Equal(1, counters.ActorFailures);
        using var scrape = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(scrape);
        Assert.Equal(1, new PrometheusText(System.Text.Encoding.UTF8.GetString(scrape.ToArray())).Sum("kommune_actor_failures_total"));
    }

    [Fact]
    public void A_child_that_fails_while_being_created_is_stopped()
    {
        var counters = new EngineCounters();
        var parent = Sys.ActorOf(Props.Create(() => new Parent(counters, Props.Create(() => new FailsToStart()))));

        parent.Tell("watch", TestActor);
        var child = ExpectMsg<IActorRef>();
        Watch(child);
        ExpectTerminated(child);
        Assert.Equal(1, counters.ActorFailures);
    }

    private sealed class Parent : UntypedActor
    {
        private readonly EngineCounters _counters;
        private readonly IActorRef _child;

        public Parent(EngineCounters counters, Props child)
        {
            _counters = counters;
            _child = Context.ActorOf(child, "child");
        }

        protected override SupervisorStrategy SupervisorStrategy() => EngineSupervision.ResumeAndCount(_counters);

        protected override void OnReceive(object message)
        {
            if (message is "watch")
            {
                Sender.Tell(_child);
                return;
            }

            _child.Forward(message);
        }
    }

    private sealed class Counting : UntypedActor
    {
        private int _count;

        protected override void OnReceive(object message)
        {
            if (message is "throw")
            {
                throw new InvalidOperationException("a bug");
            }

            Sender.Tell(++_count);
        }
    }

    private sealed class FailsToStart : UntypedActor
    {
        public FailsToStart() => throw new InvalidOperationException("cannot start");

        protected override void OnReceive(object message)
        {
        }
    }
}

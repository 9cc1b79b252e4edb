using Akka.Actor;
using Akka.TestKit.Xunit2;
using Kommune.Engine.Actors;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

public sealed class ActorRefComparerTests(ITestOutputHelper output) : TestKit(KommuneEngine.AkkaConfig, output)
{
    private sealed class Idle : ReceiveActor;

    [Fact]
    public async Task A_reference_equals_and_hashes_as_the_same_actor_resolved_again_and_differs_from_another()
    {
        var comparer = ActorRefComparer.Instance;
        var sensor = Sys.ActorOf(Props.Create(() => new Idle()), "sensor-1");
        var other = Sys.ActorOf(Props.Create(() => new Idle()), "sensor-2");
        var resolved = await Sys.ActorSelection(sensor.Path).ResolveOne(TimeSpan.FromSeconds(3));

        Assert.True(comparer.Equals(sensor, resolved));
        Assert.Equal(comparer.GetHashCode(sensor), comparer.GetHashCode(resolved));
        Assert.False(comparer.Equals(sensor, other));
        Assert.False(comparer.Equals(sensor, null));
        Assert.True(comparer.Equals(null, null));
    }

    /// <summary>
    /// Makes a child, stops it, and makes the next at the same name once it has the first's <see cref="Terminated"/>:
    /// only the parent knows when the name is free again (a watcher elsewhere can see the termination first).
    /// </summary>
    private sealed class Reincarnating : ReceiveActor
    {
        public Reincarnating(IActorRef replyTo)
        {
            var first = Context.ActorOf(Props.Create(() => new Idle()), "sensor-3");
            Context.Watch(first);
            Context.Stop(first);
            Receive<Terminated>(t => t.ActorRef.Equals(first), _ =>
                replyTo.Tell((first, Context.ActorOf(Props.Create(() => new Idle()), "sensor-3"))));
        }
    }

    [Fact]
    public void A_new_incarnation_at_the_same_path_is_another_actor()
    {
        var comparer = ActorRefComparer.Instance;
        Sys.ActorOf(Props.Create(() => new Reincarnating(TestActor)), "area");
        var (first, second) = ExpectMsg<(IActorRef, IActorRef)>();

        Assert.Equal(first.Path, second.Path);
        Assert.False(comparer.Equals(first, second)); // as Akka: the incarnation (uid) differs
        Assert.Equal(first.Equals(second), comparer.Equals(first, second));
        var seen = new HashSet<IActorRef>(comparer) { first };
        Assert.DoesNotContain(second, seen);
        Assert.Contains(first, seen);
    }
}

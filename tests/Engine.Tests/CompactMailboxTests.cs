using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using Kommune.Engine.Actors;

namespace Kommune.Engine.Tests;

public sealed class CompactMailboxTests
{
    [Fact]
    public void Messages_come_out_in_the_order_they_went_in_across_bursts()
    {
        var queue = new CompactMessageQueue();
        Assert.False(queue.HasMessages);
        Assert.False(queue.TryDequeue(out _));

        for (var burst = 0; burst < 3; burst++)
        {
            var size = burst == 1 ? 100 : 3; // the large burst drops its queue once drained; the next one starts small
            for (var i = 0; i < size; i++)
            {
                queue.Enqueue(ActorRefs.Nobody, new Envelope(i, ActorRefs.NoSender));
            }

            Assert.Equal(size, queue.Count);
            for (var i = 0; i < size; i++)
            {
                Assert.True(queue.TryDequeue(out var envelope));
                Assert.Equal(i, envelope.Message);
            }

            Assert.False(queue.HasMessages);
            Assert.Equal(0, queue.Count);
        }
    }

    [Fact]
    public void Clean_up_hands_what_is_left_to_the_dead_letters()
    {
        var queue = new CompactMessageQueue();
        var deadLetters = new CompactMessageQueue();
        queue.Enqueue(ActorRefs.Nobody, new Envelope("a", ActorRefs.NoSender));
        queue.Enqueue(ActorRefs.Nobody, new Envelope("b", ActorRefs.NoSender));

        queue.CleanUp(ActorRefs.Nobody, deadLetters);

        Assert.False(queue.HasMessages);
        Assert.True(deadLetters.TryDequeue(out var first));
        Assert.True(deadLetters.TryDequeue(out var second));
        Assert.Equal(["a", "b"], new[] { first.Message, second.Message });
    }

    [Fact]
    public void Concurrent_senders_lose_nothing()
    {
        var queue = new CompactMessageQueue();
        Parallel.For(0, 4, sender =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                queue.Enqueue(ActorRefs.Nobody, new Envelope((sender, i), ActorRefs.NoSender));
            }
        });

        var next = new int[4];
        while (queue.TryDequeue(out var envelope))
        {
            var (sender, i) = ((int, int))envelope.Message;
            Assert.Equal(next[sender]++, i); // each sender's messages in its order
        }

        Assert.All(next, n => Assert.Equal(10_000, n));
    }
}

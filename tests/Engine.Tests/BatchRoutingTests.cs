using Kommune.Engine.Actors;

namespace Kommune.Engine.Tests;

/// <summary>
/// What the routers use to send one message per area per dispatch batch (<see cref="BatchByKey{TKey, T}"/>), and how an
/// actor handles a message that carries a batch (<see cref="BatchHandling"/>): pure logic, no actors.
/// </summary>
public sealed class BatchRoutingTests
{
    [Fact]
    public void A_batch_is_grouped_by_key_in_order_of_first_appearance_each_group_in_batch_order()
    {
        var batch = new BatchByKey<string, int>();
        batch.Add("b", 1);
        batch.Add("a", 2);
        batch.Add("b", 3);
        batch.Add("c", 4);
        batch.Add("a", 5);

        Assert.Equal(["b", "a", "c"], batch.Groups.Select(g => g.Key));
        Assert.Equal([1, 3], batch.Groups[0].Value);
        Assert.Equal([2, 5], batch.Groups[1].Value);
        Assert.Equal([4], batch.Groups[2].Value);
    }

    [Fact]
    public void Clearing_forgets_the_batch_and_the_next_one_is_grouped_afresh()
    {
        var batch = new BatchByKey<string, int>();
        batch.Add("a", 1);
        batch.Add("b", 2);
        batch.Clear();
        Assert.Empty(batch.Groups);

        batch.Add("b", 3);
        batch.Add("b", 4);

        var only = Assert.Single(batch.Groups);
        Assert.Equal("b", only.Key);
        Assert.Equal([3, 4], only.Value); // a reused list holds nothing of the batch before
    }

    [Fact]
    public void A_split_sends_one_message_per_key_a_single_item_as_itself_and_a_batch_of_one_key_as_the_batch()
    {
        var batch = new BatchByKey<string, string>();
        var sent = new List<(string Key, object Message)>();
        var whole = new object();

        batch.Split(["a1", "b1", "a2", "c1"], item => item[..1], whole, part => part, (key, message) => sent.Add((key, message)));

        Assert.Equal(["a", "b", "c"], sent.Select(s => s.Key));
        Assert.Equal(["a1", "a2"], Assert.IsType<string[]>(sent[0].Message));
        Assert.Equal("b1", sent[1].Message);
        Assert.Equal("c1", sent[2].Message);

        sent.Clear();
        batch.Split(["a3", "a4"], item => item[..1], whole, part => part, (key, message) => sent.Add((key, message)));

        Assert.Same(whole, Assert.Single(sent).Message); // every item one key's: the batch itself, no copy
    }

    [Fact]
    public void Every_item_is_handled_in_order_when_none_throws()
    {
        var handled = new List<int>();
        var counters = new EngineCounters();

        BatchHandling.Each([1, 2, 3], handled.Add, counters);

        Assert.Equal([1, 2, 3], handled);
        Assert.Equal(0, counters.ActorFailures);
    }

    [Fact]
    public void An_item_that_throws_stops_only_itself_and_the_first_failure_is_thrown_after_the_rest()
    {
        var handled = new List<int>();
        var counters = new EngineCounters();

        var thrown = Assert.Throws<InvalidOperationException>(() => BatchHandling.Each(
            [1, 2, 3, 4, 5],
            item =>
            {
                if (item is 2 or 4)
                {
                    throw new InvalidOperationException($"item {item}");
                }

                handled.Add(item);
            },
            counters));

        Assert.Equal([1, 3, 5], handled); // the items after a failure were handled
        Assert.Equal("item 2", thrown.Message); // the first, for the supervisor to count and log
        Assert.Equal(1, counters.ActorFailures); // the second, counted here (the supervisor counts the first)
    }
}

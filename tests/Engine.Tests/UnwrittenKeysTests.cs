using Akka.Actor;
using Akka.TestKit.Xunit2;
using Kommune.Engine.Actors;

namespace Kommune.Engine.Tests;

public sealed class UnwrittenKeysTests : TestKit
{
    [Fact]
    public void Slots_are_reused_and_a_snapshot_holds_exactly_the_actors_not_removed()
    {
        var keys = new UnwrittenKeys();
        var actors = Enumerable.Range(0, 100).Select(i => CreateTestProbe($"key-{i}").Ref).ToArray();
        var slots = actors.Select(keys.Add).ToArray();
        Assert.Equal(100, slots.Distinct().Count());

        for (var i = 0; i < 100; i += 2)
        {
            keys.Remove(slots[i]);
        }

        Assert.Equal(actors.Where((_, i) => i % 2 == 1).ToHashSet(), keys.Snapshot().ToHashSet());
        var again = keys.Add(actors[0]);
        Assert.Contains(again, slots.Where((_, i) => i % 2 == 0)); // a freed slot, not a new one
        Assert.Equal(51, keys.Snapshot().Count);

        foreach (var slot in slots.Where((_, i) => i % 2 == 1).Append(again))
        {
            keys.Remove(slot);
        }

        Assert.True(keys.IsEmpty);
        Assert.Empty(keys.Snapshot());
    }
}

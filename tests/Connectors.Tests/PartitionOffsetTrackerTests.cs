using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

public sealed class PartitionOffsetTrackerTests
{
    private static PartitionOffsetTracker Started(long startOffset, params long[] offsets)
    {
        var tracker = new PartitionOffsetTracker(startOffset);
        foreach (var offset in offsets)
        {
            tracker.Start(offset);
        }

        return tracker;
    }

    [Fact]
    public void New_tracker_commits_at_its_start_offset()
    {
        var tracker = new PartitionOffsetTracker(7);

        Assert.Equal(7, tracker.Committable);
        Assert.Equal(0, tracker.AwaitingCommit);
        Assert.True(tracker.IsActive);
    }

    [Fact]
    public void The_commit_point_once_done_is_after_the_last_record_handed_on_and_only_when_it_moves_from_the_last_taken()
    {
        var tracker = Started(10, 10, 12, 15); // offsets may skip
        tracker.Complete(10);

        Assert.True(tracker.TryPeekCommittableOnceDone(out var onceDone));
        Assert.Equal(16, onceDone);
        Assert.Equal(11, tracker.Committable); // the commit point itself has not gone that far

        tracker.Complete(15);
        tracker.Complete(12);
        Assert.True(tracker.TryTakeCommittable(out var taken));
        Assert.Equal(16, taken);
        Assert.False(tracker.TryPeekCommittableOnceDone(out _)); // nothing handed on since: nothing moves

        tracker.Deactivate();
        tracker.Start(16);
        Assert.False(tracker.TryPeekCommittableOnceDone(out _)); // a partition gone from this node commits nothing
    }

    [Fact]
    public void Committable_advances_only_over_a_contiguous_run_of_completed_offsets()
    {
        var tracker = Started(10, 10, 11, 12);

        tracker.Complete(12);
        Assert.Equal(10, tracker.Committable);

        tracker.Complete(10);
        Assert.Equal(11, tracker.Committable);

        tracker.Complete(11);
        Assert.Equal(13, tracker.Committable);
    }

    [Fact]
    public void TryTakeCommittable_returns_true_once_per_change()
    {
        var tracker = Started(10, 10, 11, 12);

        Assert.True(tracker.TryTakeCommittable(out var first));
        Assert.Equal(10, first);
        Assert.False(tracker.TryTakeCommittable(out _));

        tracker.Complete(12);
        Assert.False(tracker.TryTakeCommittable(out _));

        tracker.Complete(10);
        Assert.True(tracker.TryTakeCommittable(out var second));
        Assert.Equal(11, second);
        Assert.False(tracker.TryTakeCommittable(out _));
        Assert.False(tracker.TryTakeCommittable(out _));

        tracker.Complete(11);
        Assert.True(tracker.TryTakeCommittable(out var third));
        Assert.Equal(13, third);
        Assert.False(tracker.TryTakeCommittable(out _));
    }

    [Fact]
    public void After_Deactivate_completions_change_nothing_and_nothing_is_taken()
    {
        var tracker = Started(10, 10, 11, 12);
        tracker.Complete(10);
        Assert.True(tracker.TryTakeCommittable(out _));

        tracker.Deactivate();
        tracker.Complete(11);
        tracker.Complete(12);

        Assert.False(tracker.IsActive);
        Assert.Equal(11, tracker.Committable);
        Assert.Equal(2, tracker.AwaitingCommit);
        Assert.False(tracker.TryTakeCommittable(out _));
    }

    [Fact]
    public void After_Deactivate_an_untaken_change_is_not_returned()
    {
        var tracker = Started(10, 10, 11);
        tracker.Complete(10);

        tracker.Deactivate();

        Assert.False(tracker.TryTakeCommittable(out _));
    }

    [Fact]
    public void Gaps_in_started_offsets_are_jumped_over()
    {
        var tracker = Started(0, 5, 9);
        Assert.Equal(5, tracker.Committable);

        tracker.Complete(9);
        Assert.Equal(5, tracker.Committable);

        tracker.Complete(5);
        Assert.Equal(10, tracker.Committable);
        Assert.Equal(0, tracker.AwaitingCommit);
    }

    [Fact]
    public void First_start_after_everything_is_done_jumps_the_commit_point()
    {
        var tracker = Started(0, 5);
        tracker.Complete(5);
        Assert.Equal(6, tracker.Committable);

        tracker.Start(20);

        Assert.Equal(20, tracker.Committable);
        tracker.Complete(20);
        Assert.Equal(21, tracker.Committable);
    }

    [Fact]
    public void Start_below_the_start_offset_does_not_move_the_commit_point_back()
    {
        var tracker = Started(100, 50);

        Assert.Equal(100, tracker.Committable);
    }

    [Fact]
    public void InFlight_counts_started_minus_done()
    {
        var tracker = new PartitionOffsetTracker(0);
        Assert.Equal(0, tracker.AwaitingCommit);

        tracker.Start(0);
        tracker.Start(1);
        tracker.Start(2);
        Assert.Equal(3, tracker.AwaitingCommit);

        tracker.Complete(2);
        Assert.Equal(2, tracker.AwaitingCommit);

        tracker.Complete(0);
        Assert.Equal(1, tracker.AwaitingCommit);

        tracker.Start(3);
        Assert.Equal(2, tracker.AwaitingCommit);

        tracker.Complete(1);
        tracker.Complete(3);
        Assert.Equal(0, tracker.AwaitingCommit);
    }

    [Fact]
    public void Random_completion_orders_commit_exactly_up_to_the_first_unfinished_offset()
    {
        for (var seed = 0; seed < 200; seed++)
        {
            var random = new Random(seed);
            var count = random.Next(1, 60);
            var offsets = new long[count];
            var next = (long)random.Next(0, 1_000);
            for (var i = 0; i < count; i++)
            {
                offsets[i] = next;
                next += random.Next(0, 4) == 0 ? random.Next(2, 10) : 1; // gaps sometimes, as after transaction markers
            }

            var tracker = new PartitionOffsetTracker(0);
            foreach (var offset in offsets)
            {
                tracker.Start(offset);
            }

            var order = Enumerable.Range(0, count).ToArray();
            random.Shuffle(order);
            var done = new bool[count];
            var takenChanges = 0;
            var lastCommittable = tracker.Committable;
            Assert.Equal(offsets[0], lastCommittable);

            for (var step = 0; step < count; step++)
            {
                tracker.Complete(offsets[order[step]]);
                done[order[step]] = true;

                var firstUnfinished = Array.IndexOf(done, false);
                var committable = tracker.Committable;
                var expected = firstUnfinished switch
                {
                    -1 => offsets[^1] + 1,
                    0 => offsets[0],
                    _ => offsets[firstUnfinished - 1] + 1,
                };

                Assert.True(committable == expected, $"seed {seed}, step {step}: committable {committable}, expected {expected}");
                if (firstUnfinished >= 0)
                {
                    Assert.True(committable <= offsets[firstUnfinished], $"seed {seed}, step {step}: committable {committable} passes unfinished offset {offsets[firstUnfinished]}");
                }

                Assert.True(committable >= lastCommittable, $"seed {seed}, step {step}: committable moved back");
                Assert.Equal(count - step - 1, tracker.AwaitingCommit);
                if (tracker.TryTakeCommittable(out var taken))
                {
                    Assert.Equal(committable, taken);
                    takenChanges++;
                }

                lastCommittable = committable;
            }

            Assert.Equal(offsets[^1] + 1, tracker.Committable);
            Assert.InRange(takenChanges, 1, count);
        }
    }
}

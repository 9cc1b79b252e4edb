using Kommune.Rules.Runtime;

namespace Kommune.Rules.Tests.Runtime;

public sealed class WatermarkTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly EventTimeSettings Settings = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(5),
        AllowedLateness = TimeSpan.FromSeconds(30),
        IdlePartitionTimeout = TimeSpan.FromSeconds(10),
    };

    [Fact]
    public void A_partition_watermark_is_its_newest_event_time_minus_the_out_of_orderness_bound()
    {
        var tracker = new WatermarkTracker(Settings);

        Assert.True(tracker.Observe(0, T0.AddSeconds(20), T0));
        Assert.False(tracker.Observe(0, T0.AddSeconds(12), T0)); // older: no change
        Assert.Equal(T0.AddSeconds(15), tracker.Watermark);
    }

    [Fact]
    public void The_engine_watermark_is_the_minimum_over_active_partitions()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Observe(0, T0.AddSeconds(100), T0);
        tracker.Observe(1, T0.AddSeconds(40), T0);

        Assert.Equal(T0.AddSeconds(95), tracker.Watermark); // monotonic: partition 1 came later and is behind
        tracker.Observe(1, T0.AddSeconds(200), T0);
        Assert.Equal(T0.AddSeconds(95), tracker.Watermark);
        tracker.Observe(0, T0.AddSeconds(300), T0);
        Assert.Equal(T0.AddSeconds(195), tracker.Watermark);
    }

    [Fact]
    public void An_assigned_partition_without_events_holds_the_watermark_until_it_is_known_to_be_empty()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(1, T0);

        tracker.Observe(0, T0.AddSeconds(100), T0.AddSeconds(1));
        Assert.Equal(DateTimeOffset.MinValue, tracker.Watermark);
        Assert.False(tracker.IsLate(T0));

        // Silent for long, but not known to be empty (its records may not have been fetched yet): it still holds.
        Assert.False(tracker.Refresh(T0.AddHours(1)));
        Assert.Equal(DateTimeOffset.MinValue, tracker.Watermark);

        tracker.SetCaughtUp(1, true); // the consumer reached its end: it is empty, no need to wait for the idle time
        Assert.True(tracker.Refresh(T0.AddHours(1)));
        Assert.Equal(T0.AddSeconds(95), tracker.Watermark);
    }

    [Fact]
    public void A_silent_partition_whose_records_wait_to_be_read_is_never_idle_and_stops_holding_once_it_is_caught_up()
    {
        // Production paused for longer than the idle time; partition 1 was behind: its records wait, unread.
        var tracker = new WatermarkTracker(Settings);
        tracker.Observe(0, T0.AddSeconds(10), T0);
        tracker.Observe(1, T0.AddSeconds(10), T0);
        tracker.SetCaughtUp(0, true);
        tracker.SetCaughtUp(1, false);

        // Partition 0 resumes two hours ahead; partition 1 is silent for 35 s but not caught up.
        tracker.Observe(0, T0.AddHours(2), T0.AddSeconds(35));
        Assert.True(tracker.Refresh(T0.AddSeconds(35)) || tracker.Watermark == T0.AddSeconds(5));
        Assert.Equal(T0.AddSeconds(5), tracker.Watermark);
        Assert.False(tracker.IsLate(T0.AddSeconds(11))); // partition 1's next event is on time
        Assert.False(tracker.IsIdle(1, T0.AddSeconds(35)));

        // Once it is caught up and still silent, it is idle and the watermark moves on.
        tracker.SetCaughtUp(1, true);
        Assert.True(tracker.IsIdle(1, T0.AddSeconds(35)));
        Assert.True(tracker.Refresh(T0.AddSeconds(35)));
        Assert.Equal(T0.AddHours(2).AddSeconds(-5), tracker.Watermark);
    }

    [Fact]
    public void An_idle_partition_drops_out_and_the_watermark_never_goes_back_when_it_returns()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Observe(0, T0.AddSeconds(10), T0);
        tracker.Observe(1, T0.AddSeconds(100), T0);
        tracker.SetCaughtUp(0, true);
        Assert.Equal(T0.AddSeconds(5), tracker.Watermark);

        tracker.Observe(1, T0.AddSeconds(120), T0.AddSeconds(11));
        Assert.Equal(T0.AddSeconds(115), tracker.Watermark); // partition 0 idle since T0

        tracker.Observe(0, T0.AddSeconds(20), T0.AddSeconds(12));
        Assert.Equal(T0.AddSeconds(115), tracker.Watermark);
    }

    [Fact]
    public void Late_means_older_than_the_watermark_minus_the_allowed_lateness()
    {
        var tracker = new WatermarkTracker(Settings);
        Assert.False(tracker.IsLate(DateTimeOffset.MinValue.AddDays(1)));
        tracker.Observe(0, T0.AddSeconds(100), T0); // watermark 95 s

        Assert.False(tracker.IsLate(T0.AddSeconds(65)));
        Assert.True(tracker.IsLate(T0.AddSeconds(64.999)));
    }

    [Fact]
    public void A_removed_partition_no_longer_holds_the_watermark()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Observe(0, T0.AddSeconds(10), T0);
        tracker.Observe(1, T0.AddSeconds(100), T0);

        tracker.Remove(0);
        tracker.Refresh(T0);

        Assert.Equal(T0.AddSeconds(95), tracker.Watermark);
    }

    [Fact]
    public void A_partition_assigned_behind_the_engine_watermark_goes_by_its_own_until_it_catches_up()
    {
        // A node at 10:09 takes over a partition whose backlog resumes at 10:06 (another node stopped or crashed).
        var tracker = new WatermarkTracker(Settings);
        tracker.Observe(0, T0.AddMinutes(9), T0);
        Assert.Equal(T0.AddMinutes(9).AddSeconds(-5), tracker.WatermarkOf(0, T0));

        tracker.Assign(1, T0);
        Assert.Equal(DateTimeOffset.MinValue, tracker.WatermarkOf(1, T0)); // nothing of it known yet
        Assert.False(tracker.IsLate(1, T0.AddMinutes(6), T0));

        tracker.Observe(1, T0.AddMinutes(6), T0);
        Assert.Equal(T0.AddMinutes(6).AddSeconds(-5), tracker.WatermarkOf(1, T0));
        Assert.Equal(T0.AddMinutes(9).AddSeconds(-5), tracker.Watermark); // the engine's never goes back
        Assert.True(tracker.IsLate(1, T0.AddMinutes(5), T0)); // late by its own watermark
        Assert.True(tracker.IsLate(0, T0.AddMinutes(8), T0));
        Assert.False(tracker.IsLate(1, T0.AddMinutes(8), T0));

        tracker.Observe(1, T0.AddMinutes(20), T0);
        Assert.Equal(tracker.Watermark, tracker.WatermarkOf(1, T0)); // caught up: the engine's again
    }

    [Fact]
    public void A_partition_watermark_never_goes_back_when_an_idle_partition_wakes_up()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(1, T0);
        tracker.SetCaughtUp(1, true);
        tracker.Observe(0, T0.AddMinutes(9), T0);
        Assert.Equal(tracker.Watermark, tracker.WatermarkOf(1, T0)); // idle: the engine's

        tracker.SetCaughtUp(1, false);
        tracker.Observe(1, T0.AddMinutes(1), T0);
        Assert.Equal(tracker.Watermark, tracker.WatermarkOf(1, T0));
    }

    [Fact]
    public void A_partition_without_events_is_told_to_other_nodes_as_holding_time_back_until_it_has_been_silent_the_idle_timeout()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(1, T0);
        tracker.SetCaughtUp(1, true);
        tracker.Observe(0, T0.AddMinutes(9), T0);

        Assert.True(tracker.IsIdle(1, T0)); // this node takes it as idle: it sees the partition's first records coming
        Assert.Equal(DateTimeOffset.MinValue, tracker.ReportedWatermarkOf(1, T0)); // another node cannot
        Assert.Null(tracker.ReportedWatermarkOf(1, T0.AddSeconds(11))); // silent for the idle timeout: idle for all
        Assert.Equal(T0.AddMinutes(9).AddSeconds(-5), tracker.ReportedWatermarkOf(0, T0.AddSeconds(1)));
    }

    [Fact]
    public void A_partition_handed_over_with_its_watermark_starts_from_it_on_a_node_that_gets_no_event()
    {
        // Its previous owner had taken all of its events (its own watermark 10:20) while that node's watermark was held
        // back by others; here nothing new comes. Without what it was handed over with this node's time would never
        // move, and neither the partition's restored timers nor the other nodes' area time would.
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(3, T0, resumed: true, handedOver: T0.AddMinutes(20));
        tracker.Assign(4, T0, resumed: true, handedOver: T0.AddMinutes(25));
        tracker.SetCaughtUp(3, true);
        tracker.SetCaughtUp(4, true);

        Assert.True(tracker.Refresh(T0));
        Assert.Equal(T0.AddMinutes(20), tracker.Watermark); // the minimum of the two, as if their events were seen here
        Assert.Equal(T0.AddMinutes(20), tracker.WatermarkOf(4, T0));
        Assert.Equal(T0.AddMinutes(20), tracker.ReportedWatermarkOf(3, T0.AddSeconds(1)));
        Assert.Equal(T0.AddMinutes(25), tracker.PartitionWatermarkOf(4));
        Assert.False(tracker.IsLate(3, T0.AddMinutes(20), T0)); // its next events are judged by it, as they were there
        Assert.True(tracker.IsLate(3, T0.AddMinutes(19), T0));

        tracker.Observe(3, T0.AddMinutes(30), T0.AddSeconds(2));
        Assert.Equal(T0.AddMinutes(25), tracker.Watermark);
        Assert.Null(tracker.PartitionWatermarkOf(5));
    }

    [Fact]
    public void A_resumed_partition_caught_up_without_new_events_is_told_to_other_nodes_as_going_by_the_engines_watermark()
    {
        // Its events so far were processed before a restart (or by the node that handed it over): nothing of it is to
        // come that other nodes must wait for, so it does not hold their area time back for the idle timeout.
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(1, T0, resumed: true);
        tracker.Observe(0, T0.AddMinutes(9), T0);

        Assert.Equal(DateTimeOffset.MinValue, tracker.ReportedWatermarkOf(1, T0)); // its backlog is not read yet
        tracker.SetCaughtUp(1, true);
        tracker.Refresh(T0);
        Assert.Equal(tracker.Watermark, tracker.WatermarkOf(1, T0)); // its keys are told the engine's watermark
        Assert.Equal(tracker.Watermark, tracker.ReportedWatermarkOf(1, T0)); // and so it is reported
        Assert.Null(tracker.ReportedWatermarkOf(1, T0.AddSeconds(11)));
    }

    [Fact]
    public void A_node_restarted_with_nothing_left_to_read_goes_by_its_restored_keys_time()
    {
        // The failure this guards (the twenty-crash scale-out test, once in three full test runs with server GC): every
        // incarnation was killed before it reported how far its partitions had come, and the last one, with nothing left
        // to read, reported them as holding time back, then as idle: the areas' time never moved and no window closed.
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(0, T0, resumed: true, restoredUpTo: T0.AddMinutes(10));
        tracker.Assign(1, T0, resumed: true, restoredUpTo: T0.AddMinutes(12));

        Assert.Equal(DateTimeOffset.MinValue, tracker.ReportedWatermarkOf(0, T0));

        tracker.SetCaughtUp(0, true);
        tracker.SetCaughtUp(1, true);
        Assert.True(tracker.Refresh(T0.AddSeconds(1)));

        Assert.Equal(T0.AddMinutes(10).AddSeconds(-5), tracker.Watermark);
        Assert.Equal(T0.AddMinutes(10).AddSeconds(-5), tracker.ReportedWatermarkOf(0, T0.AddSeconds(1)));
        Assert.Equal(T0.AddMinutes(10).AddSeconds(-5), tracker.ReportedWatermarkOf(1, T0.AddSeconds(1)));
        Assert.Null(tracker.ReportedWatermarkOf(0, T0.AddSeconds(11))); // then idle, as any silent partition
    }

    [Fact]
    public void A_restored_partition_with_events_to_read_again_goes_by_them_not_by_its_restored_keys_time()
    {
        // Its events read again must not be judged by a time they made (they would be late).
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(0, T0, resumed: true, restoredUpTo: T0.AddMinutes(10));

        tracker.Observe(0, T0.AddMinutes(2), T0);
        Assert.False(tracker.IsLate(0, T0.AddMinutes(2), T0));
        tracker.SetCaughtUp(0, true);
        tracker.Refresh(T0.AddSeconds(1));

        Assert.Equal(T0.AddMinutes(2).AddSeconds(-5), tracker.PartitionWatermarkOf(0));
    }

    [Fact]
    public void A_partition_started_from_a_committed_time_caught_up_without_events_goes_by_its_restored_keys_time_when_later()
    {
        // The time written with a commit may be older than a key's state written after it (state is written on its own
        // interval): the later of the two holds, since every event up to either was handled.
        var tracker = new WatermarkTracker(Settings);
        tracker.Assign(0, T0, resumed: true, handedOver: T0.AddMinutes(8), restoredUpTo: T0.AddMinutes(10));
        tracker.Assign(1, T0, resumed: true, handedOver: T0.AddMinutes(12), restoredUpTo: T0.AddMinutes(10));

        tracker.SetCaughtUp(0, true);
        tracker.SetCaughtUp(1, true);
        tracker.Refresh(T0.AddSeconds(1));

        Assert.Equal(T0.AddMinutes(10).AddSeconds(-5), tracker.PartitionWatermarkOf(0));
        Assert.Equal(T0.AddMinutes(12), tracker.PartitionWatermarkOf(1));
    }

    [Fact]
    public void Observing_an_event_gives_the_partitions_own_watermark_after_it()
    {
        var tracker = new WatermarkTracker(Settings);
        tracker.Observe(0, T0.AddSeconds(20), T0, out var own);
        Assert.Equal(T0.AddSeconds(15), own);

        tracker.Observe(0, T0.AddSeconds(10), T0, out own); // out of order: it stays
        Assert.Equal(T0.AddSeconds(15), own);

        tracker.Observe(1, T0.AddSeconds(40), T0, out own);
        Assert.Equal(T0.AddSeconds(35), own);
    }
}

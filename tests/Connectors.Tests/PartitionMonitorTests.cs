using Confluent.Kafka;
using Kommune.Connectors.Kafka;

namespace Kommune.Connectors.Tests;

public sealed class PartitionMonitorTests
{
    private static readonly DateTime T0 = new(2026, 12, 1, 8, 0, 0, DateTimeKind.Utc);
    private static readonly TopicPartition P0 = new("kommune.sensor-events", 0);

    private static PartitionProgress One(PartitionMonitor monitor, DateTime now) => Assert.Single(monitor.Snapshot(now, []));

    [Fact]
    public void A_partition_the_broker_says_is_empty_at_assignment_is_caught_up_at_once_and_no_longer_once_records_arrive()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        monitor.Assigned(P0, start: 40, end: 40, T0);

        var empty = One(monitor, T0);
        Assert.True(empty.CaughtUp);
        Assert.Equal((0L, 0L, -1L), (empty.Lag, empty.Backlog, empty.LastTaken));

        monitor.SeenEnd(P0, 41);
        Assert.False(One(monitor, T0).CaughtUp);
        monitor.Taken(P0, 40, T0);
        monitor.ReachedEnd(P0, 41, T0);
        Assert.True(One(monitor, T0).CaughtUp);
    }

    [Fact]
    public void A_partition_whose_end_is_not_known_is_not_caught_up_until_the_fetcher_reaches_it()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        monitor.Assigned(P0, start: -1, end: -1, T0); // the watermark query failed
        Assert.False(One(monitor, T0).CaughtUp);

        monitor.ReachedEnd(P0, 7, T0);
        Assert.True(One(monitor, T0).CaughtUp);
    }

    [Fact]
    public void Records_the_broker_holds_beyond_what_was_taken_mean_not_caught_up()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        monitor.Assigned(P0, 0, 10, T0);
        for (var offset = 0; offset < 10; offset++)
        {
            monitor.Taken(P0, offset, T0);
        }

        monitor.ReachedEnd(P0, 10, T0);
        Assert.True(One(monitor, T0).CaughtUp);

        monitor.SeenEnd(P0, 15); // a fetch reply: five more records, not yet taken
        var behind = One(monitor, T0);
        Assert.False(behind.CaughtUp);
        Assert.Equal(5, behind.Lag);
    }

    [Fact]
    public void While_paused_no_partition_is_caught_up()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        monitor.Assigned(P0, 0, 0, T0);
        monitor.ReachedEnd(P0, 0, T0);
        monitor.Paused = true;

        Assert.False(One(monitor, T0).CaughtUp);
    }

    [Fact]
    public void What_is_known_of_the_end_grows_old_unless_the_broker_confirms_it()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        monitor.Assigned(P0, 0, 0, T0);
        monitor.ReachedEnd(P0, 0, T0);
        var later = T0 + PartitionMonitor.EndKnowledgeLifetime + TimeSpan.FromSeconds(1);

        Assert.Equal([P0], monitor.ToConfirm(later));
        Assert.False(One(monitor, later).CaughtUp);

        monitor.ConfirmedEnd(P0, 3, later); // the broker says three records arrived that no fetch brought yet
        Assert.False(One(monitor, later).CaughtUp);
        Assert.Equal(3, One(monitor, later).Lag);
    }

    [Fact]
    public void An_answer_to_a_question_asked_before_the_end_was_forgotten_confirms_nothing()
    {
        // A question asked before a pause (or before the partition was ready) may be answered after it: records that came
        // in between are past the end it gives, so it must not make the partition caught up.
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        monitor.Assigned(P0, 0, 0, T0);
        var asked = T0.AddSeconds(1);
        var forgotten = T0.AddSeconds(2);
        monitor.ForgetEnds([P0], forgotten);

        monitor.ConfirmedEnd(P0, 0, asked);
        Assert.False(One(monitor, forgotten).CaughtUp);

        monitor.ConfirmedEnd(P0, 0, forgotten); // asked from then on: counts
        Assert.True(One(monitor, forgotten).CaughtUp);
    }

    [Fact]
    public void A_transaction_marker_at_the_end_is_no_backlog_once_every_record_is_committed()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromSeconds(1));
        monitor.Assigned(P0, 0, 0, T0);
        monitor.Taken(P0, 0, T0);
        monitor.ReachedEnd(P0, 2, T0); // record 0, then a commit marker at offset 1
        monitor.Committed(P0, 1, T0);

        var progress = One(monitor, T0.AddMinutes(5));
        Assert.Equal(0, progress.Backlog);
        Assert.False(progress.Stalled);
    }

    [Fact]
    public void A_committed_offset_that_does_not_move_while_records_wait_is_stalled_after_the_timeout_and_recovers_when_it_moves()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromSeconds(30));
        monitor.Assigned(P0, 0, 0, T0);
        monitor.ReachedEnd(P0, 0, T0);
        Assert.False(One(monitor, T0.AddHours(1)).Stalled); // idle for an hour with nothing waiting: not stalled

        var work = T0.AddHours(1);
        monitor.SeenEnd(P0, 4);
        monitor.Taken(P0, 0, work);
        var changed = new List<PartitionProgress>();
        Assert.Equal(4, Assert.Single(monitor.Snapshot(work, changed)).Backlog); // snapshots come five times a second
        Assert.False(Assert.Single(monitor.Snapshot(work.AddSeconds(29), changed)).Stalled); // the wait starts when work appears
        Assert.Empty(changed);

        var stalled = Assert.Single(monitor.Snapshot(work.AddSeconds(31), changed));
        Assert.True(stalled.Stalled);
        Assert.Equal((0L, 4L), (stalled.Committed, stalled.Backlog));
        Assert.Same(stalled, Assert.Single(changed)); // reported once, when it stalls

        changed.Clear();
        Assert.True(Assert.Single(monitor.Snapshot(work.AddSeconds(40), changed)).Stalled);
        Assert.Empty(changed);

        monitor.Committed(P0, 1, work.AddSeconds(41));
        var moving = Assert.Single(monitor.Snapshot(work.AddSeconds(42), changed));
        Assert.False(moving.Stalled);
        Assert.Equal(3, moving.Backlog);
        Assert.Single(changed);
    }

    [Fact]
    public void A_published_snapshot_is_what_other_threads_read_with_the_lag_of_partitions_whose_lag_is_known()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        var p1 = new TopicPartition(P0.Topic, 1);
        monitor.Assigned(P0, start: 10, end: 25, T0);
        monitor.Assigned(p1, start: -1, end: -1, T0); // not known yet
        Assert.Equal((0L, 0, 0), (monitor.ProgressVersion, monitor.Progress.Count, monitor.Lag.Count)); // nothing published yet

        var snapshot = monitor.Snapshot(T0, []);
        monitor.Publish(snapshot);

        Assert.Same(snapshot, monitor.Progress);
        Assert.Equal(1L, monitor.ProgressVersion);
        Assert.Equal([new PartitionLag(P0.Topic, 0, 15)], monitor.Lag);

        monitor.Publish(monitor.Snapshot(T0, []));
        Assert.Equal(2L, monitor.ProgressVersion);
    }
    [Fact]
    public void Publishing_some_partitions_again_changes_only_theirs_and_a_partition_assigned_since_the_last_publication_needs_a_full_one()
    {
        var monitor = new PartitionMonitor(TimeSpan.FromMinutes(2));
        var p1 = new TopicPartition(P0.Topic, 1);
        monitor.Assigned(P0, start: 10, end: 10, T0);
        monitor.Assigned(p1, start: 20, end: 20, T0);
        monitor.Publish(monitor.Snapshot(T0, []));
        var before = monitor.Progress;
        Assert.All(before, p => Assert.True(p.CaughtUp));

        // A record after a silence on P0, and p1's end moved on without a publication.
        monitor.Taken(P0, 10, T0.AddSeconds(1));
        monitor.SeenEnd(P0, 12);
        monitor.SeenEnd(p1, 25);
        Assert.True(monitor.PublishAgain([P0], T0.AddSeconds(1), []));

        Assert.Equal(2L, monitor.ProgressVersion);
        var again = monitor.Progress;
        Assert.Equal((10L, false, 1L), (again[0].LastTaken, again[0].CaughtUp, again[0].Lag));
        Assert.Same(before[1], again[1]); // p1 as last published, until the next full publication
        Assert.Equal(-1L, before[0].LastTaken); // what was published before is never changed

        var p2 = new TopicPartition(P0.Topic, 2);
        monitor.Assigned(p2, start: 0, end: 0, T0);
        Assert.False(monitor.PublishAgain([p2], T0.AddSeconds(2), []));
        Assert.Equal(2L, monitor.ProgressVersion);

        monitor.Publish(monitor.Snapshot(T0.AddSeconds(2), []));
        Assert.Equal((3, 5L), (monitor.Progress.Count, monitor.Progress.Single(p => p.Partition == 1).Lag));
    }
}

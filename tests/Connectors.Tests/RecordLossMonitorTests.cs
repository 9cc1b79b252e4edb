using Confluent.Kafka;
using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kommune.Connectors.Tests;

public sealed class RecordLossMonitorTests
{
    private static readonly TopicPartition P0 = new("kommune.sensor-events", 0);
    private static readonly TopicPartition P1 = new("kommune.sensor-events", 1);

    private static RecordLossMonitor NewMonitor() => new(NullLogger.Instance);

    private static LogMessage OffsetReset(TopicPartition partition) => new(
        "kommune-engine", SyslogLevel.Info, "OFFSET",
        $"[thrd:main]: {partition.Topic} [{partition.Partition.Value}]: offset reset (at offset 12 (leader epoch 0), broker 1) to offset BEGINNING (leader epoch -1): fetch failed due to requested offset not available on the broker: Broker: Offset out of range");

    [Fact]
    public void A_committed_offset_the_broker_deleted_starts_at_the_log_start_and_counts_the_records_in_between_as_lost()
    {
        var monitor = NewMonitor();
        var start = monitor.StartAfterRetention(new TopicPartitionOffset(P0, 12), new Offset(40));

        Assert.Equal(40, start.Value);
        Assert.Equal(28, monitor.Lost);
    }

    [Fact]
    public void A_committed_offset_still_in_the_log_is_where_consumption_starts_and_nothing_is_lost()
    {
        var monitor = NewMonitor();
        Assert.Equal(40, monitor.StartAfterRetention(new TopicPartitionOffset(P0, 40), new Offset(40)).Value);
        Assert.Equal(41, monitor.StartAfterRetention(new TopicPartitionOffset(P0, 41), new Offset(40)).Value);
        Assert.Equal(0, monitor.Lost);
    }

    [Fact]
    public void An_offset_reset_in_the_client_log_counts_the_records_it_jumped_over_once()
    {
        var monitor = NewMonitor();
        monitor.StartsAt(P0, 12);
        monitor.ClientLogged(OffsetReset(P0));

        monitor.Taken(P0, 40);
        Assert.Equal(28, monitor.Lost);

        monitor.Taken(P0, 45); // a gap (transaction markers) without a reset: nothing lost
        Assert.Equal(28, monitor.Lost);
    }

    [Fact]
    public void An_offset_reset_counts_only_for_its_own_partition_and_only_records_jumped_over()
    {
        var monitor = NewMonitor();
        monitor.StartsAt(P0, 12);
        monitor.StartsAt(P1, 5);
        monitor.ClientLogged(OffsetReset(P1));

        monitor.Taken(P0, 40);
        Assert.Equal(0, monitor.Lost);

        monitor.Taken(P1, 5); // reset to where it was anyway
        Assert.Equal(0, monitor.Lost);
    }

    [Fact]
    public void Other_client_log_lines_change_nothing()
    {
        var monitor = NewMonitor();
        monitor.StartsAt(P0, 12);
        monitor.ClientLogged(new LogMessage("kommune-engine", SyslogLevel.Info, "FETCH", $"{P0.Topic} [0]: offset reset"));
        monitor.Taken(P0, 40);
        Assert.Equal(0, monitor.Lost);
    }

    [Fact]
    public void A_record_before_the_next_expected_was_taken_already_and_is_redelivered()
    {
        var monitor = NewMonitor();
        Assert.False(monitor.IsRedelivered(P0, 3)); // nothing known of the partition: taken

        monitor.StartsAt(P0, 10);
        Assert.True(monitor.IsRedelivered(P0, 9));
        Assert.False(monitor.IsRedelivered(P0, 10));

        monitor.Taken(P0, 10);
        monitor.Taken(P0, 11);
        Assert.True(monitor.IsRedelivered(P0, 10));
        Assert.True(monitor.IsRedelivered(P0, 11));
        Assert.False(monitor.IsRedelivered(P0, 12));
        Assert.Equal(3, monitor.Redelivered);
    }

    [Fact]
    public void A_revoked_partition_is_forgotten_with_its_pending_offset_reset()
    {
        var monitor = NewMonitor();
        monitor.StartsAt(P0, 10);
        monitor.ClientLogged(OffsetReset(P0));
        monitor.Revoked(P0);

        Assert.False(monitor.IsRedelivered(P0, 3));
        monitor.StartsAt(P0, 10);
        monitor.Taken(P0, 20);
        Assert.Equal(0, monitor.Lost);
    }
}

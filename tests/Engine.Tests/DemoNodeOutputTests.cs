using Kommune.Engine.Hosting;

namespace Kommune.Engine.Tests;

/// <summary>
/// What kommune demo --nodes makes of its nodes' log lines (<see cref="NodeLogLine"/>) and of who owns which partition
/// (<see cref="PartitionOwners"/>), on lines as <c>kommune run --log-format json</c> prints them.
/// </summary>
public sealed class DemoNodeOutputTests
{
    private const string Taken = """{"Timestamp":"2026-12-02T04:38:31.069Z","EventId":3013,"LogLevel":"Information","Category":"Kommune.Engine.KommuneEngine","Message":"Partitions (tasks) 1, 3, 5 taken","State":{"Partitions":"1, 3, 5","What":"taken","{OriginalFormat}":"Partitions (tasks) {Partitions} {What}"}}""";

    [Fact]
    public void A_partitions_line_says_which_were_taken()
    {
        var line = NodeLogLine.Read(Taken);

        Assert.Equal("partitions 1, 3, 5 taken", line.Text);
        Assert.Equal([1, 3, 5], line.Partitions);
        Assert.True(line.Taken);
    }

    [Fact]
    public void Partitions_handed_over_or_lost_are_not_taken()
    {
        var handedOver = NodeLogLine.Read(Taken.Replace("\"What\":\"taken\"", "\"What\":\"handed over\"", StringComparison.Ordinal));
        var lost = NodeLogLine.Read(Taken.Replace("\"What\":\"taken\"", "\"What\":\"lost\"", StringComparison.Ordinal));

        Assert.Equal("partitions 1, 3, 5 handed over", handedOver.Text);
        Assert.False(handedOver.Taken);
        Assert.Equal("partitions 1, 3, 5 lost", lost.Text);
        Assert.Equal([1, 3, 5], lost.Partitions);
    }

    [Fact]
    public void A_rebalance_that_gives_a_node_nothing_is_not_shown()
    {
        var line = NodeLogLine.Read(Taken.Replace("\"Partitions\":\"1, 3, 5\"", "\"Partitions\":\"\"", StringComparison.Ordinal));

        Assert.Null(line.Text);
        Assert.Null(line.Partitions);
    }

    [Fact]
    public void Warnings_and_errors_are_shown_with_the_first_line_of_their_exception_and_other_information_is_not()
    {
        var warning = NodeLogLine.Read("""{"EventId":1008,"LogLevel":"Warning","Category":"Kommune.Connectors.Kafka.KafkaEventSource","Message":"Could not store offset","State":{}}""");
        var error = NodeLogLine.Read("""{"EventId":3101,"LogLevel":"Critical","Category":"Kommune.Engine.Hosting.EngineService","Message":"The Kafka consumer failed","Exception":"System.InvalidOperationException: broken\n   at Somewhere()","State":{}}""");
        var assigned = NodeLogLine.Read("""{"EventId":1005,"LogLevel":"Information","Category":"Kommune.Connectors.Kafka.KafkaEventSource","Message":"Assigned partitions","State":{"Partitions":"0, 1"}}""");

        Assert.Equal("warn: Could not store offset", warning.Text);
        Assert.Equal("crit: The Kafka consumer failed (System.InvalidOperationException: broken)", error.Text);
        Assert.Null(assigned.Text);
        Assert.Null(assigned.Partitions);
    }

    [Fact]
    public void The_state_restorers_line_is_shown_when_it_restored_partitions_and_not_when_it_had_none()
    {
        const string Restored = """{"EventId":3101,"LogLevel":"Information","Category":"Kommune.Connectors.Kafka.KafkaStateRestorer","Message":"Restored the state of 4 keys from 9 state records of partitions 0, 2 in 12 ms","State":{"Keys":4,"Records":9,"Partitions":"0, 2","Milliseconds":12.3}}""";

        Assert.Equal("Restored the state of 4 keys from 9 state records of partitions 0, 2 in 12 ms", NodeLogLine.Read(Restored).Text);
        Assert.Null(NodeLogLine.Read(Restored.Replace("\"Partitions\":\"0, 2\"", "\"Partitions\":\"\"", StringComparison.Ordinal)).Text);
    }

    [Fact]
    public void A_line_that_is_not_a_log_line_is_shown_as_it_is()
    {
        Assert.Equal("Unhandled exception. System.Exception: boom", NodeLogLine.Read("Unhandled exception. System.Exception: boom").Text);
        Assert.Equal("{ not json", NodeLogLine.Read("{ not json").Text);
        Assert.Null(NodeLogLine.Read("").Text);
    }

    [Fact]
    public void Ownership_says_each_node_s_partitions_and_whether_every_partition_has_one_owner()
    {
        var owners = new PartitionOwners(6);
        owners.Join("node-1");
        owners.Join("node-2");
        Assert.Equal("node-1 none | node-2 none (not owned: 0, 1, 2, 3, 4, 5)", owners.Describe());

        owners.Take("node-1", [0, 1, 2, 3, 4, 5]);
        Assert.Equal("node-1 0, 1, 2, 3, 4, 5 | node-2 none (all 6 owned)", owners.Describe());

        owners.Give("node-1", [1, 3, 5]);
        owners.Take("node-2", [5, 3, 1]);
        Assert.Equal("node-1 0, 2, 4 | node-2 1, 3, 5 (all 6 owned)", owners.Describe());

        owners.Take("node-1", [3]);
        Assert.Equal("node-1 0, 2, 3, 4 | node-2 1, 3, 5 (owned twice: 3)", owners.Describe());
    }

    [Fact]
    public void A_node_that_exits_owns_nothing_and_its_partitions_wait_for_the_others()
    {
        var owners = new PartitionOwners(4);
        owners.Take("node-1", [0, 2]);
        owners.Take("node-2", [1, 3]);

        Assert.Equal([1, 3], owners.Leave("node-2"));
        Assert.Equal("node-1 0, 2 (not owned: 1, 3)", owners.Describe());
        Assert.Empty(owners.Leave("node-2"));
        owners.Leave("node-1");
        Assert.Equal("no node (not owned: 0, 1, 2, 3)", owners.Describe());
    }
}

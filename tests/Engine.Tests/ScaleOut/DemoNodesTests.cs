using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.ScaleOut;

/// <summary>
/// <c>kommune demo --nodes 3</c> as a user runs it (issue 15): three engine node processes share the partitions; one
/// stopped with SIGTERM is reported, the other two take its partitions and go on with its events; the demo's own
/// SIGTERM stops them all, and none outlives it.
/// </summary>
[Collection(KafkaLanes.Second)]
public sealed partial class DemoNodesTests(ITestOutputHelper output)
{
    private const int Partitions = 12;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task A_node_stopped_with_SIGTERM_hands_its_partitions_to_the_others_and_the_demo_goes_on_then_stops_them_all()
    {
        // Falls every two seconds on average: alerts keep coming. The duration only bounds a run that goes wrong. The
        // console on any free port: port 8080 is the other demo tests'.
        using var demo = KommuneProcess.Start(
            new Dictionary<string, string> { ["KOMMUNE_Console__Urls"] = "http://127.0.0.1:0" },
            "demo", "--nodes", "3", "--falls-per-minute", "30", "--duration", "120");
        var clock = Stopwatch.StartNew();
        try
        {
            var bootstrap = BrokerLine().Match(await demo.WaitForLineAsync(l => BrokerLine().IsMatch(l), Wait)).Groups[1].Value;
            var group = GroupLine().Match(await demo.WaitForLineAsync(l => GroupLine().IsMatch(l), Wait)).Groups[1].Value;
            var pids = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var node in new[] { "node-1", "node-2", "node-3" })
            {
                var started = await demo.WaitForLineAsync(l => l.StartsWith($"[{node}] started as process ", StringComparison.Ordinal), Wait);
                pids[node] = int.Parse(started.Split(' ')[^1], CultureInfo.InvariantCulture);
            }

            var spread = Owners(await demo.WaitForLineAsync(l => Owners(l) is { Count: 3 } o && o.Values.All(p => p.Count > 0), Wait))!;
            var moving = spread["node-2"];
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: three nodes share the partitions");

            await SignalAsync(pids["node-2"], "TERM");
            await demo.WaitForOutputAsync("[node-2] exited (code 0); the other nodes take over its partitions", Wait);
            var exited = DateTimeOffset.UtcNow;
            var after = Owners(await demo.WaitForLineAsync(l => Owners(l) is { Count: 2 } o && o.ContainsKey("node-1") && o.ContainsKey("node-3"), Wait))!;
            Assert.Subset(after["node-1"].Union(after["node-3"]).ToHashSet(), moving.ToHashSet());
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: node-2 exited, the others own its partitions");

            // The new owners go on with its partitions: past everything that was in them when they took them over.
            await CommittedPastEndAsync(bootstrap, group, moving);
            await demo.WaitForLineAsync(l => AlertTime(l) is { } at && at > exited, Wait);
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: its partitions committed past their end, a later alert printed");

            await demo.StopAsync("TERM", Wait);
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: the demo stopped");
            Assert.Equal(0, demo.ExitCode);
            Assert.Contains("[node-1] stopped (code 0)", demo.Output, StringComparison.Ordinal);
            Assert.Contains("[node-3] stopped (code 0)", demo.Output, StringComparison.Ordinal);
            Assert.Empty(pids.Where(p => IsEngineNode(p.Value)).Select(p => p.Key));
        }
        finally
        {
            output.WriteLine(demo.Output);
        }
    }

    /// <summary>
    /// Waits until the engine nodes' group has committed, in each of <paramref name="partitions"/>, an offset past the
    /// end the partition had when this began.
    /// </summary>
    private static async Task CommittedPastEndAsync(string bootstrap, string group, IReadOnlyCollection<int> partitions)
    {
        // Never subscribes: reads the group's committed offsets without joining it.
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = group })
            .SetLogHandler((_, _) => { }).Build();
        var topicPartitions = partitions.Select(p => new TopicPartition("kommune.sensor-events", p)).ToList();
        var ends = topicPartitions.ToDictionary(tp => tp.Partition.Value, tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value);
        var committed = new Dictionary<int, long>();
        await KafkaTestBed.WaitUntilAsync(
            () =>
            {
                committed = consumer.Committed(topicPartitions, TimeSpan.FromSeconds(5)).ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
                return Task.FromResult(ends.All(e => committed.GetValueOrDefault(e.Key) > e.Value));
            },
            () => $"ends then {string.Join(", ", ends)}; committed {string.Join(", ", committed)}");
    }

    /// <summary>The demo's ownership line as node and partitions, or null for any other line.</summary>
    private static Dictionary<string, List<int>>? Owners(string line)
    {
        if (!line.StartsWith("Partitions: ", StringComparison.Ordinal) || !line.EndsWith($"(all {Partitions} owned)", StringComparison.Ordinal))
        {
            return null;
        }

        return line["Partitions: ".Length..line.LastIndexOf(" (", StringComparison.Ordinal)].Split(" | ")
            .Select(n => n.Split(' ', 2))
            .ToDictionary(
                n => n[0],
                n => n[1] == "none" ? [] : n[1].Split(", ").Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList());
    }

    /// <summary>The event time of an alert line, or null for any other line.</summary>
    private static DateTimeOffset? AlertTime(string line) =>
        AlertLine().Match(line) is { Success: true } m ? DateTimeOffset.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    /// <summary>Whether process <paramref name="pid"/> runs and is an engine node (not a process that took its id since).</summary>
    private static bool IsEngineNode(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("--node-id", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    [GeneratedRegex(@"^Embedded Kafka broker on (\S+)$")]
    private static partial Regex BrokerLine();

    [GeneratedRegex(@"^Engine nodes: 3 processes of `kommune run` in group (\S+),")]
    private static partial Regex GroupLine();

    [GeneratedRegex(@"^ALERT .* at (\S+Z)  \[")]
    private static partial Regex AlertLine();
}

using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// A node killed with SIGKILL during a stream and started again: its output resumes, and the time from the restart to
/// its first output is measured, as a dynamic and as a static group member (KIP-345). The embedded broker does not
/// implement static membership (its JoinGroup matches members by member id only), so here both wait for the killed
/// member's session to expire; the figures are printed, never asserted (docs/reliability.md has them and what a real
/// Kafka does).
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class RestartTimeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_node_killed_during_a_stream_and_started_again_resumes_its_output_and_the_restart_to_first_output_is_measured(bool staticMembership)
    {
        var bootstrapFile = Path.Combine(Path.GetTempPath(), $"kommune-restart-{Guid.NewGuid():N}");
        using var broker = KommuneProcess.Start("broker", "--partitions", "4", "--bootstrap-file", bootstrapFile);
        var environment = new Dictionary<string, string>
        {
            ["KOMMUNE_StaticMembership"] = staticMembership ? "true" : "false",
            ["KOMMUNE_CommitInterval"] = "00:00:00.200",
            ["KOMMUNE_StateInterval"] = "00:00:00.200",
        };
        using var stop = new CancellationTokenSource();
        Task? stream = null;
        try
        {
            await broker.WaitForOutputAsync("Topics (4 partitions each)", Wait);
            await KafkaTestBed.WaitUntilAsync(() => File.Exists(bootstrapFile) && new FileInfo(bootstrapFile).Length > 0);
            var bootstrap = (await File.ReadAllTextAsync(bootstrapFile)).Trim();
            string[] args = ["run", "--bootstrap-servers", bootstrap, "--group-id", "restart", "--node-id", "node-1"];

            var first = KommuneProcess.Start(environment, args);
            await first.WaitForOutputAsync("Assigned partitions", Wait);
            // A stream of falls, one every 50 ms over the four partitions (at most 3,000, a little over two minutes).
            stream = Task.Run(() => Stream(bootstrap, stop.Token));
            await KafkaTestBed.WaitUntilAsync(() => AlertRecords(bootstrap) >= 20);

            await first.SignalAsync("KILL");
            await first.WaitForExitAsync(Wait);
            var before = AlertRecords(bootstrap);
            var restartedAt = DateTime.UtcNow;
            var restarted = Stopwatch.StartNew();
            using var second = KommuneProcess.Start(environment, args);
            await second.WaitForOutputAsync("Assigned partitions", Wait);
            var assigned = restarted.Elapsed;
            await KafkaTestBed.WaitUntilAsync(() => AlertRecords(bootstrap) > before);
            var firstOutput = restarted.Elapsed;

            // What the node itself costs (process start to joining the group, and assignment to first output) is what a
            // restart costs on a broker that hands a returning static member its partitions at once (KIP-345).
            var joining = (LogTime(second.Output, "Engine started against") - restartedAt).TotalSeconds;
            output.WriteLine($"{(staticMembership ? "static" : "dynamic")} membership on the embedded broker: restart -> joining the group {joining:F1} s, "
                + $"-> partitions assigned {assigned.TotalSeconds:F1} s, -> first output {firstOutput.TotalSeconds:F1} s (assigned -> first output {(firstOutput - assigned).TotalSeconds:F1} s)");
            output.WriteLine(second.Output);
            Assert.Contains(staticMembership ? "as node node-1 (static member)" : "as node node-1 (dynamic member)", second.Output, StringComparison.Ordinal);
            await stop.CancelAsync();
            await stream;
            await second.StopAsync("TERM", Wait);
            Assert.Equal(0, second.ExitCode);
        }
        finally
        {
            await stop.CancelAsync();
            await broker.StopAsync("TERM", Wait);
            File.Delete(bootstrapFile);
        }
    }

    /// <summary>The time stamp of the first JSON log line containing <paramref name="text"/>.</summary>
    private static DateTime LogTime(string log, string text)
    {
        var line = log.Split('\n').First(l => l.Contains(text, StringComparison.Ordinal));
        using var json = System.Text.Json.JsonDocument.Parse(line);
        return json.RootElement.GetProperty("Timestamp").GetDateTime().ToUniversalTime();
    }

    private static void Stream(string bootstrap, CancellationToken stop)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, LingerMs = 1 })
            .SetLogHandler((_, _) => { }).Build();
        var start = DateTimeOffset.UtcNow.AddMinutes(-10);
        for (var i = 0; i < 3_000 && !stop.IsCancellationRequested; i++)
        {
            var fall = new SensorEvent($"wearable-{i:D4}", $"area-{i % 5}", SensorTypes.Fall, start.AddMilliseconds(i * 50), new Dictionary<string, SensorValue> { ["confidence"] = 0.95 });
            producer.Produce("kommune.sensor-events", new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(fall.SensorId), Value = SensorEventEncoder.Encode(fall) });
            stop.WaitHandle.WaitOne(50); // the stream's pace: one event every 50 ms of wall time
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private static long AlertRecords(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "restart-reader" })
            .SetLogHandler((_, _) => { }).Build();
        return Enumerable.Range(0, 4).Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition("kommune.alerts", p), TimeSpan.FromSeconds(10)).High.Value);
    }
}

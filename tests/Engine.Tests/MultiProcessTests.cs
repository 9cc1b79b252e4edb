using System.Text;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// kommune broker, kommune run and kommune simulate as three processes sharing the embedded broker, the way an
/// operator (or the crash tests) runs them.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class MultiProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Broker_run_and_simulate_work_as_separate_processes_and_stop_on_SIGTERM()
    {
        var bootstrapFile = Path.Combine(Path.GetTempPath(), $"kommune-bootstrap-{Guid.NewGuid():N}");
        using var broker = KommuneProcess.Start("broker", "--partitions", "4", "--bootstrap-file", bootstrapFile);
        KommuneProcess? engine = null;
        KommuneProcess? simulator = null;
        try
        {
            await broker.WaitForOutputAsync("Topics (4 partitions each)", Wait);
            var bootstrap = (await File.ReadAllTextAsync(bootstrapFile)).Trim();
            Assert.Matches(@"^127\.0\.0\.1:\d+$", bootstrap);

            engine = KommuneProcess.Start("run", "--bootstrap-servers", bootstrap, "--group-id", "multi-process");
            await engine.WaitForOutputAsync("Assigned partitions", Wait);
            // Seeded simulator: 600 events with falls frequent enough that some are among them.
            simulator = KommuneProcess.Start("simulate", "-b", bootstrap, "--count", "600", "--rate", "2000", "--falls-per-minute", "1200");
            await simulator.WaitForExitAsync(Wait);
            Assert.Equal(0, simulator.ExitCode);
            Assert.Contains("Produced 600 events (0 failed)", simulator.Output, StringComparison.Ordinal);

            var alerts = ReadAlerts(bootstrap);
            Assert.NotEmpty(alerts);
            Assert.All(alerts, a => Assert.Contains("\"rule\":\"fall-detection\"", a, StringComparison.Ordinal));

            await engine.StopAsync("TERM", Wait);
            Assert.Equal(0, engine.ExitCode);
            // A graceful stop drains what it took: everything it processed is committed, nothing more.
            var stopped = System.Text.RegularExpressions.Regex.Match(engine.Output, @"Engine stopped after (\d+) events; 0 outputs unacknowledged");
            Assert.True(stopped.Success, "the engine should report a clean stop");
            Assert.Equal(long.Parse(stopped.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), CommittedOffsets(bootstrap, "multi-process"));
            await broker.StopAsync("TERM", Wait);
            Assert.Equal(0, broker.ExitCode);
        }
        finally
        {
            output.WriteLine("--- broker\n" + broker.Output);
            output.WriteLine("--- engine\n" + engine?.Output);
            output.WriteLine("--- simulator\n" + simulator?.Output);
            engine?.Dispose();
            simulator?.Dispose();
            File.Delete(bootstrapFile);
        }
    }

    private static long CommittedOffsets(string bootstrap, string groupId)
    {
        using var consumer = new Confluent.Kafka.ConsumerBuilder<byte[], byte[]>(new Confluent.Kafka.ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = groupId,
        }).SetLogHandler((_, _) => { }).Build();
        var partitions = Enumerable.Range(0, 4).Select(p => new Confluent.Kafka.TopicPartition("kommune.sensor-events", p));
        return consumer.Committed(partitions, Wait).Sum(c => Math.Max(0, c.Offset.Value));
    }

    private static List<string> ReadAlerts(string bootstrap)
    {
        using var consumer = new Confluent.Kafka.ConsumerBuilder<byte[], byte[]>(new Confluent.Kafka.ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "alert-reader",
            AutoOffsetReset = Confluent.Kafka.AutoOffsetReset.Earliest,
        }).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe("kommune.alerts");
        var alerts = new List<string>();
        var deadline = DateTime.UtcNow + Wait;
        while (alerts.Count == 0 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r)
            {
                alerts.Add(Encoding.UTF8.GetString(r.Message.Value));
            }
        }

        return alerts;
    }
}

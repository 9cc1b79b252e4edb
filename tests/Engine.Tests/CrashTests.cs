using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// The crash test: the engine as a separate process against <c>kommune broker</c>, killed with SIGKILL at random
/// moments while it works through a workload and started again each time. Repeated falls of one sensor update one
/// alert (sequence 2, 3, …) only if the state of the first fall survived, so the final alerts topic must hold every
/// (alertId, sequence) of a kill-free run, nothing else, and every duplicate byte-identical to its original.
/// </summary>
[Collection(SequentialKafkaTests.Name)]
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Sensors = 60;
    private const int FallsPerSensor = 5;
    private const int Kills = 4;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Killed_with_SIGKILL_again_and_again_the_engine_leaves_exactly_the_records_of_a_kill_free_run()
    {
        var bootstrapFile = Path.Combine(Path.GetTempPath(), $"kommune-crash-{Guid.NewGuid():N}");
        var rulesFile = Path.Combine(Path.GetTempPath(), $"kommune-crash-rules-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(rulesFile, """{ "rules": [ { "name": "fall-detection", "rule": "fall-detection", "parameters": { "t1": "1h", "t2": "1h" } } ] }""");
        var environment = new Dictionary<string, string>
        {
            ["KOMMUNE_PersistState"] = "true",
            ["KOMMUNE_SessionTimeout"] = "00:00:03",
            ["KOMMUNE_StateInterval"] = "00:00:00.200",
            ["KOMMUNE_CommitInterval"] = "00:00:00.200",
            ["KOMMUNE_MaxInFlightEvents"] = "20",
        };
        var engineArgs = new[] { "run", "--bootstrap-servers", "", "--group-id", "crash", "--rules", rulesFile };
        using var broker = KommuneProcess.Start("broker", "--partitions", "4", "--bootstrap-file", bootstrapFile);
        var log = new StringBuilder();
        try
        {
            await broker.WaitForOutputAsync("Topics (4 partitions each)", Wait);
            await KafkaTestBed.WaitUntilAsync(() => File.Exists(bootstrapFile) && new FileInfo(bootstrapFile).Length > 0);
            var bootstrap = (await File.ReadAllTextAsync(bootstrapFile)).Trim();
            engineArgs[2] = bootstrap;

            // The workload: each sensor falls five times, a second apart in event time, in rounds over all sensors.
            var start = DateTimeOffset.UtcNow.AddMinutes(-30);
            var events = Enumerable.Range(0, FallsPerSensor)
                .SelectMany(round => Enumerable.Range(0, Sensors).Select(s => new SensorEvent(
                    $"wearable-{s:D3}", $"area-{s % 6}", SensorTypes.Fall, start.AddSeconds((round * Sensors) + s),
                    new Dictionary<string, SensorValue> { ["confidence"] = 0.9 + (round / 100.0) })))
                .ToList();
            using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true })
                .SetLogHandler((_, _) => { }).Build();
            var random = new Random(27);
            var batch = events.Count / (Kills + 1);
            for (var kill = 0; kill <= Kills; kill++)
            {
                foreach (var e in events.Skip(kill * batch).Take(kill == Kills ? int.MaxValue : batch))
                {
                    producer.Produce("kommune.sensor-events", new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(e.SensorId), Value = SensorEventEncoder.Encode(e) });
                }

                producer.Flush(Wait);
                using var engine = KommuneProcess.Start(environment, engineArgs);
                await engine.WaitForOutputAsync("Assigned partitions", Wait);
                if (kill == Kills)
                {
                    // The last run is left to finish: every record of the kill-free run must be there.
                    await KafkaTestBed.WaitUntilAsync(() => Committed(bootstrap) == events.Count);
                    await engine.StopAsync("TERM", Wait);
                    log.AppendLine(CultureInfo.InvariantCulture, $"--- final engine\n{engine.Output}");
                    break;
                }

                await Task.Delay(random.Next(300, 1500)); // a random moment to crash at: wall time is the point here
                await engine.SignalAsync("KILL");
                await engine.WaitForExitAsync(Wait);
                log.AppendLine(CultureInfo.InvariantCulture, $"--- engine killed after run {kill + 1} (committed {Committed(bootstrap)})\n{engine.Output}");
            }

            // The kill-free run: per sensor, one alert raised by its first fall and updated by each later one.
            var expected = events.GroupBy(e => e.SensorId)
                .SelectMany(g => g.Select((e, i) => ($"fall-detection:{g.Key}:{g.First().Timestamp.ToUnixTimeMilliseconds()}", i + 1)))
                .ToHashSet();
            var records = ReadAll(bootstrap, "kommune.alerts");
            var seen = new Dictionary<(string AlertId, int Sequence), byte[]>();
            foreach (var record in records)
            {
                using var json = System.Text.Json.JsonDocument.Parse(record);
                var pair = (json.RootElement.GetProperty("alertId").GetString()!, json.RootElement.GetProperty("sequence").GetInt32());
                if (seen.TryGetValue(pair, out var first))
                {
                    Assert.True(first.AsSpan().SequenceEqual(record), $"a duplicate of {pair} differs from its original");
                }
                else
                {
                    seen[pair] = record;
                }
            }

            output.WriteLine($"{records.Count} alert records, {seen.Count} distinct (alertId, sequence), {expected.Count} expected");
            Assert.Equal(expected.OrderBy(p => p), seen.Keys.OrderBy(p => p));
        }
        finally
        {
            output.WriteLine(log.ToString());
            output.WriteLine("--- broker\n" + broker.Output);
            await broker.StopAsync("TERM", Wait);
            File.Delete(bootstrapFile);
            File.Delete(rulesFile);
        }
    }

    private static long Committed(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "crash" })
            .SetLogHandler((_, _) => { }).Build();
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition("kommune.sensor-events", p));
        return consumer.Committed(partitions, Wait).Sum(c => Math.Max(0, c.Offset.Value));
    }

    private static List<byte[]> ReadAll(string bootstrap, string topic)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"reader-{Guid.NewGuid():N}" })
            .SetLogHandler((_, _) => { }).Build();
        var records = new List<byte[]>();
        foreach (var partition in Enumerable.Range(0, 4))
        {
            var tp = new TopicPartition(topic, partition);
            var end = consumer.QueryWatermarkOffsets(tp, Wait).High.Value;
            if (end == 0)
            {
                continue;
            }

            consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
            while (true)
            {
                var r = consumer.Consume(Wait);
                Assert.NotNull(r);
                records.Add(r.Message.Value);
                if (r.Offset.Value + 1 >= end)
                {
                    break;
                }
            }
        }

        return records;
    }
}

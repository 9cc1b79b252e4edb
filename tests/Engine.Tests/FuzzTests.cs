using System.Globalization;
using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Fuzzing the input through the real path: thousands of random byte strings and randomly mutated valid events on
/// the sensor-events topic, with every built-in rule running. The engine never stops, and every record is accounted
/// for exactly once: processed (its rules ran) or dead-lettered at decode or as late, never both, never neither.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int RandomRecords = 4_000;
    private const int MutatedRecords = 8_000;

    [Fact]
    public async Task Random_and_mutated_records_are_each_processed_or_dead_lettered_exactly_once_and_the_engine_keeps_running()
    {
        using var bed = new KafkaTestBed(output, partitions: 4);
        await using var engine = await bed.StartEngineAsync(); // no rules given: every built-in municipal rule
        var random = new Random(20261127);
        var simulator = new SensorSimulator(new SimulatorOptions { Sensors = 300, Areas = 6, Seed = 5, FallsPerMinute = 600 });
        var produced = 0;
        var unmutated = 0;
        for (var i = 0; i < RandomRecords + MutatedRecords; i++)
        {
            if (i % 3 == 0 && i / 3 < RandomRecords)
            {
                var value = new byte[random.Next(0, 200)];
                random.NextBytes(value);
                var key = random.Next(4) == 0 ? null : Encoding.UTF8.GetBytes($"fuzz-{random.Next(50)}");
                bed.Produce(bed.Options.Topics.SensorEvents, key, random.Next(20) == 0 ? null : value);
            }
            else
            {
                var valid = simulator.Next(Events.T0.AddMilliseconds(i * 10));
                var (key, value, mutated) = Mutate(random, Encoding.UTF8.GetBytes(valid.SensorId), SensorEventEncoder.Encode(valid));
                unmutated += mutated ? 0 : 1;
                bed.Produce(bed.Options.Topics.SensorEvents, key, value);
            }

            produced++;
        }

        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { Processing: 0 } s && s.Consumed == produced);
        // Everything taken is complete (its state acknowledged too) once the committed offsets reach the end.
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
        await engine.StopAsync();

        var statistics = engine.Statistics;
        Assert.False(engine.ConsumerCompletion.IsFaulted, "the consume loop failed");
        var deadLetters = bed.ReadAtLeast(bed.Options.Topics.DeadLetters, (int)statistics.DeadLettered);
        Assert.Equal(statistics.DeadLettered, deadLetters.Count);
        string Header(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> r, string name) => Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes(name));
        var notProcessed = deadLetters.Where(d => Header(d, DeadLetterHeaders.Stage) is "decode" or "late").ToList();
        var byStage = deadLetters.GroupBy(d => Header(d, DeadLetterHeaders.Stage)).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"produced {produced} ({unmutated} valid unchanged), processed {statistics.Processed}, dead letters {string.Join(", ", byStage.Select(s => $"{s.Key} {s.Value}"))}, alerts {statistics.Alerts}"));

        // Exactly once each: processed + dead-lettered instead of processing = produced, and no source record twice.
        Assert.Equal(produced, statistics.Processed + notProcessed.Count);
        Assert.Equal(notProcessed.Count, notProcessed.Select(d => (Header(d, DeadLetterHeaders.SourcePartition), Header(d, DeadLetterHeaders.SourceOffset))).Distinct().Count());
        Assert.All(deadLetters, d => Assert.False(string.IsNullOrWhiteSpace(Header(d, DeadLetterHeaders.Reason))));
        // Valid events are processed, or late when a mutated timestamp moved the watermark ahead of them.
        Assert.True(statistics.Processed + byStage.GetValueOrDefault("late") >= unmutated, "valid events went missing");
        Assert.True(statistics.Alerts > 0, "the rules kept raising alerts");
        // The built-in rules take whatever decodes (1e308 km/h included) without throwing, and their state is written.
        Assert.Equal(0, statistics.RuleFailures);
        Assert.True(byStage.GetValueOrDefault("decode") >= RandomRecords * 9 / 10, "random bytes are refused at decode");
        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
        // Bad input is refused with reasons, never by failing: no actor failed and nothing was logged as an error.
        Assert.Empty(bed.Logs.Errors);
    }

    /// <summary>One of several mutations of a valid record, or (one time in five) the record unchanged.</summary>
    private static (byte[]? Key, byte[]? Value, bool Mutated) Mutate(Random random, byte[] key, byte[] value)
    {
        var bytes = value.ToList();
        switch (random.Next(10))
        {
            case 0:
            case 1:
                return (key, value, false);
            case 2: // flip bytes
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                }

                break;
            case 3: // cut a range out
                var start = random.Next(bytes.Count);
                bytes.RemoveRange(start, random.Next(1, Math.Min(20, bytes.Count - start) + 1));
                break;
            case 4: // insert random bytes
                var insert = new byte[random.Next(1, 10)];
                random.NextBytes(insert);
                bytes.InsertRange(random.Next(bytes.Count), insert);
                break;
            case 5: // truncate
                var keep = random.Next(bytes.Count);
                bytes.RemoveRange(keep, bytes.Count - keep);
                break;
            case 6: // a digit changed (numbers and timestamps move, sometimes far)
                var digits = Enumerable.Range(0, bytes.Count).Where(i => bytes[i] is >= (byte)'0' and <= (byte)'9').ToList();
                if (digits.Count > 0)
                {
                    bytes[digits[random.Next(digits.Count)]] = (byte)('0' + random.Next(10));
                }

                break;
            case 7: // a value of another type
                var text = Encoding.UTF8.GetString(value);
                var colon = text.LastIndexOf(':');
                text = text[..(colon + 1)] + new[] { "true", "\"text\"", "null", "1e308", "-0", "[]", "{}" }[random.Next(7)] + "}}";
                return (key, Encoding.UTF8.GetBytes(text), true);
            case 8: // the key does not match the sensor
                return (random.Next(2) == 0 ? null : Encoding.UTF8.GetBytes("another-sensor"), value, true);
            default: // a chunk repeated
                var from = random.Next(bytes.Count);
                var chunk = bytes.GetRange(from, Math.Min(15, bytes.Count - from));
                bytes.InsertRange(random.Next(bytes.Count), chunk);
                break;
        }

        return (key, [.. bytes], true);
    }
}

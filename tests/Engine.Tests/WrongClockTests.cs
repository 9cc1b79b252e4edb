using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Connectors.Simulation;
using Kommune.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Sensors whose clocks are wrong, first thing after a start (while the watermark is not yet known): a reset clock's
/// 1970 is dead-lettered at decode; a clock years behind is taken as event time, and the watermark then jumps to the
/// present. Every rule copes with the jump in bounded work (the parking minutes pause after an hour without
/// readings), so every record is accounted for and no actor fails.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class WrongClockTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Readings_stamped_1970_or_years_behind_are_dead_lettered_or_processed_and_the_engine_keeps_up()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync();
        var simulator = new SensorSimulator(new SimulatorOptions { Sensors = 60, Areas = 2, Seed = 5, FallsPerMinute = 600 });
        var produced = 0;
        void Produce(Kommune.Rules.Model.SensorEvent e)
        {
            bed.Produce(bed.Options.Topics.SensorEvents, Encoding.UTF8.GetBytes(e.SensorId), SensorEventEncoder.Encode(e));
            produced++;
        }

        var reset = DateTimeOffset.UnixEpoch;
        var behind = Events.T0.AddYears(-20);
        for (var i = 0; i < 60; i++)
        {
            Produce(simulator.Next(reset.AddSeconds(i)) with { Timestamp = reset.AddSeconds(i) });
            Produce(simulator.Next(behind.AddSeconds(i)) with { Timestamp = behind.AddSeconds(i) });
        }

        for (var i = 0; i < 120; i++)
        {
            Produce(simulator.Next(Events.T0.AddSeconds(i)));
        }

        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { Processing: 0 } s && s.Consumed == produced);
        await KafkaTestBed.WaitUntilAsync(() => bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
        await engine.StopAsync();

        var statistics = engine.Statistics;
        var deadLetters = bed.ReadAtLeast(bed.Options.Topics.DeadLetters, (int)statistics.DeadLettered);
        var reasons = deadLetters.Select(d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes(DeadLetterHeaders.Reason))).ToList();
        Assert.Equal(60, reasons.Count(r => r.Contains("before the earliest accepted event time", StringComparison.Ordinal)));
        Assert.Equal(produced, statistics.Processed + reasons.Count(r => r.StartsWith("field 'ts'", StringComparison.Ordinal) || r.StartsWith("late:", StringComparison.Ordinal)));
        Assert.Empty(bed.Logs.Errors);
    }
}

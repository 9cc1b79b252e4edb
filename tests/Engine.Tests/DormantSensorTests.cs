using System.Text.Json;
using Kommune.Connectors.Kafka;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>
/// Sensors restored after a restart wait as their state's bytes, without an actor, until they are needed: their next
/// event, the watermark passing their earliest timer, or the hand-over of their partition, which writes them whole.
/// </summary>
[Collection(KafkaLanes.First)]
public sealed class DormantSensorTests(ITestOutputHelper output)
{
    private const int Sensors = 10;

    private static RuleSet Rules() => new([new RuleBinding("per-minute", new CountPerMinuteRule())]);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Restored_sensors_wait_without_an_actor_until_an_event_or_the_watermark_needs_them_and_keep_their_state_through_a_hand_over(bool exactlyOnce)
    {
        var options = PersistedState(exactlyOnce, "dormant-node");

        // One partition, so that one sensor's events move the watermark that the others' timers wait for.
        using var bed = new KafkaTestBed(output, partitions: 1);
        var minute = Minute;

        // Three readings of each sensor in the first minute: counted, the minute not yet closed.
        await using (var first = await bed.StartEngineAsync(options, Rules()))
        {
            for (var second = 1; second <= 3; second++)
            {
                for (var sensor = 0; sensor < Sensors; sensor++)
                {
                    bed.ProduceEvent(Reading(sensor, second));
                }
            }

            bed.Flush();
            await KafkaTestBed.WaitUntilAsync(() => first.Statistics.StateWritten >= Sensors
                && bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
            await first.StopAsync();
        }

        // Restored, and stopped again before any of them is needed: no sensor actor was made, and the hand-over wrote
        // every state whole as it was read, then its mark.
        await using (var second = await bed.StartEngineAsync(options, Rules()))
        {
            await KafkaTestBed.WaitUntilAsync(() => second.Statistics is { StateRestored: Sensors, DormantSensors: Sensors });
            Assert.Equal(0, second.Statistics.ActiveSensors);
            await second.StopAsync();
            Assert.Equal(0, second.Statistics.ActiveSensors);
        }

        var records = bed.ReadUntil(bed.Options.Topics.State, r => r.Count > 0 && StateHandOverMark.IsMark(r[^1].Message.Key));
        Assert.True(StateHandOverMark.TryRead(records[^1].Message.Value, out var from));
        var fromMark = StateTopicRecords.Restore(records.Where(r => r.Offset.Value >= from));
        Assert.Equal(Text(StateTopicRecords.Restore(records)), Text(fromMark));
        Assert.Equal(Sensors, fromMark.Keys.Count(k => k.StartsWith("sensor:", StringComparison.Ordinal)));

        await using var third = await bed.StartEngineAsync(options, Rules());
        await KafkaTestBed.WaitUntilAsync(() => third.Statistics is { StateRestored: Sensors, DormantSensors: Sensors });
        Assert.Contains(bed.Logs.Lines, l => l.Contains("end with a hand-over mark", StringComparison.Ordinal));

        // An event wakes its sensor only.
        bed.ProduceEvent(Reading(0, 4));
        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => third.Statistics is { Processed: 1, ActiveSensors: 1, DormantSensors: Sensors - 1 });

        // The watermark passing the minute wakes the rest, whose timers close it with the counts they were restored with.
        bed.ProduceEvent(Reading(0, 90));
        bed.Flush();
        var aggregates = bed.ReadUntil(bed.Options.Topics.Aggregates, r => r.Count >= Sensors)
            .Select(r => JsonDocument.Parse(r.Message.Value!).RootElement)
            .ToDictionary(a => a.GetProperty("sensorId").GetString()!, a => a.GetProperty("count").GetInt64());
        Assert.Equal(Enumerable.Range(0, Sensors).ToDictionary(s => $"road-{s}", s => s == 0 ? 4L : 3L), aggregates);
        await KafkaTestBed.WaitUntilAsync(() => third.Statistics is { DormantSensors: 0, ActiveSensors: Sensors });
        await third.StopAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Live_sensors_idle_past_their_timeout_fall_asleep_as_their_states_bytes_and_go_on_from_them_after_an_event_the_watermark_and_a_restart(bool exactlyOnce)
    {
        var options = PersistedState(exactlyOnce, "asleep-node", sensorIdleTimeout: TimeSpan.FromSeconds(1));
        using var bed = new KafkaTestBed(output, partitions: 1);
        var minute = Minute;
        List<(string Sensor, DateTimeOffset Start, long Count)> Aggregates(int count) => bed.ReadUntil(bed.Options.Topics.Aggregates, r => r.Count >= count)
            .Select(r => JsonDocument.Parse(r.Message.Value!).RootElement)
            .Select(a => (a.GetProperty("sensorId").GetString()!, a.GetProperty("windowStart").GetDateTimeOffset(), a.GetProperty("count").GetInt64()))
            .ToList();

        await using (var first = await bed.StartEngineAsync(options, Rules()))
        {
            // Three readings of each sensor in the first minute; then no event for longer than the idle timeout, with
            // the counts written: every sensor's actor stops and its area keeps its state's bytes.
            for (var second = 1; second <= 3; second++)
            {
                for (var sensor = 0; sensor < Sensors; sensor++)
                {
                    bed.ProduceEvent(Reading(sensor, second));
                }
            }

            bed.Flush();
            await KafkaTestBed.WaitUntilAsync(() => first.Statistics is { Processed: 3 * Sensors, ActiveSensors: 0, DormantSensors: Sensors });

            // An event wakes its sensor, which counts on; the watermark passing the minute wakes the rest, whose timers
            // close it with the counts they fell asleep with.
            bed.ProduceEvent(Reading(0, 4));
            bed.ProduceEvent(Reading(0, 90));
            bed.Flush();
            Assert.Equal(
                Enumerable.Range(0, Sensors).Select(s => ($"road-{s}", minute, s == 0 ? 4L : 3L)).Order(),
                Aggregates(Sensors).Order());

            // Their timers left them with nothing: they stop. A reading of the second minute gives road-0 a count again,
            // and it falls asleep again; the engine stops with it asleep, and hands it over as kept.
            bed.ProduceEvent(Reading(0, 91));
            bed.Flush();
            await KafkaTestBed.WaitUntilAsync(() => first.Statistics is { ActiveSensors: 0, DormantSensors: 1 }
                && bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents) is var (c, e) && c == e);
            await first.StopAsync();
        }

        await using var restarted = await bed.StartEngineAsync(options, Rules());
        bed.ProduceEvent(Reading(0, 150));
        bed.Flush();
        Assert.Equal(("road-0", minute.AddMinutes(1), 1L), Aggregates(Sensors + 1)[^1]);
        await restarted.StopAsync();
    }

    [Fact]
    public async Task A_dormant_state_whose_values_turn_out_unreadable_is_logged_when_it_is_restored_and_the_sensor_starts_empty()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var at = Events.T0;
        // Its header is in order (so it waits); its watermark, which only the whole read reads, is not a time.
        var fingerprint = Rules().Bindings[0].Fingerprint;
        var state = """{"scope":"Sensor","key":"road-x","areaId":"sagene","watermark":"never","lastEventTime":""" + JsonSerializer.Serialize(at)
            + ""","rules":[{"name":"per-minute","fingerprint":""" + JsonSerializer.Serialize(fingerprint) + ""","values":{"count":1},"openAlerts":{},"timers":[]}]}""";
        bed.Produce(new Confluent.Kafka.TopicPartition(bed.Options.Topics.State, 0), System.Text.Encoding.UTF8.GetBytes("sensor:road-x"), System.Text.Encoding.UTF8.GetBytes(state));
        bed.Flush();

        await using var engine = await bed.StartEngineAsync(o => o.PersistState = true, Rules());
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { StateRestored: 1, DormantSensors: 1 });
        bed.ProduceEvent(new SensorEvent("road-x", "sagene", SensorTypes.Traffic, at.AddSeconds(1), new Dictionary<string, SensorValue> { ["speed"] = 40.0 }));
        bed.Flush();

        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics is { Processed: 1, ActiveSensors: 1, DormantSensors: 0 });
        Assert.Contains(bed.Logs.Lines, l => l.Contains("State record sensor:road-x in partition 0 is unreadable and was not restored", StringComparison.Ordinal));
        await engine.StopAsync();
        Assert.Equal(1, engine.Statistics.RuleFailures); // counted under the rule "(state)", as a state that cannot be written is
    }

    /// <summary>The start of the minute of <see cref="Events.T0"/>: the readings' minute.</summary>
    private static DateTimeOffset Minute => new(Events.T0.Ticks - (Events.T0.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);

    /// <summary>A road sensor's reading <paramref name="second"/> seconds into <see cref="Minute"/>.</summary>
    private static SensorEvent Reading(int sensor, int second) =>
        new($"road-{sensor}", "sagene", SensorTypes.Traffic, Minute.AddSeconds(second), new Dictionary<string, SensorValue> { ["speed"] = 40.0 });

    /// <summary>State persisted and written every 200 ms, under the guarantee asked for (as node <paramref name="transactionalId"/>).</summary>
    private static Action<EngineOptions> PersistedState(bool exactlyOnce, string transactionalId, TimeSpan? sensorIdleTimeout = null) => options =>
    {
        options.PersistState = true;
        options.StateInterval = TimeSpan.FromMilliseconds(200);
        if (sensorIdleTimeout is { } idle)
        {
            options.SensorIdleTimeout = idle;
        }

        if (exactlyOnce)
        {
            options.ProcessingGuarantee = ProcessingGuarantee.ExactlyOnce;
            options.TransactionalId = transactionalId;
        }
    };

    private static Dictionary<string, string> Text(Dictionary<string, RestoredState> states) =>
        states.ToDictionary(s => s.Key, s => System.Text.Encoding.UTF8.GetString(s.Value.Value));

    /// <summary>Counts a sensor's events per minute of event time; when the watermark passes the minute, emits the count.</summary>
    private sealed class CountPerMinuteRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes => [Kommune.Rules.Model.SensorTypes.Traffic];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<long>("count");
            var start = context.State<DateTimeOffset>("start");
            if (!start.HasValue)
            {
                var at = sensorEvent.Timestamp;
                start.Update(new DateTimeOffset(at.Ticks - (at.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero));
                context.SetEventTimeTimer("close", start.Value.AddMinutes(1));
            }

            if (sensorEvent.Timestamp < start.Value.AddMinutes(1))
            {
                count.Update(count.Value + 1);
            }
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer)
        {
            var count = context.State<long>("count");
            var start = context.State<DateTimeOffset>("start");
            context.EmitAggregate("events", start.Value, start.Value.AddMinutes(1), count.Value, count.Value);
            count.Clear();
            start.Clear();
        }
    }
}

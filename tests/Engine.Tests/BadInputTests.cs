using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kommune.Rules.Runtime;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

[Collection(KafkaLanes.First)]
public sealed class BadInputTests(ITestOutputHelper output)
{
    private static readonly string Ts = Events.T0.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>Each bad record: key, value, and a piece of the reason it must be dead-lettered with.</summary>
    public static readonly (string? Key, string? Value, string Reason)[] BadRecords =
    [
        ("s-1", "{\"sensorId\":\"s-1\",\"areaId\":", "malformed JSON"),
        ("s-2", "this is not json", "malformed JSON"),
        ("s-3", "[1,2,3]", "not a JSON object"),
        ("s-4", $"{{\"areaId\":\"a\",\"type\":\"fall\",\"ts\":{Ts}}}", "missing field 'sensorId'"),
        ("s-5", $"{{\"sensorId\":\"s-5\",\"type\":\"fall\",\"ts\":{Ts}}}", "missing field 'areaId'"),
        ("s-6", $"{{\"sensorId\":\"s-6\",\"areaId\":\"a\",\"ts\":{Ts}}}", "missing field 'type'"),
        ("s-7", "{\"sensorId\":\"s-7\",\"areaId\":\"a\",\"type\":\"fall\"}", "missing field 'ts'"),
        ("s-8", $"{{\"sensorId\":42,\"areaId\":\"a\",\"type\":\"fall\",\"ts\":{Ts}}}", "field 'sensorId' must be a string"),
        (null, $"{{\"sensorId\":\"\",\"areaId\":\"a\",\"type\":\"fall\",\"ts\":{Ts}}}", "field 'sensorId' is empty"),
        ("s-10", "{\"sensorId\":\"s-10\",\"areaId\":\"a\",\"type\":\"fall\",\"ts\":true}", "field 'ts' must be"),
        ("s-11", "{\"sensorId\":\"s-11\",\"areaId\":\"a\",\"type\":\"fall\",\"ts\":\"yesterday\"}", "RFC 3339"),
        ("s-12", $"{{\"sensorId\":\"s-12\",\"areaId\":\"a\",\"type\":\"energy\",\"ts\":{Ts},\"values\":{{\"kw\":1e400}}}}", "not a finite number"),
        ("s-13", $"{{\"sensorId\":\"s-13\",\"areaId\":\"a\",\"type\":\"energy\",\"ts\":{Ts},\"values\":{{\"kw\":NaN}}}}", "malformed JSON"),
        ("s-14", $"{{\"sensorId\":\"s-14\",\"areaId\":\"a\",\"type\":\"energy\",\"ts\":{Ts},\"values\":{{\"kw\":[1,2]}}}}", "must be a number, string or boolean"),
        ("s-15", $"{{\"sensorId\":\"s-15\",\"areaId\":\"a\",\"type\":\"fall\",\"ts\":{DateTimeOffset.UtcNow.AddDays(2).ToUnixTimeMilliseconds()}}}", "after the engine's clock"),
        ("s-16", $"{{\"sensorId\":\"s-16\",\"areaId\":\"a\",\"type\":\"traffic\",\"ts\":{Ts},\"values\":{{\"note\":\"{new string('x', 70_000)}\"}}}}", "over the limit"),
        ("s-17", null, "record value is null"),
        ("other-key", $"{{\"sensorId\":\"s-18\",\"areaId\":\"a\",\"type\":\"fall\",\"ts\":{Ts}}}", "is not the sensorId"),
    ];

    [Fact]
    public async Task Every_kind_of_bad_record_is_dead_lettered_with_its_reason_and_the_good_ones_are_processed()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        await using var engine = await bed.StartEngineAsync(rules: TestRules.EveryFallOnly);
        var goodBefore = Events.Fall("good-1", "a", 1);
        bed.ProduceEvent(goodBefore);
        foreach (var (key, value, _) in BadRecords)
        {
            bed.ProduceRaw(key, value);
        }

        var goodAfter = Events.Fall("good-2", "a", 2);
        bed.ProduceEvent(goodAfter);
        bed.Flush();

        var deadLetters = bed.ReadAtLeast(bed.Options.Topics.DeadLetters, BadRecords.Length);
        Assert.Equal(BadRecords.Length, deadLetters.Count);
        for (var i = 0; i < BadRecords.Length; i++)
        {
            var (key, value, reason) = BadRecords[i];
            var record = deadLetters[i];
            var headers = record.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
            output.WriteLine($"{i}: {headers[DeadLetterHeaders.Reason]}");
            Assert.Contains(reason, headers[DeadLetterHeaders.Reason], StringComparison.Ordinal);
            Assert.DoesNotContain('\n', headers[DeadLetterHeaders.Reason]);
            Assert.Equal("decode", headers[DeadLetterHeaders.Stage]);
            Assert.Equal(bed.Options.Topics.SensorEvents, headers[DeadLetterHeaders.SourceTopic]);
            Assert.Equal("0", headers[DeadLetterHeaders.SourcePartition]);
            Assert.Equal((i + 1).ToString(CultureInfo.InvariantCulture), headers[DeadLetterHeaders.SourceOffset]);
            Assert.Equal(key, record.Message.Key is null ? null : Encoding.UTF8.GetString(record.Message.Key));
            Assert.Equal(value, record.Message.Value is null ? null : Encoding.UTF8.GetString(record.Message.Value));
        }

        // The engine kept running: both good events, before and after the bad ones, raised their alerts.
        var alerts = bed.ReadAlertIds([Events.AlertId(goodBefore), Events.AlertId(goodAfter)]);
        Assert.Equal(2, alerts.Count);
        await engine.StopAsync();
        Assert.Equal(BadRecords.Length, engine.Statistics.DeadLettered);
        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
    }

    [Fact]
    public async Task A_rule_that_throws_dead_letters_its_event_and_the_other_rules_keep_running()
    {
        using var bed = new KafkaTestBed(output, partitions: 2);
        var rules = new RuleSet([new RuleBinding("thrower", new ThrowingRule()), TestRules.EveryFall]);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        var bad = Events.Fall("explodes-1", "a", 1);
        var good = Events.Fall("calm-1", "a", 2);
        bed.ProduceEvent(bad);
        bed.ProduceEvent(good);
        bed.Flush();

        var deadLetter = Assert.Single(bed.ReadAtLeast(bed.Options.Topics.DeadLetters, 1));
        var reason = Encoding.UTF8.GetString(deadLetter.Message.Headers.GetLastBytes(DeadLetterHeaders.Reason));
        Assert.Equal("rule 'thrower' threw InvalidOperationException in OnEvent: boom for explodes-1", reason);
        Assert.Equal("rule", Encoding.UTF8.GetString(deadLetter.Message.Headers.GetLastBytes(DeadLetterHeaders.Stage)));
        Assert.Equal(SensorEventEncoder.Encode(bad), deadLetter.Message.Value);

        // The fall rule ran for both events, including the one the other rule failed on.
        var alerts = bed.ReadAlertIds([Events.AlertId(bad), Events.AlertId(good)]);
        Assert.Equal(2, alerts.Count);
        await engine.StopAsync();
        Assert.Equal(1, engine.Statistics.RuleFailures);
    }

    [Fact]
    public async Task A_text_read_as_a_number_is_dead_lettered_naming_the_value_and_the_sensor_as_in_the_test_kit()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet([new RuleBinding("night-noise", new LoudRule())]);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        var loud = new SensorEvent("noise-7", "a", "noise", Events.T0, new Dictionary<string, SensorValue> { ["db"] = "loud" });
        bed.ProduceEvent(loud);
        bed.Flush();

        var deadLetter = Assert.Single(bed.ReadAtLeast(bed.Options.Topics.DeadLetters, 1));
        var reason = Encoding.UTF8.GetString(deadLetter.Message.Headers.GetLastBytes(DeadLetterHeaders.Reason));
        Assert.Equal("rule 'night-noise' threw SensorValueException in OnEvent: value 'db' of sensor noise-7 is text 'loud', not a number", reason);
        Assert.Equal("rule", Encoding.UTF8.GetString(deadLetter.Message.Headers.GetLastBytes(DeadLetterHeaders.Stage)));

        // The test kit says the same of the same event.
        var kit = new Kommune.Rules.Testing.RuleTestKit(start: Events.T0).Bind(new LoudRule(), "night-noise");
        kit.Send(loud);
        Assert.Equal(reason, Assert.Single(kit.Failures).Reason);
        await engine.StopAsync();
        Assert.Equal(1, engine.Statistics.RuleFailures);
    }

    /// <summary>Reads <c>db</c> as a number without asking whether it is one.</summary>
    private sealed class LoudRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            if (sensorEvent.Values["db"].Number > 70)
            {
                context.RaiseAlert("loud", new AlertDraft("environment", "noise", AlertSeverity.Low, "loud"));
            }
        }
    }

    private sealed class ThrowingRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            if (sensorEvent.SensorId.StartsWith("explodes", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"boom for {sensorEvent.SensorId}");
            }
        }
    }
}

using System.Text;
using System.Text.Json;
using Kommune.Connectors.Codecs;
using Kommune.Engine.Tests.Support;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests;

/// <summary>Fall escalation through Kafka: deadlines on the wall clock, acks and resolves from the acks topic.</summary>
[Collection(KafkaLanes.First)]
public sealed class AlertCommandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_fall_escalates_on_time_to_the_next_level_s_recipients_an_ack_on_the_acks_topic_stops_it_and_bad_commands_are_dead_lettered()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = TestRules.FallEscalation("""
            { "levels": ["hjemmetjenesten sagene", "sykepleier", "legevakt"], "timeouts": ["1s", "1h"] }
            """);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        var fall = Events.Fall("wearable-7", "bydel-sagene", 0);
        bed.ProduceEvent(fall);
        bed.Flush();
        var alertId = $"fall:wearable-7:{fall.Timestamp.ToUnixTimeMilliseconds()}";

        // Level 2 after one second of wall clock, with no further event.
        var escalated = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 2);
        Assert.Equal(["raised", "escalated"], escalated.Select(r => Field(r.Message.Value, "status")));
        Assert.All(escalated, r => Assert.Equal(alertId, Encoding.UTF8.GetString(r.Message.Key!)));
        Assert.Equal(["hjemmetjenesten sagene", "sykepleier"], escalated.Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("recipients")[0].GetString()));

        Ack(bed, alertId, $$"""{"alertId":"{{alertId}}","action":"ack","by":"nurse Kari","ts":"2026-11-27T08:00:00Z"}""");
        Ack(bed, "fall:nobody:1", """{"alertId":"fall:nobody:1","action":"ack","by":"x","ts":1795766400000}""");
        Ack(bed, alertId, $$"""{"alertId":"{{alertId}}","action":"shrug","by":"x","ts":1795766400000}""");
        bed.Flush();

        var records = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 3);
        Assert.Equal("acknowledged", Field(records[2].Message.Value, "status"));
        var deadLetters = bed.ReadAtLeast(bed.Options.Topics.DeadLetters, 2);
        var reasons = deadLetters.Select(d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes(DeadLetterHeaders.Reason))).ToList();
        Assert.Contains("no open alert 'fall:nobody:1'", reasons);
        Assert.Contains("field 'action' must be \"ack\" or \"resolve\", not \"shrug\"", reasons);
        Assert.All(deadLetters, d => Assert.Equal("command", Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes(DeadLetterHeaders.Stage))));

        Ack(bed, alertId, $$"""{"alertId":"{{alertId}}","action":"resolve","by":"nurse Kari","ts":"2026-11-27T08:05:00Z"}""");
        bed.Flush();
        var resolved = bed.ReadUntil(bed.Options.Topics.Alerts, r => r.Count >= 4);
        Assert.Equal("resolved", Field(resolved[3].Message.Value, "status"));
        Assert.Equal([1, 2, 3, 4], resolved.Take(4).Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("sequence").GetInt32()));
        await engine.StopAsync();

        Assert.Equal(2, engine.Statistics.Commands);
        Assert.Equal(2, engine.Statistics.CommandsRefused);
        Assert.Equal(4, bed.ReadAtLeast(bed.Options.Topics.Alerts, 4).Count); // raised, escalated, acknowledged, resolved: nothing else
    }

    private static void Ack(KafkaTestBed bed, string key, string json) =>
        bed.Produce(bed.Options.Topics.Acks, Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(json));

    private static string Field(byte[]? json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty(name).GetString()!;
    }
}

using System.Globalization;
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

/// <summary>The rule API hosted by the engine, through Kafka: late output, timers, facts, and reloads that keep state.</summary>
[Collection(KafkaLanes.Second)]
public sealed class EventTimeAndRulesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task An_event_later_than_the_allowed_lateness_goes_to_the_dead_letter_topic_as_late_and_is_committed()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var first = Events.Fall("w-1", "a", 1_000);
        var tooLate = Events.Fall("w-1", "a", 0);     // 1000 s behind: beyond 5 s out-of-orderness + 60 s lateness
        var lateButAllowed = Events.Fall("w-1", "a", 960); // 40 s behind the watermark: still used
        bed.ProduceEvent(first);
        bed.ProduceEvent(tooLate);
        bed.ProduceEvent(lateButAllowed);
        var barrier = bed.ProduceBarrier();
        await using var engine = await bed.StartEngineAsync(rules: TestRules.EveryFallOnly);

        var alerts = bed.ReadAlertIds([Events.AlertId(first), Events.AlertId(lateButAllowed), .. barrier]);
        Assert.DoesNotContain(Events.AlertId(tooLate), alerts);
        var deadLetter = Assert.Single(bed.ReadAtLeast(bed.Options.Topics.DeadLetters, 1));
        var reason = Encoding.UTF8.GetString(deadLetter.Message.Headers.GetLastBytes(DeadLetterHeaders.Reason));
        Assert.StartsWith("late: ", reason, StringComparison.Ordinal);
        Assert.Equal("late", Encoding.UTF8.GetString(deadLetter.Message.Headers.GetLastBytes(DeadLetterHeaders.Stage)));
        Assert.Equal(SensorEventEncoder.Encode(tooLate), deadLetter.Message.Value);
        await engine.StopAsync();

        Assert.Equal(1, engine.Statistics.LateEvents);
        var (committed, end) = bed.CommittedAndEnd(bed.Options.GroupId, bed.Options.Topics.SensorEvents);
        Assert.Equal(end, committed);
    }

    [Fact]
    public async Task Event_time_timers_fire_when_the_watermark_passes_and_facts_reach_the_area_rules()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet([new RuleBinding("probe", new ProbeRule()), new RuleBinding("probe-area", new ProbeAreaRule())]);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        bed.ProduceEvent(Probe("p-1", 0));
        bed.ProduceEvent(Probe("p-2", 20)); // moves the watermark to 15 s: p-1's timer at 10 s fires, p-2's at 30 s not
        bed.Flush();

        var aggregates = bed.ReadAtLeast(bed.Options.Topics.Aggregates, 1);
        using var aggregate = JsonDocument.Parse(Assert.Single(aggregates).Message.Value);
        Assert.Equal("probe.closed", aggregate.RootElement.GetProperty("metric").GetString());
        Assert.Equal(
            Events.T0.AddSeconds(10).ToUnixTimeMilliseconds(),
            aggregate.RootElement.GetProperty("windowEnd").GetDateTimeOffset().ToUnixTimeMilliseconds());

        var alerts = bed.ReadAlertIds(["probe-area:zone:two-probes"]);
        Assert.Single(alerts);
        await engine.StopAsync();
        Assert.Equal(0, engine.Statistics.RuleFailures);
    }

    [Fact]
    public async Task A_processing_time_timer_fires_without_further_events()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var rules = new RuleSet([new RuleBinding("deadline", new DeadlineRule())]);
        await using var engine = await bed.StartEngineAsync(rules: rules);
        bed.ProduceEvent(new SensorEvent("d-1", "zone", "deadline", Events.T0, new Dictionary<string, SensorValue>()));
        bed.Flush();

        Assert.Single(bed.ReadAlertIds(["deadline:d-1:missed"]));
        await engine.StopAsync();
    }

    [Fact]
    public async Task Reloading_rules_keeps_the_state_of_unchanged_and_reparameterised_rules_and_restarts_a_replaced_one()
    {
        using var bed = new KafkaTestBed(output, partitions: 1);
        var kept = new RuleBinding("kept", new CounterRule(3));
        var changed = new RuleBinding("changed", new CounterRule(3), fingerprint: "v1");
        var replaced = new RuleBinding("replaced", new CounterRule(3), fingerprint: "r1");
        await using var engine = await bed.StartEngineAsync(rules: new RuleSet([kept, changed, replaced]));
        bed.ProduceEvent(Count("c-1", 0));
        bed.ProduceEvent(Count("c-1", 1));
        bed.Flush();
        await KafkaTestBed.WaitUntilAsync(() => engine.Statistics.Processed == 2);

        engine.ApplyRules(new RuleSet([
            kept,
            new RuleBinding("changed", new CounterRule(3), fingerprint: "v2"),
            new RuleBinding("replaced", new OtherCounterRule(3), fingerprint: "r2"),
            TestRules.EveryFall,
        ]));
        bed.ProduceEvent(Count("c-1", 2));
        bed.ProduceEvent(Count("c-1", 3));
        bed.ProduceEvent(Count("c-1", 4));
        bed.Flush();

        // "kept" and "changed" (the same rule with other parameters) counted on from 2: their third event (the first
        // after the reload) raises; "replaced" (another rule under the same name) started over.
        var alerts = bed.ReadAlertIds(["kept:c-1:count-3", "changed:c-1:count-3", "replaced:c-1:count-3"]);
        Assert.Equal(3, alerts.Count);
        var records = bed.ReadAtLeast(bed.Options.Topics.Alerts, 3);
        var evidence = records
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement)
            .Where(a => a.GetProperty("rule").GetString() is "kept" or "changed" or "replaced")
            .ToDictionary(a => a.GetProperty("rule").GetString()!, a => a.GetProperty("eventTime").GetDateTimeOffset());
        Assert.Equal(Events.T0.AddSeconds(2).ToUnixTimeMilliseconds(), evidence["kept"].ToUnixTimeMilliseconds());
        Assert.Equal(Events.T0.AddSeconds(2).ToUnixTimeMilliseconds(), evidence["changed"].ToUnixTimeMilliseconds());
        Assert.Equal(Events.T0.AddSeconds(4).ToUnixTimeMilliseconds(), evidence["replaced"].ToUnixTimeMilliseconds());
        await engine.StopAsync();
        Assert.Equal(1, engine.Statistics.RuleReloads);
    }

    private static SensorEvent Probe(string sensorId, int second) =>
        new(sensorId, "zone", "probe", Events.T0.AddSeconds(second), new Dictionary<string, SensorValue> { ["level"] = 1.0 });

    private static SensorEvent Count(string sensorId, int second) =>
        new(sensorId, "zone", "counter", Events.T0.AddSeconds(second), new Dictionary<string, SensorValue>());


    /// <summary>Tells its area about each probe and closes a 10 s event-time window after it.</summary>
    private sealed class ProbeRule : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["probe"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            context.SendFact("probe-seen", sensorEvent.Values);
            context.SetEventTimeTimer("close", sensorEvent.Timestamp.AddSeconds(10));
        }

        public override void OnTimer(IRuleContext context, RuleTimer timer) =>
            context.EmitAggregate("probe.closed", timer.Time.AddSeconds(-10), timer.Time, 1, 1);
    }

    /// <summary>Raises an area alert once two probe facts have arrived.</summary>
    private sealed class ProbeAreaRule : Rule
    {
        public override RuleScope Scope => RuleScope.Area;

        public override IReadOnlyCollection<string> SensorTypes { get; } = ["none"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
        }

        public override void OnFact(IRuleContext context, Fact fact)
        {
            var seen = context.State<int>("facts");
            seen.Update(seen.Value + 1);
            if (seen.Value == 2)
            {
                context.RaiseAlert("two-probes", new AlertDraft("test", "probe", AlertSeverity.Low, "two probes seen"));
            }
        }
    }

    /// <summary>Raises an alert 300 ms (wall clock) after an event unless something cancels it.</summary>
    private sealed class DeadlineRule : Rule
    {
        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) =>
            context.SetProcessingTimeTimer("deadline", context.ProcessingTime.AddMilliseconds(300));

        public override void OnTimer(IRuleContext context, RuleTimer timer) =>
            context.RaiseAlert("missed", new AlertDraft("test", "deadline", AlertSeverity.High, "nobody came"));
    }

    /// <summary>Counts a sensor's events in keyed state; raises an alert at the given count.</summary>
    /// <summary>Another rule that counts the same way (its state is not <see cref="CounterRule"/>'s).</summary>
    private sealed class OtherCounterRule(int alertAt) : CounterRuleBase(alertAt);

    private sealed class CounterRule(int alertAt) : CounterRuleBase(alertAt);

    private abstract class CounterRuleBase(int alertAt) : Rule
    {
        public override IReadOnlyCollection<string> SensorTypes { get; } = ["counter"];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent)
        {
            var count = context.State<int>("count");
            count.Update(count.Value + 1);
            if (count.Value == alertAt)
            {
                context.RaiseAlert(string.Create(CultureInfo.InvariantCulture, $"count-{alertAt}"), new AlertDraft("test", "count", AlertSeverity.Low, "counted"));
            }
        }
    }
}

using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.Properties;

/// <summary>Events beyond the allowed lateness are exactly the late output; every other event reaches the rules.</summary>
public sealed class LatenessProperties
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new()
    {
        OutOfOrderness = TimeSpan.FromSeconds(5),
        AllowedLateness = TimeSpan.FromSeconds(20),
    };

    /// <summary>Arbitrary disorder: each event a time in the first 5 minutes and one of three sensors.</summary>
    private static readonly Gen<List<(int Millis, int Sensor)>> Events = Gen.Select(Gen.Int[0, 300_000], Gen.Int[0, 2]).List[0, 80];

    [Fact]
    public void The_late_output_is_exactly_what_the_reference_model_marks_late_and_the_rest_reaches_the_rule()
    {
        Events.Sample(generated =>
        {
            var events = generated
                .Select((e, i) => new SensorEvent($"s{e.Sensor}", "area-1", "t", T0.AddMilliseconds(e.Millis), new Dictionary<string, SensorValue> { ["seq"] = i }))
                .ToList();
            var sensorRule = new CountingRule(RuleScope.Sensor);
            var areaRule = new CountingRule(RuleScope.Area);
            var kit = new RuleTestKit(Settings).Bind(sensorRule, "sensor").Bind(areaRule, "area");

            var sentLate = events.Where(e => !kit.Send(e)).ToList();

            var (expectedLate, expectedOnTime) = Reference(events);
            Assert.Equal(expectedLate, kit.LateEvents);
            Assert.Equal(expectedLate, sentLate);
            Assert.Equal(expectedOnTime, sensorRule.Seen);
            Assert.Equal(expectedOnTime, areaRule.Seen);
            Assert.Empty(kit.Failures);
        }, iter: 300);
    }

    /// <summary>
    /// One partition: the watermark is the maximum over earlier accepted events of (time - out-of-orderness); an
    /// event is late when its time is before the watermark minus the allowed lateness.
    /// </summary>
    private static (List<SensorEvent> Late, List<SensorEvent> OnTime) Reference(List<SensorEvent> events)
    {
        var late = new List<SensorEvent>();
        var onTime = new List<SensorEvent>();
        DateTimeOffset? watermark = null;
        foreach (var e in events)
        {
            if (watermark is { } w && e.Timestamp < w - Settings.AllowedLateness)
            {
                late.Add(e);
                continue;
            }

            onTime.Add(e);
            var candidate = e.Timestamp - Settings.OutOfOrderness;
            watermark = watermark is { } known && known > candidate ? known : candidate;
        }

        return (late, onTime);
    }

    private sealed class CountingRule(RuleScope scope) : Rule
    {
        public override RuleScope Scope => scope;

        public List<SensorEvent> Seen { get; } = [];

        public override void OnEvent(IRuleContext context, SensorEvent sensorEvent) => Seen.Add(sensorEvent);
    }
}

using System.Text;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Runtime;
using Kommune.Rules.Tests.Windows;

namespace Kommune.Rules.Tests.Runtime;

/// <summary>What a persisted state says about its key without its values being read: it must say what the whole read says.</summary>
public sealed class KeyedStateHeaderTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 7, 0, 0, TimeSpan.Zero);

    private static readonly EventTimeSettings Settings = new() { OutOfOrderness = TimeSpan.Zero, AllowedLateness = TimeSpan.FromMinutes(1) };

    private static RuleSet Rules(string fallParameters = "{}") => new([
        new RuleBinding("congestion", new CongestionRule()),
        new RuleBinding("fall-detection", new FallEscalationRule(RuleParameters.FromJson(fallParameters)), fingerprint: "fall-detection " + fallParameters),
    ]);

    /// <summary>A road sensor's state after three minutes of readings: open windows, an event-time timer each.</summary>
    private static byte[] RoadState(RuleSet rules)
    {
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "road-1", "sagene", rules, Settings);
        var outputs = new CollectingOutputs();
        for (var minute = 0; minute < 3; minute++)
        {
            runner.OnEvent(new SensorEvent("road-1", "sagene", SensorTypes.Traffic, T0.AddMinutes(minute), new Dictionary<string, SensorValue> { ["speed"] = 40.0 }), DateTimeOffset.MinValue, T0, outputs);
        }

        return runner.PersistedState();
    }

    /// <summary>A fall sensor's state just after a fall: an open alert and its escalation's processing-time timer.</summary>
    private static byte[] FallState(RuleSet rules)
    {
        var runner = new KeyedRuleRunner(RuleScope.Sensor, "wearable-1", "sagene", rules, Settings);
        runner.OnEvent(new SensorEvent("wearable-1", "sagene", SensorTypes.Fall, T0, new Dictionary<string, SensorValue> { ["confidence"] = 0.95 }), DateTimeOffset.MinValue, T0, new CollectingOutputs());
        return runner.PersistedState();
    }

    [Fact]
    public void The_header_of_a_persisted_state_says_what_the_whole_snapshot_says()
    {
        foreach (var state in new[] { RoadState(Rules()), FallState(Rules()) })
        {
            var header = KeyedStateHeader.Read(state);
            var whole = KeyedStateHeader.Of(KeyedStateSnapshot.FromJson(state));

            Assert.NotNull(header);
            Assert.Equal((whole.Scope, whole.Key, whole.AreaId, whole.LastEventTime), (header.Scope, header.Key, header.AreaId, header.LastEventTime));
            Assert.Equal(whole.Bindings, header.Bindings);
            Assert.Equal((whole.HasOpenAlerts, whole.NextEventTimeTimer, whole.NextProcessingTimeTimer), (header.HasOpenAlerts, header.NextEventTimeTimer, header.NextProcessingTimeTimer));
        }
    }

    [Fact]
    public void A_runners_own_header_says_what_the_header_read_from_its_persisted_state_says()
    {
        var rules = Rules();
        foreach (var (sensor, type, values) in new[]
        {
            ("road-1", SensorTypes.Traffic, new Dictionary<string, SensorValue> { ["speed"] = 40.0 }),
            ("wearable-1", SensorTypes.Fall, new Dictionary<string, SensorValue> { ["confidence"] = 0.95 }),
        })
        {
            var runner = new KeyedRuleRunner(RuleScope.Sensor, sensor, "sagene", rules, Settings);
            runner.OnEvent(new SensorEvent(sensor, "sagene", type, T0, values), DateTimeOffset.MinValue, T0, new CollectingOutputs());

            var own = runner.Header();
            var read = KeyedStateHeader.Read(runner.PersistedState())!;

            Assert.Equal((read.Scope, read.Key, read.AreaId, read.LastEventTime), (own.Scope, own.Key, own.AreaId, own.LastEventTime));
            Assert.Equal(read.Bindings, own.Bindings);
            Assert.Equal((read.HasOpenAlerts, read.NextEventTimeTimer, read.NextProcessingTimeTimer), (own.HasOpenAlerts, own.NextEventTimeTimer, own.NextProcessingTimeTimer));
            Assert.Equal(read.HasOpenAlerts, runner.HasOpenAlerts);
        }
    }

    [Fact]
    public void A_road_sensor_has_only_event_time_timers_and_a_fallen_residents_sensor_an_open_alert_and_its_escalation()
    {
        var road = KeyedStateHeader.Read(RoadState(Rules()))!;
        var fall = KeyedStateHeader.Read(FallState(Rules()))!;

        Assert.Equal([("congestion", Rules().Bindings[0].Fingerprint)], road.Bindings);
        Assert.False(road.HasOpenAlerts);
        Assert.Equal(T0.AddMinutes(1), road.NextEventTimeTimer); // the first minute's window closes then
        Assert.Null(road.NextProcessingTimeTimer);
        Assert.Equal(T0.AddMinutes(2), road.LastEventTime);

        Assert.True(fall.HasOpenAlerts);
        Assert.NotNull(fall.NextProcessingTimeTimer);
    }

    [Fact]
    public void A_state_restores_unchanged_only_under_rules_whose_bindings_that_wrote_it_have_the_same_fingerprint()
    {
        var fall = KeyedStateHeader.Read(FallState(Rules()))!;

        Assert.True(fall.RestoresUnchangedUnder(Rules()));
        Assert.False(fall.RestoresUnchangedUnder(Rules("""{"t1": "30s"}""")));
        Assert.False(fall.RestoresUnchangedUnder(new RuleSet([new RuleBinding("congestion", new CongestionRule())])));
        Assert.False(fall.RestoresUnchangedUnder(new RuleSet([new RuleBinding("fall-detection", new FallEscalationRule(), areas: ["grorud"], fingerprint: "fall-detection {}")])));
        Assert.True(KeyedStateHeader.Read(RoadState(Rules()))!.RestoresUnchangedUnder(new RuleSet([new RuleBinding("congestion", new CongestionRule())])));
    }

    [Fact]
    public void Properties_it_does_not_know_are_passed_over()
    {
        var json = """{"extra":{"a":[1,2,{"b":null}]},"scope":"Sensor","key":"s-1","areaId":"sagene","watermark":"0001-01-01T00:00:00+00:00","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"name":"r","fingerprint":"f","values":{"x":{"y":[1]}},"openAlerts":{},"timers":[{"name":"t","time":"2026-01-01T07:01:00+00:00","domain":"EventTime","more":1}],"new":true}]}""";

        var header = KeyedStateHeader.Read(Encoding.UTF8.GetBytes(json));

        Assert.NotNull(header);
        Assert.Equal([("r", "f")], header.Bindings);
        Assert.Equal(T0.AddMinutes(1), header.NextEventTimeTimer);
        Assert.False(header.HasOpenAlerts);
    }

    [Fact]
    public void A_state_whose_header_is_in_order_has_one_even_where_the_whole_read_fails()
    {
        // The header does not read the watermark (it is not persisted); a whole read does, and fails on it. Such a state is
        // found unreadable when the key is restored.
        var json = """{"scope":"Sensor","key":"s-1","areaId":"sagene","watermark":"never","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"name":"r","fingerprint":"f","values":{"a":1},"openAlerts":{ },"timers":[]}]}""";

        var header = KeyedStateHeader.Read(Encoding.UTF8.GetBytes(json));

        Assert.NotNull(header);
        Assert.Equal([("r", "f")], header.Bindings);
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => KeyedStateSnapshot.FromJson(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"name":"r","fingerprint":"f","values":{"a":[1}]}""")] // values never closed
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[],}""")] // a comma before the end
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"name":"r","fingerprint":"f","openAlerts":[]}]}""")]
    [InlineData("""{"scope":"Sensor","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[]}""")] // no key
    [InlineData("""{"scope":1,"key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[]}""")] // scope as a number
    [InlineData("""{"scope":"Sensor","key":{"k":1},"areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[]}""")]
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"yesterday","rules":[]}""")]
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"name":"r","fingerprint":"f","timers":[{"name":"t","time":"soon","domain":"EventTime"}]}]}""")]
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"name":"r","fingerprint":"f","timers":[{"name":"t","time":"2026-01-01T07:00:00+00:00","domain":"Whenever"}]}]}""")]
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[{"fingerprint":"f"}]}""")] // no name
    [InlineData("""{"scope":"Sensor","key":"k","areaId":"a","lastEventTime":"2026-01-01T07:00:00+00:00","rules":[]} {}""")] // trailing
    public void A_state_not_in_the_written_shape_has_no_header_and_is_left_to_the_whole_read(string json)
    {
        Assert.Null(KeyedStateHeader.Read(Encoding.UTF8.GetBytes(json)));
    }
}

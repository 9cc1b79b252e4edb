using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class CongestionRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 7, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0).Bind(new CongestionRule(RuleParameters.FromJson(parameters)));

    /// <summary>Two readings in minute <paramref name="minute"/> (at :10 and :40) with the given means.</summary>
    private static void Minute(RuleTestKit kit, int minute, double speed, double occupancy = 10, string sensor = "road-1", string area = "area-1")
    {
        foreach (var (second, delta) in new[] { (10, -2.0), (40, 2.0) })
        {
            kit.Send(sensor, SensorTypes.Traffic, T0.AddMinutes(minute).AddSeconds(second), new Dictionary<string, SensorValue>
            {
                ["speed"] = speed + delta,
                ["flow"] = 600.0,
                ["occupancy"] = occupancy,
            }, area);
        }
    }

    private static void Minutes(RuleTestKit kit, int from, params double[] speeds)
    {
        for (var i = 0; i < speeds.Length; i++)
        {
            Minute(kit, from + i, speeds[i]);
        }
    }

    private static void CloseThrough(RuleTestKit kit, int minute) => kit.AdvanceWatermarkTo(T0.AddMinutes(minute + 1));

    [Fact]
    public void Rule_is_named_congestion_and_handles_traffic_per_sensor()
    {
        var attribute = Assert.Single(typeof(CongestionRule).GetCustomAttributes(typeof(RuleAttribute), false).OfType<RuleAttribute>());
        Assert.Equal("congestion", attribute.Name);
        var rule = new CongestionRule();
        Assert.Equal(RuleScope.Sensor, rule.Scope);
        Assert.Equal([SensorTypes.Traffic], rule.SensorTypes);
    }

    [Fact]
    public void Raises_after_three_consecutive_slow_minutes()
    {
        // Free flow is not learned yet: 50 km/h stands in, so below 25 km/h is congested.
        var kit = Kit();
        Minutes(kit, 0, 20, 20);
        CloseThrough(kit, 1);
        Assert.Empty(kit.Alerts);

        Minute(kit, 2, 20);
        CloseThrough(kit, 2);
        var alert = Assert.Single(kit.Alerts);
        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.Equal("traffic", alert.Category);
        Assert.Equal("trafficJam", alert.SubCategory);
        Assert.Equal($"congestion:road-1:congestion:{T0.AddMinutes(2).ToUnixTimeMilliseconds()}", alert.AlertId);
        Assert.Equal("road-1", alert.SensorId);
        Assert.Equal(T0.AddMinutes(3), alert.EventTime);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void High_occupancy_alone_is_congestion()
    {
        var kit = Kit();
        for (var m = 0; m < 3; m++)
        {
            Minute(kit, m, speed: 45, occupancy: 35);
        }

        CloseThrough(kit, 2);
        Assert.Equal(AlertStatus.Raised, Assert.Single(kit.Alerts).Status);
    }

    [Fact]
    public void Short_episodes_do_not_raise()
    {
        var kit = Kit();
        Minutes(kit, 0, 20, 20, 45, 20, 20, 45, 20, 45);
        CloseThrough(kit, 7);
        Assert.Empty(kit.Alerts);
        Assert.Equal(8, kit.Facts.Count);
    }

    [Fact]
    public void A_minute_without_readings_breaks_the_run()
    {
        var kit = Kit();
        Minutes(kit, 0, 20, 20);
        Minutes(kit, 3, 20, 20);
        CloseThrough(kit, 4);
        Assert.Empty(kit.Alerts);
    }

    [Fact]
    public void Clears_only_after_three_clear_minutes_above_the_margin_without_flapping()
    {
        var kit = Kit();
        Minutes(kit, 0, 20, 20, 20);
        // 30 km/h is neither congested (< 25) nor clear (>= 32.5): the alert stays; clear minutes interrupted by
        // congested or in-between ones do not resolve it.
        Minutes(kit, 3, 30, 30, 40, 40, 30, 40, 20, 40, 40, 28);
        CloseThrough(kit, 12);
        Assert.Equal(AlertStatus.Raised, Assert.Single(kit.Alerts).Status);

        Minutes(kit, 13, 40, 40, 40);
        CloseThrough(kit, 15);
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        Assert.Equal(T0.AddMinutes(16), kit.Alerts[^1].EventTime);

        // A new episode needs three congested minutes again.
        Minutes(kit, 16, 20, 20);
        CloseThrough(kit, 17);
        Assert.Equal(2, kit.Alerts.Count);
        Minute(kit, 18, 20);
        CloseThrough(kit, 18);
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved, AlertStatus.Raised], kit.Alerts.Select(a => a.Status));
        Assert.Equal(kit.Alerts[0].AlertId, kit.Alerts[1].AlertId);
        Assert.NotEqual(kit.Alerts[0].AlertId, kit.Alerts[2].AlertId); // a new incident, a new id
    }

    [Fact]
    public void Free_flow_is_learned_from_past_minutes()
    {
        // After ten minutes at ~100 km/h, 40 km/h is below half of free flow (it would not be against the 50 km/h default).
        var kit = Kit("""{"freeFlowMinWindows": 10}""");
        Minutes(kit, 0, Enumerable.Repeat(100.0, 10).ToArray());
        Minutes(kit, 10, 40, 40, 40);
        CloseThrough(kit, 12);
        var alert = Assert.Single(kit.Alerts);
        Assert.True(alert.Evidence["freeFlow"].Number is > 95 and < 105, $"free flow {alert.Evidence["freeFlow"].Number}");

        var unlearned = Kit();
        Minutes(unlearned, 0, Enumerable.Repeat(100.0, 10).ToArray());
        Minutes(unlearned, 10, 40, 40, 40);
        CloseThrough(unlearned, 12);
        Assert.Empty(unlearned.Alerts);
    }

    [Fact]
    public void Each_closed_minute_tells_the_area_its_mean_speed_and_whether_it_was_congested()
    {
        var kit = Kit();
        Minutes(kit, 0, 20, 45);
        Assert.Single(kit.Facts); // minute 1 closes when the watermark passes 07:02
        CloseThrough(kit, 1);

        Assert.Equal(2, kit.Facts.Count);
        var first = kit.Facts[0];
        Assert.Equal(CongestionRule.FactName, first.Name);
        Assert.Equal("road-1", first.SensorId);
        Assert.Equal("area-1", first.AreaId);
        Assert.Equal(T0.AddMinutes(1), first.EventTime);
        Assert.True(first.Values["congested"].Boolean);
        Assert.Equal(20, first.Values["speed"].Number, 9);
        Assert.Equal(10, first.Values["occupancy"].Number, 9);
        Assert.Equal(T0.ToUnixTimeMilliseconds(), first.Values["windowStart"].Number);
        Assert.False(kit.Facts[1].Values["congested"].Boolean);
        Assert.Equal(45, kit.Facts[1].Values["speed"].Number, 9);
        Assert.Empty(kit.Aggregates);
    }

    [Fact]
    public void Readings_for_a_closed_minute_are_ignored()
    {
        var kit = Kit();
        Minutes(kit, 0, 20, 20);
        CloseThrough(kit, 1);
        kit.Send("road-1", SensorTypes.Traffic, T0.AddSeconds(50), new Dictionary<string, SensorValue> { ["speed"] = 90.0 });
        CloseThrough(kit, 2);
        Assert.Equal(2, kit.Facts.Count);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void Sensors_are_independent()
    {
        var kit = Kit();
        for (var m = 0; m < 3; m++)
        {
            Minute(kit, m, 20, sensor: "road-1");
            Minute(kit, m, 45, sensor: "road-2");
        }

        CloseThrough(kit, 2);
        Assert.Equal("road-1", Assert.Single(kit.Alerts).SensorId);
    }

    [Fact]
    public void State_stays_bounded_and_survives_a_snapshot_round_trip()
    {
        var parameters = """{"freeFlowMinWindows": 5}""";
        var kit = Kit(parameters);
        Minutes(kit, 0, Enumerable.Range(0, 200).Select(i => 60.0 + (i % 7)).ToArray());
        Minutes(kit, 200, 20, 20);
        CloseThrough(kit, 201);

        var snapshot = kit.SensorState("road-1");
        Assert.NotNull(snapshot);
        var values = Assert.Single(snapshot.Rules).Values;
        Assert.False(values.ContainsKey("windows")); // every closed minute was purged
        Assert.True(values["freeFlow"].GetProperty("bins").EnumerateObject().Count() <= 8);
        Assert.True(snapshot.ToJson().Length < 2_000);

        // Restored elsewhere, the run of two congested minutes and the learned free flow go on: one more raises.
        var rule = new CongestionRule(RuleParameters.FromJson(parameters));
        var runner = SnapshotRoundTrip.Restore(snapshot, "congestion", rule);
        var outputs = new RuleTestKit(start: T0);
        foreach (var second in new[] { 10, 40 })
        {
            runner.OnEvent(new SensorEvent("road-1", "area-1", SensorTypes.Traffic, T0.AddMinutes(202).AddSeconds(second),
                new Dictionary<string, SensorValue> { ["speed"] = 20.0 }), T0.AddMinutes(202), T0, SnapshotRoundTrip.Outputs(outputs));
        }

        runner.Advance(T0.AddMinutes(203), T0, SnapshotRoundTrip.Outputs(outputs));
        var alert = Assert.Single(outputs.Alerts);
        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.True(alert.Evidence["freeFlow"].Number > 60);
    }

    [Theory]
    [InlineData("""{"speedPercent": 0}""", "speedPercent")]
    [InlineData("""{"speedPercent": "half"}""", "speedPercent")]
    [InlineData("""{"occupancyPercent": 120}""", "occupancyPercent")]
    [InlineData("""{"raiseAfter": 0}""", "raiseAfter")]
    [InlineData("""{"raiseAfter": 2.5}""", "raiseAfter")]
    [InlineData("""{"clearAfter": -1}""", "clearAfter")]
    [InlineData("""{"clearMarginPercent": -5}""", "clearMarginPercent")]
    [InlineData("""{"freeFlowPercentile": 100}""", "freeFlowPercentile")]
    [InlineData("""{"freeFlowSpeed": 1}""", "freeFlowSpeed")]
    [InlineData("""{"freeFlowMinWindows": 0}""", "freeFlowMinWindows")]
    [InlineData("""{"freeFlowHalfLife": "ten"}""", "freeFlowHalfLife")]
    [InlineData("""{"freeFlowHalfLife": "30s"}""", "freeFlowHalfLife")]
    public void Wrong_parameters_are_named(string json, string parameter)
    {
        var error = Assert.Throws<RuleParameterException>(() => new CongestionRule(RuleParameters.FromJson(json)));
        Assert.Equal(parameter, error.Parameter);
    }

    [Fact]
    public void Every_parameter_is_read()
    {
        var parameters = RuleParameters.FromJson("""
            {"speedPercent": 40, "occupancyPercent": 25, "raiseAfter": 2, "clearAfter": 4, "clearMarginPercent": 20,
             "freeFlowPercentile": 90, "freeFlowSpeed": 80, "freeFlowMinWindows": 60, "freeFlowHalfLife": "1d"}
            """);
        _ = new CongestionRule(parameters);
        Assert.Empty(parameters.Unread);
    }

    [Fact]
    public void Any_sequence_of_minutes_raises_and_resolves_exactly_as_the_hysteresis_says()
    {
        // Free flow stays at the 50 km/h stand-in: a minute is congested below 25 km/h, clear from 32.5 km/h
        // (15 % margin), neither in between. Model: 3 congested minutes in a row raise; while open, 3 clear
        // minutes in a row resolve; anything else breaks the run.
        Gen.Int[0, 8].Select(i => new[] { 10.0, 20, 24.9, 25, 30, 32.4, 32.5, 40, 60 }[i]).Array[1, 80].Sample(speeds =>
        {
            var kit = Kit("""{"freeFlowMinWindows": 100000}""");
            Minutes(kit, 0, speeds);
            CloseThrough(kit, speeds.Length - 1);

            var expected = new List<(AlertStatus Status, DateTimeOffset At)>();
            var (open, congested, clear) = (false, 0, 0);
            for (var m = 0; m < speeds.Length; m++)
            {
                if (!open)
                {
                    congested = speeds[m] < 25 ? congested + 1 : 0;
                    if (congested == 3)
                    {
                        (open, congested) = (true, 0);
                        expected.Add((AlertStatus.Raised, T0.AddMinutes(m + 1)));
                    }
                }
                else
                {
                    clear = speeds[m] >= 32.5 ? clear + 1 : 0;
                    if (clear == 3)
                    {
                        (open, clear) = (false, 0);
                        expected.Add((AlertStatus.Resolved, T0.AddMinutes(m + 1)));
                    }
                }
            }

            Assert.Equal(expected, kit.Alerts.Select(a => (a.Status, a.EventTime)));
            Assert.Empty(kit.Failures);

            // Each raise opens a new incident id that its resolve closes.
            var ids = kit.Alerts.Select(a => a.AlertId).ToList();
            for (var i = 1; i < ids.Count; i += 2)
            {
                Assert.Equal(ids[i - 1], ids[i]);
            }

            Assert.Equal(kit.Alerts.Count(a => a.Status == AlertStatus.Raised), ids.Distinct().Count());
        });
    }
}

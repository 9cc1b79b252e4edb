using System.Text.Json;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class CongestionAreaRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 7, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0)
            .Bind(new CongestionRule())
            .Bind(new CongestionAreaRule(RuleParameters.FromJson(parameters)));

    /// <summary>Minute <paramref name="minute"/> of five segments, the first <paramref name="congested"/> of them slow (20 km/h, the others 45).</summary>
    private static void Minute(RuleTestKit kit, int minute, int congested, string area = "area-1", int segments = 5)
    {
        foreach (var second in new[] { 10, 40 })
        {
            for (var s = 0; s < segments; s++)
            {
                kit.Send($"{area}-road-{s}", SensorTypes.Traffic, T0.AddMinutes(minute).AddSeconds(second),
                    new Dictionary<string, SensorValue> { ["speed"] = s < congested ? 20.0 : 45.0, ["occupancy"] = 10.0 }, area);
            }
        }
    }

    private static void Minutes(RuleTestKit kit, int from, params int[] congested)
    {
        for (var i = 0; i < congested.Length; i++)
        {
            Minute(kit, from + i, congested[i]);
        }
    }

    /// <summary>Moves the watermark past the end of <paramref name="minute"/> plus the grace, so the area emits it.</summary>
    private static void EmitThrough(RuleTestKit kit, int minute)
    {
        kit.AdvanceWatermarkTo(T0.AddMinutes(minute + 1));
        kit.AdvanceWatermarkTo(T0.AddMinutes(minute + 1).AddSeconds(15));
    }

    private static List<Aggregate> Of(RuleTestKit kit, string metric) => [.. kit.Aggregates.Where(a => a.Metric == metric)];

    [Fact]
    public void Rule_is_named_congestion_area_and_is_area_scoped()
    {
        var attribute = Assert.Single(typeof(CongestionAreaRule).GetCustomAttributes(typeof(RuleAttribute), false).OfType<RuleAttribute>());
        Assert.Equal("congestion-area", attribute.Name);
        Assert.Equal(RuleScope.Area, new CongestionAreaRule().Scope);
    }

    [Fact]
    public void Emits_share_and_mean_speed_per_minute_once_the_watermark_passes_it()
    {
        var kit = Kit();
        Minute(kit, 0, congested: 3);
        kit.AdvanceWatermarkTo(T0.AddMinutes(1));
        Assert.Equal(5, kit.Facts.Count);
        Assert.Empty(kit.Aggregates); // the grace lets every segment's fact arrive

        kit.AdvanceWatermarkTo(T0.AddMinutes(1).AddSeconds(15));
        var share = Assert.Single(Of(kit, CongestionAreaRule.ShareMetric));
        Assert.Equal(("area-1", T0, T0.AddMinutes(1), 60.0, 5L), (share.AreaId, share.WindowStart, share.WindowEnd, share.Value, share.Count));
        var speed = Assert.Single(Of(kit, CongestionAreaRule.SpeedMetric));
        Assert.Equal(((3 * 20.0) + (2 * 45.0)) / 5, speed.Value, 9);
        Assert.Equal(5, speed.Count);

        Minute(kit, 1, congested: 0);
        EmitThrough(kit, 1);
        Assert.Equal([60.0, 0.0], Of(kit, CongestionAreaRule.ShareMetric).Select(a => a.Value));
        Assert.Equal([T0, T0.AddMinutes(1)], Of(kit, CongestionAreaRule.ShareMetric).Select(a => a.WindowStart));
        Assert.Equal(45, Of(kit, CongestionAreaRule.SpeedMetric)[^1].Value, 9);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void A_minute_with_an_absurd_segment_speed_has_a_share_but_no_mean_speed()
    {
        // Each segment's own mean is finite (one reading of 1e308 km/h); the area's sum of two is not, and an infinite
        // aggregate cannot be written as JSON.
        var kit = Kit();
        for (var s = 0; s < 2; s++)
        {
            kit.Send($"area-1-road-{s}", SensorTypes.Traffic, T0.AddSeconds(10),
                new Dictionary<string, SensorValue> { ["speed"] = 1e308, ["occupancy"] = 10.0 }, "area-1");
        }

        EmitThrough(kit, 0);
        Assert.Equal(2, kit.Facts.Count(f => f.Values["speed"].Number == 1e308));
        var share = Assert.Single(Of(kit, CongestionAreaRule.ShareMetric));
        Assert.Equal((0.0, 2L), (share.Value, share.Count));
        Assert.Empty(Of(kit, CongestionAreaRule.SpeedMetric));
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_mean_speed_is_the_same_whatever_order_the_segments_report_in()
    {
        // With several engine nodes the facts of one minute reach the area in another order than on one node; a
        // floating-point sum would differ in its last bits and the aggregate would differ between runs.
        double[] speeds = [0.1, 0.2, 0.3, 1e5 / 3, 17.7, 88.8, 3.3333];
        double Mean(IEnumerable<int> order)
        {
            var kit = Kit();
            foreach (var s in order)
            {
                kit.Send($"area-1-road-{s}", SensorTypes.Traffic, T0.AddSeconds(10),
                    new Dictionary<string, SensorValue> { ["speed"] = speeds[s], ["occupancy"] = 10.0 }, "area-1");
            }

            EmitThrough(kit, 0);
            return Assert.Single(Of(kit, CongestionAreaRule.SpeedMetric)).Value;
        }

        var forward = Mean(Enumerable.Range(0, speeds.Length));
        Assert.Equal(BitConverter.DoubleToInt64Bits(forward), BitConverter.DoubleToInt64Bits(Mean(Enumerable.Range(0, speeds.Length).Reverse())));
        Assert.Equal(BitConverter.DoubleToInt64Bits(forward), BitConverter.DoubleToInt64Bits(Mean([3, 0, 6, 1, 5, 2, 4])));
        Assert.Equal(speeds.Average(), forward, 3);
    }

    [Fact]
    public void Raises_an_area_alert_after_three_minutes_above_the_share()
    {
        var kit = Kit();
        Minutes(kit, 0, 3, 3);
        EmitThrough(kit, 1);
        Assert.DoesNotContain(kit.Alerts, a => a.Rule == "congestion-area");

        Minute(kit, 2, 4);
        EmitThrough(kit, 2);
        var alert = Assert.Single(kit.Alerts, a => a.Rule == "congestion-area");
        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.Equal(("traffic", "trafficJam"), (alert.Category, alert.SubCategory));
        Assert.Equal($"congestion-area:area-1:area-congestion:{T0.AddMinutes(2).ToUnixTimeMilliseconds()}", alert.AlertId);
        Assert.Null(alert.SensorId);
        Assert.Equal("area-1", alert.AreaId);
    }

    [Fact]
    public void Short_episodes_and_a_share_at_the_threshold_do_not_raise()
    {
        var kit = Kit();
        Minutes(kit, 0, 3, 3, 2, 5, 5, 1, 2, 2, 2, 2);
        EmitThrough(kit, 9);
        Assert.DoesNotContain(kit.Alerts, a => a.Rule == "congestion-area");
        Assert.Equal(10, Of(kit, CongestionAreaRule.ShareMetric).Count);
    }

    [Fact]
    public void Clears_after_three_minutes_below_the_margin_without_flapping()
    {
        var kit = Kit();
        Minutes(kit, 0, 3, 3, 3);
        // 40 % is neither above 40 nor below 30: the alert stays; interrupted clear runs do not resolve it.
        Minutes(kit, 3, 2, 2, 1, 1, 3, 1, 2, 0, 0);
        EmitThrough(kit, 11);
        Assert.Equal([AlertStatus.Raised], kit.Alerts.Where(a => a.Rule == "congestion-area").Select(a => a.Status));

        Minute(kit, 12, 1);
        EmitThrough(kit, 12);
        var statuses = kit.Alerts.Where(a => a.Rule == "congestion-area").Select(a => a.Status);
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], statuses);
    }

    [Fact]
    public void Areas_are_counted_apart()
    {
        var kit = Kit();
        for (var m = 0; m < 3; m++)
        {
            Minute(kit, m, 5, "area-1");
            Minute(kit, m, 0, "area-2");
        }

        EmitThrough(kit, 2);
        Assert.Equal("area-1", Assert.Single(kit.Alerts, a => a.Rule == "congestion-area").AreaId);
        Assert.All(Of(kit, CongestionAreaRule.ShareMetric).Where(a => a.AreaId == "area-2"), a => Assert.Equal(0, a.Value));
        Assert.Equal(3, Of(kit, CongestionAreaRule.ShareMetric).Count(a => a.AreaId == "area-2"));
    }

    [Fact]
    public void Minutes_are_purged_once_past_the_allowed_lateness()
    {
        var kit = Kit();
        Minutes(kit, 0, 4, 4);
        EmitThrough(kit, 1);
        kit.AdvanceWatermarkTo(T0.AddMinutes(4));
        var snapshot = kit.AreaState("area-1");
        Assert.NotNull(snapshot);
        var state = Assert.Single(snapshot.Rules, r => r.Name == "congestion-area");
        Assert.False(state.Values.ContainsKey("minutes"));
        Assert.Empty(state.Timers);
        Assert.True(state.Values.ContainsKey("run"));
    }

    [Fact]
    public void A_minute_first_heard_of_after_its_emission_is_emitted_and_updated_but_not_judged()
    {
        var kit = Kit();
        Minutes(kit, 0, 4, 4);
        EmitThrough(kit, 1);
        var runner = SnapshotRoundTrip.Restore(kit.AreaState("area-1"), "congestion-area", new CongestionAreaRule());
        var outputs = new RuleTestKit(start: T0);
        runner.Advance(T0.AddMinutes(3).AddSeconds(30), T0, outputs);
        for (var s = 0; s < 5; s++)
        {
            runner.OnFact(SegmentMinute(2, $"road-{s}", congested: true), T0.AddMinutes(3).AddSeconds(30), T0, outputs);
        }

        Assert.Equal([100.0, 100.0, 100.0, 100.0, 100.0], outputs.Aggregates.Where(a => a.Metric == CongestionAreaRule.ShareMetric).Select(a => a.Value));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], outputs.Aggregates.Where(a => a.Metric == CongestionAreaRule.ShareMetric).Select(a => a.Count));
        Assert.Empty(outputs.Alerts);
    }

    [Fact]
    public void The_run_survives_a_snapshot_round_trip()
    {
        var kit = Kit();
        Minutes(kit, 0, 4, 4);
        EmitThrough(kit, 1);

        // Restored, minute 2 (after the two congested ones) raises.
        var runner = SnapshotRoundTrip.Restore(kit.AreaState("area-1"), "congestion-area", new CongestionAreaRule());
        var outputs = new RuleTestKit(start: T0);
        for (var s = 0; s < 5; s++)
        {
            runner.OnFact(SegmentMinute(2, $"road-{s}", congested: s < 3), T0.AddMinutes(3), T0, outputs);
        }

        Assert.Empty(outputs.Aggregates);
        runner.Advance(T0.AddMinutes(3).AddSeconds(15), T0, outputs);
        Assert.Equal(60, Assert.Single(outputs.Aggregates, a => a.Metric == CongestionAreaRule.ShareMetric).Value);
        Assert.Equal(AlertStatus.Raised, Assert.Single(outputs.Alerts).Status);
    }

    private static Fact SegmentMinute(int minute, string sensor, bool congested) =>
        new(CongestionRule.FactName, sensor, "area-1", T0.AddMinutes(minute + 1), new Dictionary<string, SensorValue>
        {
            ["congested"] = congested,
            ["speed"] = 30.0,
            ["windowStart"] = T0.AddMinutes(minute).ToUnixTimeMilliseconds(),
        });

    [Fact]
    public void Other_facts_and_facts_without_a_congested_flag_are_ignored()
    {
        var runner = SnapshotRoundTrip.Restore(
            new Kommune.Rules.Runtime.KeyedStateSnapshot(RuleScope.Area, "area-1", "area-1", DateTimeOffset.MinValue, DateTimeOffset.MinValue, []),
            "congestion-area",
            new CongestionAreaRule());
        var outputs = new RuleTestKit(start: T0);
        runner.OnFact(new Fact("space-free", "s", "area-1", T0, new Dictionary<string, SensorValue> { ["congested"] = true }), T0, T0, outputs);
        runner.OnFact(new Fact(CongestionRule.FactName, "s", "area-1", T0, new Dictionary<string, SensorValue> { ["congested"] = 1.0 }), T0, T0, outputs);
        runner.Advance(T0.AddMinutes(5), T0, outputs);
        Assert.Empty(outputs.Aggregates);
        Assert.False(runner.HasState);
    }

    [Theory]
    [InlineData("""{"sharePercent": 101}""", "sharePercent")]
    [InlineData("""{"sharePercent": "most"}""", "sharePercent")]
    [InlineData("""{"clearMarginPercent": -1}""", "clearMarginPercent")]
    [InlineData("""{"raiseAfter": 0}""", "raiseAfter")]
    [InlineData("""{"clearAfter": 1.5}""", "clearAfter")]
    [InlineData("""{"minSegments": 0}""", "minSegments")]
    [InlineData("""{"grace": "0s"}""", "grace")]
    [InlineData("""{"grace": "1h"}""", "grace")]
    public void Wrong_parameters_are_named(string json, string parameter)
    {
        var error = Assert.Throws<RuleParameterException>(() => new CongestionAreaRule(RuleParameters.FromJson(json)));
        Assert.Equal(parameter, error.Parameter);
    }

    [Fact]
    public void Every_parameter_is_read()
    {
        var parameters = RuleParameters.FromJson("""
            {"sharePercent": 50, "clearMarginPercent": 5, "raiseAfter": 5, "clearAfter": 2, "minSegments": 3, "grace": "30s"}
            """);
        _ = new CongestionAreaRule(parameters);
        Assert.Empty(parameters.Unread);
    }
}

public sealed class CongestionAreaRuleMigrationTests
{
    [Fact]
    public void Version_1_minutes_keep_their_counts_and_their_mean_speed()
    {
        var state = new JsonStateMigration();
        state.Write("minutes", new Dictionary<long, object>
        {
            [60_000] = new { Segments = 4, Congested = 1, SpeedSum = 150.5, SpeedCount = 4, Emitted = true },
            [120_000] = new { Segments = 2, Congested = 0, SpeedSum = 5e6, SpeedCount = 2, Emitted = false },
        });

        var rule = new CongestionAreaRule();
        Assert.Equal(3, rule.StateVersion);
        Assert.True(rule.MigrateState(1, state));
        var minutes = state.Read<Dictionary<long, JsonElement>>("minutes")!;
        Assert.Equal(150_500, minutes[60_000].GetProperty("SpeedMilliSum").GetInt64());
        Assert.Equal(4, minutes[60_000].GetProperty("Segments").GetInt32());
        Assert.True(minutes[60_000].GetProperty("Emitted").GetBoolean());
        Assert.True(minutes[120_000].GetProperty("SpeedOutOfRange").GetBoolean());
        Assert.False(rule.MigrateState(3, state)); // a rollback from a newer build cannot be read
    }

    /// <summary>One key's values as JSON, as the engine holds them during a migration.</summary>
    private sealed class JsonStateMigration : IStateMigration
    {
        private readonly Dictionary<string, string> _values = [];

        public string Key => "area-1";

        public string AreaId => "area-1";

        public IReadOnlyCollection<string> Names => _values.Keys;

        public bool Has(string name) => _values.ContainsKey(name);

        public T? Read<T>(string name) => _values.TryGetValue(name, out var json) ? JsonSerializer.Deserialize<T>(json) : default;

        public void Write<T>(string name, T value) => _values[name] = JsonSerializer.Serialize(value);

        public bool Remove(string name) => _values.Remove(name);
    }
}

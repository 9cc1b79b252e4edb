using CsCheck;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class ParkingRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 12, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0).Bind(new ParkingRule(RuleParameters.FromJson(parameters)));

    /// <summary>Ten bays report at <paramref name="time"/>, the first <paramref name="occupied"/> of them occupied.</summary>
    private static void Bays(RuleTestKit kit, DateTimeOffset time, int occupied, string area = "area-1", int bays = 10)
    {
        for (var b = 0; b < bays; b++)
        {
            kit.Send($"{area}-bay-{b}", SensorTypes.Parking, time, new Dictionary<string, SensorValue> { ["occupied"] = b < occupied }, area);
        }
    }

    private static void CarPark(RuleTestKit kit, DateTimeOffset time, double free, double? capacity, string sensor = "lot-1")
    {
        var values = new Dictionary<string, SensorValue> { ["free"] = free };
        if (capacity is { } c)
        {
            values["capacity"] = c;
        }

        kit.Send(sensor, SensorTypes.Parking, time, values);
    }

    /// <summary>A kit whose watermark moves only when the test moves it: nothing sent within ten minutes is late.</summary>
    private static RuleTestKit PatientKit() =>
        new RuleTestKit(new Kommune.Rules.Runtime.EventTimeSettings { OutOfOrderness = TimeSpan.FromMinutes(10) }, T0).Bind(new ParkingRule());

    private static List<Aggregate> Of(RuleTestKit kit, string metric) => [.. kit.Aggregates.Where(a => a.Metric == metric)];

    [Fact]
    public void Readings_years_apart_that_both_arrive_before_the_watermark_jump_cost_at_most_the_quiet_time_of_minutes()
    {
        // On several nodes an area's readings reach it before the watermark record that passes them: a bay with a clock
        // twenty years behind, then the present, then the watermark jumps. Minutes pause after an hour, and go on at the
        // present reading's minute (not one per minute of the twenty years, nor never again).
        var kit = Kit();
        var past = T0.AddYears(-20);
        Bays(kit, past, occupied: 3);
        Bays(kit, T0.AddSeconds(10), occupied: 7);

        kit.AdvanceWatermarkTo(T0.AddMinutes(2));

        var occupancy = kit.Aggregates.Where(a => a.Metric == "parking.occupancy").ToList();
        Assert.InRange(occupancy.Count, 60, 63);
        Assert.Contains(occupancy, a => a.WindowStart == T0 && a.Value == 70);
        Assert.Equal(T0.AddMinutes(1), occupancy.Max(a => a.WindowStart));
    }

    [Fact]
    public void Rule_is_named_parking_and_is_area_scoped()
    {
        var attribute = Assert.Single(typeof(ParkingRule).GetCustomAttributes(typeof(RuleAttribute), false).OfType<RuleAttribute>());
        Assert.Equal("parking", attribute.Name);
        var rule = new ParkingRule();
        Assert.Equal(RuleScope.Area, rule.Scope);
        Assert.Equal([SensorTypes.Parking], rule.SensorTypes);
    }

    [Fact]
    public void Emits_free_spaces_and_occupancy_for_every_minute_as_at_its_end()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(10), occupied: 7);
        Assert.Empty(kit.Aggregates);

        // A reading of the next minute that arrives before the watermark passes this one's end does not count in it.
        kit.Send("area-1-bay-9", SensorTypes.Parking, T0.AddSeconds(62), new Dictionary<string, SensorValue> { ["occupied"] = true });
        Assert.Empty(kit.Aggregates);
        kit.AdvanceWatermarkTo(T0.AddMinutes(1));
        var free = Assert.Single(Of(kit, ParkingRule.FreeMetric));
        Assert.Equal(("area-1", T0, T0.AddMinutes(1), 3.0, 10L), (free.AreaId, free.WindowStart, free.WindowEnd, free.Value, free.Count));
        Assert.Equal(70, Assert.Single(Of(kit, ParkingRule.OccupancyMetric)).Value, 9);

        // A quiet minute still has a state at its end.
        kit.AdvanceWatermarkTo(T0.AddMinutes(3));
        Assert.Equal([3.0, 2.0, 2.0], Of(kit, ParkingRule.FreeMetric).Select(a => a.Value));
        Assert.Equal([T0, T0.AddMinutes(1), T0.AddMinutes(2)], Of(kit, ParkingRule.OccupancyMetric).Select(a => a.WindowStart));
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void The_last_reading_by_event_time_wins()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(30), occupied: 0);
        kit.Send("area-1-bay-0", SensorTypes.Parking, T0.AddSeconds(20), new Dictionary<string, SensorValue> { ["occupied"] = true });
        kit.AdvanceWatermarkTo(T0.AddMinutes(1));
        Assert.Equal(10, Assert.Single(Of(kit, ParkingRule.FreeMetric)).Value);
    }

    [Fact]
    public void Car_parks_count_their_free_spaces_and_capacity()
    {
        var kit = Kit();
        CarPark(kit, T0.AddSeconds(5), free: 40, capacity: 200);
        kit.Send("bay-a", SensorTypes.Parking, T0.AddSeconds(6), new Dictionary<string, SensorValue> { ["occupied"] = true });
        kit.Send("bay-b", SensorTypes.Parking, T0.AddSeconds(7), new Dictionary<string, SensorValue> { ["occupied"] = false });
        CarPark(kit, T0.AddSeconds(8), free: 3, capacity: null, sensor: "lot-unknown"); // no capacity known: ignored
        kit.AdvanceWatermarkTo(T0.AddMinutes(1));
        Assert.Equal(41, Assert.Single(Of(kit, ParkingRule.FreeMetric)).Value);
        Assert.Equal(100.0 * 161 / 202, Assert.Single(Of(kit, ParkingRule.OccupancyMetric)).Value, 9);
        Assert.Equal(3, Of(kit, ParkingRule.FreeMetric)[0].Count);

        // A count without capacity keeps the sensor's last capacity.
        CarPark(kit, T0.AddSeconds(70), free: 2, capacity: null);
        kit.AdvanceWatermarkTo(T0.AddMinutes(2));
        Assert.Equal(3, Of(kit, ParkingRule.FreeMetric)[^1].Value);
    }

    [Fact]
    public void Raises_when_above_95_percent_for_ten_minutes_of_event_time()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(5), occupied: 10);
        kit.AdvanceWatermarkTo(T0.AddMinutes(10).AddSeconds(59));
        Assert.Empty(kit.Alerts);

        kit.AdvanceWatermarkTo(T0.AddMinutes(11));
        var alert = Assert.Single(kit.Alerts);
        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.Equal(("traffic", "parking-full"), (alert.Category, alert.SubCategory));
        Assert.Equal($"parking:area-1:parking-full:{T0.AddMinutes(1).ToUnixTimeMilliseconds()}", alert.AlertId);
        Assert.Null(alert.SensorId);
        Assert.Equal(T0.AddMinutes(11), alert.EventTime);
        Assert.Equal(0, alert.Evidence["free"].Number);
    }

    [Fact]
    public void Short_full_episodes_do_not_raise()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(5), occupied: 10);
        Bays(kit, T0.AddMinutes(8), occupied: 9);
        Bays(kit, T0.AddMinutes(9), occupied: 10);
        Bays(kit, T0.AddMinutes(17), occupied: 8);
        kit.AdvanceWatermarkTo(T0.AddMinutes(40));
        Assert.Empty(kit.Alerts);
    }

    [Fact]
    public void Clears_below_85_percent_only_without_flapping()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(5), occupied: 10);
        kit.AdvanceWatermarkTo(T0.AddMinutes(11));
        Bays(kit, T0.AddMinutes(12), occupied: 9); // 90 %: still open
        Bays(kit, T0.AddMinutes(14), occupied: 10);
        Bays(kit, T0.AddMinutes(16), occupied: 9);
        kit.AdvanceWatermarkTo(T0.AddMinutes(20));
        Assert.Equal([AlertStatus.Raised], kit.Alerts.Select(a => a.Status));

        Bays(kit, T0.AddMinutes(21), occupied: 8);
        kit.AdvanceWatermarkTo(T0.AddMinutes(22));
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        Assert.Equal(T0.AddMinutes(22), kit.Alerts[^1].EventTime);

        // Full again: ten more minutes before it raises again.
        Bays(kit, T0.AddMinutes(22).AddSeconds(30), occupied: 10);
        kit.AdvanceWatermarkTo(T0.AddMinutes(32));
        Assert.Equal(2, kit.Alerts.Count);
        kit.AdvanceWatermarkTo(T0.AddMinutes(33));
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved, AlertStatus.Raised], kit.Alerts.Select(a => a.Status));
        Assert.Equal(kit.Alerts[0].AlertId, kit.Alerts[1].AlertId);
        Assert.NotEqual(kit.Alerts[0].AlertId, kit.Alerts[2].AlertId); // a new incident, a new id
    }

    [Fact]
    public void Parameters_set_the_thresholds_duration_and_minimum_capacity()
    {
        var kit = Kit("""{"fullPercent": 80, "clearPercent": 50, "for": "3m", "minCapacity": 5}""");
        Bays(kit, T0.AddSeconds(5), occupied: 5, bays: 6); // 83 %
        kit.AdvanceWatermarkTo(T0.AddMinutes(4));
        Assert.Single(kit.Alerts);

        var small = Kit();
        Bays(small, T0.AddSeconds(5), occupied: 5, bays: 5); // full, but only five spaces
        small.AdvanceWatermarkTo(T0.AddMinutes(30));
        Assert.Empty(small.Alerts);
    }

    [Fact]
    public void Areas_are_kept_apart()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(5), occupied: 10, area: "area-1");
        Bays(kit, T0.AddSeconds(5), occupied: 2, area: "area-2");
        kit.AdvanceWatermarkTo(T0.AddMinutes(11));
        Assert.Equal("area-1", Assert.Single(kit.Alerts).AreaId);
        Assert.All(Of(kit, ParkingRule.FreeMetric).Where(a => a.AreaId == "area-2"), a => Assert.Equal(8, a.Value));
    }

    [Fact]
    public void State_stays_bounded_and_survives_a_snapshot_round_trip()
    {
        var kit = Kit();
        for (var s = 5; s < 6 * 60; s += 20)
        {
            Bays(kit, T0.AddSeconds(s), occupied: 10);
        }

        kit.AdvanceWatermarkTo(T0.AddMinutes(6));
        var snapshot = kit.AreaState("area-1");
        Assert.NotNull(snapshot);
        var sensors = Assert.Single(snapshot.Rules).Values["sensors"];
        Assert.Equal(10, sensors.EnumerateObject().Count());
        Assert.All(sensors.EnumerateObject(), s => Assert.True(s.Value.GetArrayLength() <= 2));

        // Full since the end of minute 0 (12:01); restored, it raises at 12:11.
        var runner = SnapshotRoundTrip.Restore(snapshot, "parking", new ParkingRule());
        var outputs = new RuleTestKit(start: T0);
        runner.Advance(T0.AddMinutes(10), T0, outputs);
        Assert.Empty(outputs.Alerts);
        runner.Advance(T0.AddMinutes(11), T0, outputs);
        Assert.Equal(AlertStatus.Raised, Assert.Single(outputs.Alerts).Status);
        Assert.Equal(5, outputs.Aggregates.Count(a => a.Metric == ParkingRule.OccupancyMetric));
    }

    [Fact]
    public void After_an_hour_without_readings_the_minutes_pause_until_the_next_reading()
    {
        var kit = Kit();
        Bays(kit, T0.AddSeconds(10), occupied: 10);

        // A watermark a year ahead (a reading with a wrong clock, a long outage) costs an hour of minutes, not a year's.
        kit.AdvanceWatermarkTo(T0.AddDays(365));
        var minutes = Of(kit, ParkingRule.FreeMetric);
        Assert.Equal(60, minutes.Count);
        Assert.Equal(T0.AddMinutes(60), minutes[^1].WindowEnd);
        Assert.Equal(60, Of(kit, ParkingRule.OccupancyMetric).Count);
        Assert.Equal(AlertStatus.Raised, Assert.Single(kit.Alerts).Status); // full for ten minutes, within the hour

        // The next reading starts the minutes again at its own minute.
        var later = T0.AddDays(365).AddMinutes(30).AddSeconds(5);
        Bays(kit, later, occupied: 2);
        kit.AdvanceWatermarkTo(later.AddMinutes(2));
        var resumed = Of(kit, ParkingRule.FreeMetric).Skip(60).ToList();
        Assert.Equal([later.AddSeconds(-5), later.AddSeconds(-5).AddMinutes(1)], resumed.Select(a => a.WindowStart));
        Assert.Equal([8.0, 8.0], resumed.Select(a => a.Value));
        Assert.Equal(AlertStatus.Resolved, kit.Alerts[^1].Status);
        Assert.Empty(kit.Failures);
    }

    [Theory]
    [InlineData("""{"fullPercent": 101}""", "fullPercent")]
    [InlineData("""{"fullPercent": "full"}""", "fullPercent")]
    [InlineData("""{"clearPercent": -1}""", "clearPercent")]
    [InlineData("""{"clearPercent": 95}""", "clearPercent")]
    [InlineData("""{"fullPercent": 80, "clearPercent": 90}""", "clearPercent")]
    [InlineData("""{"for": "ten minutes"}""", "for")]
    [InlineData("""{"for": "-5m"}""", "for")]
    [InlineData("""{"minCapacity": 0}""", "minCapacity")]
    [InlineData("""{"quietAfter": "-1m"}""", "quietAfter")]
    public void Wrong_parameters_are_named(string json, string parameter)
    {
        var error = Assert.Throws<RuleParameterException>(() => new ParkingRule(RuleParameters.FromJson(json)));
        Assert.Equal(parameter, error.Parameter);
    }

    [Fact]
    public void Every_parameter_is_read()
    {
        var parameters = RuleParameters.FromJson("""{"fullPercent": 90, "clearPercent": 70, "for": "15m", "minCapacity": 50, "quietAfter": "2h"}""");
        _ = new ParkingRule(parameters);
        Assert.Empty(parameters.Unread);
    }

    [Fact]
    public void Any_sequence_of_minutes_raises_and_resolves_exactly_as_the_thresholds_say()
    {
        // Ten bays, the given number occupied in each minute. With "for" 3m: full (above 95 %, so all ten) at four
        // minute ends in a row raises (the first and the one 3 minutes later); while open, the first minute end
        // below 85 % (eight or fewer) resolves; nine (90 %) is in between and only breaks the full run.
        Gen.Int[6, 10].Array[1, 60].Sample(occupied =>
        {
            var kit = Kit("""{"for": "3m"}""");
            for (var m = 0; m < occupied.Length; m++)
            {
                Bays(kit, T0.AddMinutes(m).AddSeconds(5), occupied[m]);
                kit.AdvanceWatermarkTo(T0.AddMinutes(m + 1));
            }

            var expected = new List<(AlertStatus Status, DateTimeOffset At)>();
            var (open, full) = (false, 0);
            for (var m = 0; m < occupied.Length; m++)
            {
                full = occupied[m] == 10 ? full + 1 : 0;
                if (!open && full >= 4)
                {
                    open = true;
                    expected.Add((AlertStatus.Raised, T0.AddMinutes(m + 1)));
                }
                else if (open && occupied[m] <= 8)
                {
                    open = false;
                    expected.Add((AlertStatus.Resolved, T0.AddMinutes(m + 1)));
                }
            }

            Assert.Equal(expected, kit.Alerts.Select(a => (a.Status, a.EventTime)));
            Assert.Empty(kit.Failures);
            Assert.Equal(occupied.Length, Of(kit, ParkingRule.OccupancyMetric).Count);
            Assert.Equal(occupied.Select(o => o * 10.0), Of(kit, ParkingRule.OccupancyMetric).Select(a => Math.Round(a.Value, 9)));

            var ids = kit.Alerts.Select(a => a.AlertId).ToList();
            for (var i = 1; i < ids.Count; i += 2)
            {
                Assert.Equal(ids[i - 1], ids[i]);
            }

            Assert.Equal(kit.Alerts.Count(a => a.Status == AlertStatus.Raised), ids.Distinct().Count());
        });
    }

    [Fact]
    public void A_bay_that_reports_every_second_keeps_one_reading_a_minute_in_its_area_state()
    {
        var kit = PatientKit();
        for (var s = 0; s < 150; s++)
        {
            kit.Send("area-1-bay-0", SensorTypes.Parking, T0.AddSeconds(s), new Dictionary<string, SensorValue> { ["occupied"] = s is 59 or 149 });
        }

        var readings = Assert.Single(kit.AreaState("area-1")!.Rules).Values["sensors"].GetProperty("area-1-bay-0");
        Assert.Equal(3, readings.GetArrayLength()); // the newest of 12:00, 12:01 and 12:02
        Assert.Equal(
            [T0.AddSeconds(59), T0.AddSeconds(119), T0.AddSeconds(149)],
            readings.EnumerateArray().Select(r => DateTimeOffset.FromUnixTimeMilliseconds(r.GetProperty("t").GetInt64())));

        kit.AdvanceWatermarkTo(T0.AddMinutes(3));
        Assert.Equal([0.0, 1.0, 0.0], Of(kit, ParkingRule.FreeMetric).Select(a => a.Value)); // occupied at 59 and 149 only
    }

    [Fact]
    public void Every_minute_counts_each_sensors_newest_reading_before_its_end_whatever_order_they_arrive_in()
    {
        // Five bays, readings at any second of five minutes, sent in any order (ties included): each minute end counts,
        // per bay, the reading with the latest time before it (of equal times, the one sent last), as a model of the
        // rule's contract computes from every reading sent. Only the newest reading of a minute is kept in state.
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 299], Gen.Bool).Array[1, 80].Sample(sent =>
        {
            var kit = PatientKit();
            foreach (var (bay, second, occupied) in sent)
            {
                kit.Send($"area-1-bay-{bay}", SensorTypes.Parking, T0.AddSeconds(second), new Dictionary<string, SensorValue> { ["occupied"] = occupied });
            }

            kit.AdvanceWatermarkTo(T0.AddMinutes(5));

            var first = sent[0].Item2 / 60 + 1; // minutes are emitted from the first reading's minute on
            var expected = new List<(DateTimeOffset End, double Free, long Count)>();
            for (var end = first; end <= 5; end++)
            {
                var before = sent.Select((r, order) => (r.Item1, r.Item2, r.Item3, order)).Where(r => r.Item2 < end * 60);
                var newest = before.GroupBy(r => r.Item1).Select(g => g.MaxBy(r => (r.Item2, r.order))).ToList();
                if (newest.Count > 0)
                {
                    expected.Add((T0.AddMinutes(end), newest.Sum(r => r.Item3 ? 0.0 : 1.0), newest.Count));
                }
            }

            Assert.Equal(expected, Of(kit, ParkingRule.FreeMetric).Select(a => (a.WindowEnd, a.Value, a.Count)));
            Assert.Empty(kit.Failures);
        });
    }

    [Fact]
    public void A_car_park_that_counts_occupied_spaces_with_its_capacity_as_the_event_contract_documents_is_used()
    {
        var kit = Kit();
        // docs/events.md: {"capacity":420,"occupied":377}
        kit.Send("carpark-vaterland", SensorTypes.Parking, T0.AddSeconds(3), new Dictionary<string, SensorValue> { ["capacity"] = 420, ["occupied"] = 377 });
        kit.Send("carpark-vaterland", SensorTypes.Parking, T0.AddSeconds(70), new Dictionary<string, SensorValue> { ["occupied"] = 400 });

        kit.AdvanceWatermarkTo(T0.AddMinutes(2));

        Assert.Equal([43.0, 20.0], Of(kit, ParkingRule.FreeMetric).Select(a => a.Value));
        Assert.Equal(377.0 / 420 * 100, Of(kit, ParkingRule.OccupancyMetric)[0].Value, 9);
        Assert.Empty(kit.Problems);
    }

    [Fact]
    public void A_parking_reading_the_rule_cannot_use_is_reported_as_a_problem_not_ignored_silently()
    {
        var kit = Kit();
        kit.Send("lot-9", SensorTypes.Parking, T0.AddSeconds(1), new Dictionary<string, SensorValue> { ["level"] = "B2" });
        kit.Send("lot-9", SensorTypes.Parking, T0.AddSeconds(2), new Dictionary<string, SensorValue> { ["free"] = 12 });
        kit.Send("lot-9", SensorTypes.Parking, T0.AddSeconds(3), new Dictionary<string, SensorValue> { ["free"] = -4, ["capacity"] = 50 });

        Assert.Equal(3, kit.Problems.Count);
        Assert.All(kit.Problems, p => Assert.Equal((ParkingRule.RuleName, "area-1", ParkingRule.UnusableEvent), (p.RuleName, p.Key, p.Kind)));
        Assert.Contains("capacity", kit.Problems[1].Message, StringComparison.Ordinal);
        Assert.Empty(kit.Failures);
        kit.AdvanceWatermarkTo(T0.AddMinutes(2));
        Assert.Empty(kit.Aggregates);
    }
    [Fact]
    public void The_state_is_written_as_before_and_read_back_the_same()
    {
        // Readings are values kept in their sensor's list (no object per reading); the state's JSON and a restore must not
        // change by it. A count without a capacity takes the one of the newest reading before it, else of the first.
        var kit = PatientKit();
        CarPark(kit, T0.AddSeconds(70), free: 12, capacity: 40);
        CarPark(kit, T0.AddSeconds(10), free: 30, capacity: 50);
        CarPark(kit, T0.AddSeconds(20), free: 45, capacity: null); // the capacity of the reading at 10 s: 50
        CarPark(kit, T0.AddSeconds(-50), free: 60, capacity: null); // none before it: the first's, 50
        Bays(kit, T0.AddSeconds(30), occupied: 1, bays: 2);

        var json = kit.AreaState("area-1")!.ToJson();
        Assert.Contains(
            """sensors":{"lot-1":[{"t":1772452750000,"free":50,"capacity":50},{"t":1772452820000,"free":45,"capacity":50},{"t":1772452870000,"free":12,"capacity":40}],"area-1-bay-0":[{"t":1772452830000,"free":0,"capacity":1}],"area-1-bay-1":[{"t":1772452830000,"free":1,"capacity":1}]},""",
            System.Text.Encoding.UTF8.GetString(json),
            StringComparison.Ordinal);

        var restored = SnapshotRoundTrip.Restore(kit.AreaState("area-1"), ParkingRule.RuleName, new ParkingRule());
        Assert.Equal(json, restored.Snapshot().ToJson());
    }
}

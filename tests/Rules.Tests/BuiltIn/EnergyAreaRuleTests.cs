using System.Text;
using Kommune.Rules.Api;
using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class EnergyAreaRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 2, 2, 8, 0, 0, TimeSpan.Zero);

    private static void Meter(RuleTestKit kit, string meter, double kw, double minutes, string area = "skole-a") =>
        kit.Send(meter, SensorTypes.Energy, T0.AddMinutes(minutes), new Dictionary<string, SensorValue> { ["kw"] = kw }, area);

    [Fact]
    public void Emits_the_area_kwh_per_quarter_hour_from_each_meters_mean_power()
    {
        var kit = new RuleTestKit(start: T0).Bind(new EnergyAreaRule(RuleParameters.Empty));
        Meter(kit, "m-1", 10, 0);
        Meter(kit, "m-3", 100, 3, area: "skole-b");
        Meter(kit, "m-1", 30, 5);      // mean 20 kW
        Meter(kit, "m-2", 8, 7);       // mean 8 kW

        kit.AdvanceWatermarkTo(T0.AddMinutes(15));

        var a = Assert.Single(kit.Aggregates, x => x.AreaId == "skole-a");
        Assert.Equal(EnergyAreaRule.Metric, a.Metric);
        Assert.Equal(28 * 0.25, a.Value, 9);
        Assert.Equal(2, a.Count);
        Assert.Equal((T0, T0.AddMinutes(15)), (a.WindowStart, a.WindowEnd));
        Assert.Equal(25, Assert.Single(kit.Aggregates, x => x.AreaId == "skole-b").Value, 9);
    }

    [Fact]
    public void The_area_kwh_is_the_same_whatever_order_the_meters_first_report_in()
    {
        // With several engine nodes the meters of an area reach it in another order than on one node.
        double[] kw = [0.1, 0.2, 0.3, 1e5 / 3, 17.7, 88.8, 3.3333];
        double Kwh(IEnumerable<int> order)
        {
            var kit = new RuleTestKit(start: T0).Bind(new EnergyAreaRule(RuleParameters.Empty));
            foreach (var m in order)
            {
                Meter(kit, $"m-{m}", kw[m], 1);
            }

            kit.AdvanceWatermarkTo(T0.AddMinutes(15));
            return Assert.Single(kit.Aggregates).Value;
        }

        var forward = Kwh(Enumerable.Range(0, kw.Length));
        Assert.Equal(BitConverter.DoubleToInt64Bits(forward), BitConverter.DoubleToInt64Bits(Kwh(Enumerable.Range(0, kw.Length).Reverse())));
        Assert.Equal(BitConverter.DoubleToInt64Bits(forward), BitConverter.DoubleToInt64Bits(Kwh([3, 0, 6, 1, 5, 2, 4])));
    }

    [Fact]
    public void A_late_reading_within_the_lateness_emits_the_window_again_and_state_is_dropped_after()
    {
        var kit = new RuleTestKit(start: T0).Bind(new EnergyAreaRule(RuleParameters.Empty));
        Meter(kit, "m-1", 10, 1);
        kit.AdvanceWatermarkTo(T0.AddMinutes(15));
        Meter(kit, "m-2", 10, 14.5);  // 30 s after the window end: late, but allowed (1 minute)

        Assert.Equal([2.5, 5.0], kit.Aggregates.Select(a => a.Value));
        kit.AdvanceWatermarkTo(T0.AddMinutes(16));
        Assert.False(kit.AreaState("skole-a")!.Rules.Any());
    }

    [Fact]
    public void The_state_is_written_as_before_and_read_back_the_same()
    {
        // Each meter's sum is updated in place (no object per reading); the state's JSON and a restore must not change by it.
        var kit = new RuleTestKit(start: T0).Bind(new EnergyAreaRule(RuleParameters.Empty));
        Meter(kit, "m-2", 8, 0);
        Meter(kit, "m-1", 10, 1);
        Meter(kit, "m-1", 30.25, 5);
        Meter(kit, "m-2", 1e308, 16);

        var json = kit.AreaState("skole-a")!.ToJson();

        Assert.Contains(
            """windows":{"1770019200000":{"meters":{"m-2":{"sum":8,"count":1},"m-1":{"sum":40.25,"count":2}},"emitted":true},"1770020100000":{"meters":{"m-2":{"sum":1E+308,"count":1}},"emitted":false}}""",
            Encoding.UTF8.GetString(json),
            StringComparison.Ordinal);
        var restored = SnapshotRoundTrip.Restore(kit.AreaState("skole-a"), EnergyAreaRule.RuleName, new EnergyAreaRule(RuleParameters.Empty));
        Assert.Equal(json, restored.Snapshot().ToJson());
    }

    [Fact]
    public void A_window_shorter_than_a_minute_is_refused()
    {
        var error = Assert.Throws<RuleParameterException>(() => new EnergyAreaRule(RuleParameters.FromJson("""{"window":"30s"}""")));
        Assert.Equal("window", error.Parameter);
    }
}

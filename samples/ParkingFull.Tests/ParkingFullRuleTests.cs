using Kommune.Rules.Api;
using Kommune.Rules.Model;
using Kommune.Rules.Testing;

namespace Kommune.Samples.ParkingFull.Tests;

public sealed class ParkingFullRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static RuleTestKit Kit(string parameters = "{}") =>
        new RuleTestKit(start: T0).Bind(new ParkingFullRule(RuleParameters.FromJson(parameters)));

    private static void Bay(RuleTestKit kit, int bay, bool occupied, TimeSpan at, string area = "area-1") =>
        kit.Send($"bay-{bay}", "parking", T0 + at, new Dictionary<string, SensorValue> { ["occupied"] = occupied }, area);

    private static TimeSpan Min(double minutes) => TimeSpan.FromMinutes(minutes);

    /// <summary>Reports bays 1..total, the first <paramref name="occupied"/> of them occupied.</summary>
    private static void Fill(RuleTestKit kit, int total, int occupied, TimeSpan at, string area = "area-1")
    {
        for (var i = 1; i <= total; i++)
        {
            Bay(kit, i, i <= occupied, at, area);
        }
    }

    [Fact]
    public void Raises_a_medium_area_alert_when_the_share_reaches_the_threshold()
    {
        var kit = Kit();
        Fill(kit, 10, 8, Min(0));
        Assert.Empty(kit.Alerts);

        Bay(kit, 9, true, Min(1)); // 9 of 10 = 0.9

        var alert = Assert.Single(kit.Alerts);
        Assert.Equal(AlertStatus.Raised, alert.Status);
        Assert.Equal(AlertSeverity.Medium, alert.Severity);
        Assert.Equal("traffic", alert.Category);
        Assert.Equal("parking-full", alert.SubCategory);
        Assert.Null(alert.SensorId);
        Assert.Equal("area-1", alert.AreaId);
        Assert.EndsWith(":full", alert.AlertId, StringComparison.Ordinal);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void Resolves_only_when_the_share_drops_below_threshold_minus_a_tenth()
    {
        var kit = Kit();
        Fill(kit, 10, 10, Min(0));
        Assert.Single(kit.Alerts);

        Bay(kit, 10, false, Min(1)); // 0.9
        Bay(kit, 9, false, Min(2));  // 0.8: not below 0.8
        Assert.Single(kit.Alerts);

        Bay(kit, 8, false, Min(3));  // 0.7
        Assert.Equal([AlertStatus.Raised, AlertStatus.Resolved], kit.Alerts.Select(a => a.Status));
        Assert.Equal(kit.Alerts[0].AlertId, kit.Alerts[1].AlertId);
        Assert.Empty(kit.Failures);
    }

    [Fact]
    public void Does_not_raise_with_fewer_than_minBays_known()
    {
        var kit = Kit();
        Fill(kit, 9, 9, Min(0)); // 100 % but only 9 bays
        Assert.Empty(kit.Alerts);

        var kit5 = Kit("""{"minBays": 5, "threshold": 0.8}""");
        Fill(kit5, 5, 4, Min(0));
        Assert.Single(kit5.Alerts);
    }

    [Fact]
    public void Areas_are_independent()
    {
        var kit = Kit();
        Fill(kit, 10, 10, Min(0), "area-1");
        Fill(kit, 10, 1, Min(0), "area-2");

        Assert.Equal("area-1", Assert.Single(kit.Alerts).AreaId);
    }

    [Theory]
    [InlineData("""{"threshold": 1.5}""", "threshold", "must be between")]
    [InlineData("""{"threshold": "full"}""", "threshold", "must be a number")]
    [InlineData("""{"minBays": 0}""", "minBays", "must be")]
    [InlineData("""{"minBays": 2.5}""", "minBays", "must be a whole number")]
    public void Parameter_errors_name_the_parameter(string json, string parameter, string problem)
    {
        var error = Assert.Throws<RuleParameterException>(() => new ParkingFullRule(RuleParameters.FromJson(json)));

        Assert.Equal(parameter, error.Parameter);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Emits_the_mean_occupied_share_per_fifteen_minutes()
    {
        var kit = Kit();
        Fill(kit, 4, 2, Min(1)); // shares 1, 1, 2/3, 2/4
        kit.AdvanceWatermarkTo(T0 + Min(15));

        var aggregate = Assert.Single(kit.Aggregates);
        Assert.Equal("parking.occupied.mean", aggregate.Metric);
        Assert.Equal("area-1", aggregate.AreaId);
        Assert.Equal(T0, aggregate.WindowStart);
        Assert.Equal(T0 + Min(15), aggregate.WindowEnd);
        Assert.Equal(4, aggregate.Count);
        Assert.Equal((1 + 1 + 2.0 / 3 + 0.5) / 4, aggregate.Value, 9);
        Assert.Empty(kit.Failures);
    }
}

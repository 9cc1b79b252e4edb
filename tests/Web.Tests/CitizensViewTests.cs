using Kommune.Rules.Model;
using Kommune.Web.Boards;
using Kommune.Web.Endpoints;

namespace Kommune.Web.Tests;

/// <summary>What the citizens' API takes from the console's board: area parking and traffic, never a person.</summary>
public sealed class CitizensViewTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-26T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Parking_and_congestion_come_from_the_area_aggregates_and_area_alerts_and_health_alerts_never_appear()
    {
        var board = new ConsoleBoard();
        board.ApplyAggregate(new Aggregate("sentrum", "parking.free", Now.AddMinutes(-2), Now.AddMinutes(-1), 42.6, 3));
        board.ApplyAggregate(new Aggregate("sentrum", "parking.occupancy", Now.AddMinutes(-2), Now.AddMinutes(-1), 89.96, 3));
        board.ApplyAggregate(new Aggregate("sentrum", "traffic.speed.mean", Now.AddMinutes(-2), Now.AddMinutes(-1), 48.25, 4));
        board.ApplyAggregate(new Aggregate("sentrum", "energy.kwh", Now.AddMinutes(-15), Now, 100, 4));
        board.ApplyAlert(AlertBookTests.Record("congestion-area:ring3:1", 1, AlertStatus.Raised, 1, sensorId: null, areaId: "ring3", category: "traffic", subCategory: "trafficJam"), Now);
        board.ApplyAlert(AlertBookTests.Record("parking:sentrum:1", 1, AlertStatus.Raised, 1, sensorId: null, areaId: "sentrum", category: "traffic", subCategory: "parking-full"), Now);
        board.ApplyAlert(AlertBookTests.Record("fall-detection:wearable-1:1", 1, AlertStatus.Raised, 1, sensorId: "wearable-1", areaId: "home-care-nord"), Now);
        board.ApplyAlert(AlertBookTests.Record("congestion:road-1:1", 1, AlertStatus.Raised, 1, sensorId: "road-1", areaId: "ring3", category: "traffic", subCategory: "trafficJam"), Now);

        var view = PublicEndpoints.Build(board, Now, TimeSpan.FromMinutes(15));

        Assert.Equal(["ring3", "sentrum"], view.Areas.Select(a => a.AreaId));
        var sentrum = view.Areas[1];
        Assert.Equal(new PublicParking(43, 90.0, true, Now.AddMinutes(-1)), sentrum.Parking);
        Assert.Equal(new PublicTraffic("normal", null, 48.3, Now.AddMinutes(-1)), sentrum.Traffic);
        Assert.Equal("congested", view.Areas[0].Traffic!.State);
        Assert.Null(view.Areas[0].Parking);
        var json = System.Text.Json.JsonSerializer.Serialize(view, ConsoleJson.Options);
        Assert.DoesNotContain("wearable", json, StringComparison.Ordinal);
        Assert.DoesNotContain("home-care", json, StringComparison.Ordinal);
        Assert.DoesNotContain("road-1", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Figures_older_than_the_stale_limit_count_as_no_data()
    {
        var board = new ConsoleBoard();
        board.ApplyAggregate(new Aggregate("sentrum", "parking.free", Now.AddMinutes(-30), Now.AddMinutes(-29), 10, 1));

        Assert.Empty(PublicEndpoints.Build(board, Now, TimeSpan.FromMinutes(15)).Areas);
    }
}

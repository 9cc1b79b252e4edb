using System.Text.Json;
using Kommune.Rules.Model;
using Kommune.Web.Tests.Support;
using Microsoft.Playwright;

namespace Kommune.Web.Tests;

/// <summary>The citizens' page and API: parking and congestion from the engine's aggregates and area alerts; nothing personal.</summary>
[Collection(SharedConsole.Name)]
public sealed class CitizensPageTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task On_a_phone_the_public_page_shows_free_parking_and_congestion_in_Norwegian_and_no_health_alert()
    {
        // Readings stamped from the next minute on (ahead of the other tests' falls, so they move event time): a car
        // park and a free-flowing road in sentrum, two crawling roads in ring3; and a fall in sentrum, which must never
        // reach the public. Each minute goes in two parts, the second once the first is processed (the area's parking
        // minute before is on the aggregates topic): the roads' minute facts then reach their area before the area's
        // minute closes, as they do when readings stream in.
        var start = DateTimeOffset.FromUnixTimeSeconds((DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60 + 2) * 60);
        for (var minute = 0; minute <= 5; minute++)
        {
            fixture.ProduceAll(Readings(start.AddMinutes(minute), 1, 11));
            if (minute > 0)
            {
                var closed = start.AddMinutes(minute - 1);
                await ConsoleFixture.WaitUntilAsync(() => fixture.Console.Board.Read((_, areas) => areas.Latest("sentrum", "parking.free")?.Start >= closed));
            }

            fixture.ProduceAll(Readings(start.AddMinutes(minute), 31, 41));
        }

        var fall = ConsoleFixture.Fall("wearable-home-12", "sentrum");
        fixture.Produce(fall);
        await ConsoleFixture.WaitUntilAsync(() => fixture.Console.Board.IsOpen(ConsoleFixture.AlertId(fall)));

        await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 390, Height = 844 },
            DeviceScaleFactor = 2,
            IsMobile = true,
            HasTouch = true,
            Locale = "nb-NO",
        });
        context.SetDefaultTimeout((float)ConsoleFixture.Wait.TotalMilliseconds);
        var page = await context.NewPageAsync();

        // The engine's closed minutes reach the console; then the page (which polls every 30 s) is loaded until the
        // API's cache (1 s in these tests) has them too.
        await ConsoleFixture.WaitUntilAsync(
            () => Endpoints.PublicEndpoints.Build(fixture.Console.Board, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(15)).Areas
                .Count(a => (a.AreaId == "sentrum" && a.Parking is not null) || (a.AreaId == "ring3" && a.Traffic?.State == "congested")) == 2,
            () => "The engine's parking and congestion never reached the console: " + JsonSerializer.Serialize(fixture.Console.Board.Subscribe().Snapshot.Data) + "\nEngine output:\n" + fixture.EngineOutput);
        var sentrum = page.Locator("[data-area-id=sentrum]");
        var ring3 = page.Locator("[data-area-id=ring3]");
        var deadline = DateTime.UtcNow + ConsoleFixture.Wait;
        do
        {
            await page.GotoAsync(fixture.BaseUrl + "/public");
            await page.Locator("#updated").Filter(new LocatorFilterOptions { HasText = "Oppdatert" }).WaitForAsync();
        }
        while ((await sentrum.CountAsync() == 0 || !(await ring3.InnerTextAsync()).Contains("Kø", StringComparison.Ordinal)) && DateTime.UtcNow < deadline);

        await Assertions.Expect(sentrum).ToContainTextAsync("43 ledige");
        await Assertions.Expect(sentrum).ToContainTextAsync("Normal trafikk");
        await Assertions.Expect(ring3).ToContainTextAsync("Kø");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Parkering og trafikk nå");

        var text = await page.Locator("body").InnerTextAsync();
        Assert.DoesNotContain("wearable", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("fall", text, StringComparison.OrdinalIgnoreCase);
        var api = await context.APIRequest.GetAsync(fixture.BaseUrl + "/api/public/v1/areas");
        var json = await api.TextAsync();
        Assert.DoesNotContain("wearable", json, StringComparison.Ordinal);
        Assert.DoesNotContain("health", json, StringComparison.Ordinal);
        Assert.Equal("*", api.Headers["access-control-allow-origin"]);
        Assert.StartsWith("public, max-age=", api.Headers["cache-control"], StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json);
        var ring3Traffic = document.RootElement.GetProperty("areas").EnumerateArray().Single(a => a.GetProperty("areaId").GetString() == "ring3").GetProperty("traffic");
        Assert.Equal("congested", ring3Traffic.GetProperty("state").GetString());

        // The phone's width holds the cards: nothing scrolls sideways.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await OperatorsPageTests.SaveScreenshotAsync(page, "console-public.png");
    }

    private static IEnumerable<SensorEvent> Readings(DateTimeOffset minute, params int[] seconds)
    {
        foreach (var second in seconds)
        {
            var at = minute.AddSeconds(second);
            yield return Reading("carpark-vaterland", "sentrum", "parking", at, new() { ["capacity"] = 420, ["free"] = 43 });
            yield return Reading("road-sentrum-1", "sentrum", "traffic", at, new() { ["speed"] = 62.0, ["occupancy"] = 12.0 });
            yield return Reading("road-ring3-1", "ring3", "traffic", at, new() { ["speed"] = 8.0, ["occupancy"] = 70.0 });
            yield return Reading("road-ring3-2", "ring3", "traffic", at, new() { ["speed"] = 9.0, ["occupancy"] = 65.0 });
        }
    }

    private static SensorEvent Reading(string sensorId, string areaId, string type, DateTimeOffset at, Dictionary<string, SensorValue> values) =>
        new(sensorId, areaId, type, at, values);
}

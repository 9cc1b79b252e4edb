using Kommune.Rules.BuiltIn;
using Kommune.Rules.Model;
using Kommune.Web.Boards;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kommune.Web.Endpoints;

/// <summary>The citizens' parking now in one area: free spaces, occupancy and whether the car parks are full.</summary>
/// <param name="FreeSpaces">Free spaces over the area's car parks and bays, in the last complete minute.</param>
/// <param name="OccupancyPercent">Occupied share of the known spaces, 0 to 100.</param>
/// <param name="Full">Whether the engine's parking-full alert is open for the area.</param>
/// <param name="AsOf">The end of the minute the figures are for.</param>
internal sealed record PublicParking(long FreeSpaces, double OccupancyPercent, bool Full, DateTimeOffset AsOf);

/// <summary>The citizens' traffic now in one area.</summary>
/// <param name="State"><c>congested</c> while an area <c>trafficJam</c> alert (the engine's <c>congestion-area</c> rule's) is open, otherwise <c>normal</c>.</param>
/// <param name="CongestedSharePercent">Share of the area's road segments congested in the last complete minute.</param>
/// <param name="MeanSpeedKmh">Mean speed over the area's road sensors in that minute.</param>
/// <param name="AsOf">The end of that minute.</param>
internal sealed record PublicTraffic(string State, double? CongestedSharePercent, double? MeanSpeedKmh, DateTimeOffset? AsOf);

/// <summary>One area for citizens; a part is null when there is no recent data for it.</summary>
internal sealed record PublicArea(string AreaId, PublicParking? Parking, PublicTraffic? Traffic);

/// <summary>The citizens' API answer (version 1, docs/citizens-api.md).</summary>
internal sealed record PublicAreas(DateTimeOffset Generated, IReadOnlyList<PublicArea> Areas);

/// <summary>
/// The citizens' page and its JSON API: no login, read-only, mobile-first, cached and rate-limited per client. It is
/// built only from area aggregates (parking, traffic) and the area alerts of two kinds (area congestion, parking
/// full): it never reads a health alert, a sensor id or anything else about a person.
/// </summary>
internal static class PublicEndpoints
{
    /// <summary>The rate-limiter policy of the citizens' endpoints.</summary>
    public const string RatePolicy = "public";

    /// <summary>The output-cache policy of the citizens' API.</summary>
    public const string CachePolicy = "public";

    public static void Map(IEndpointRouteBuilder app, ConsoleOptions options)
    {
        var group = app.MapGroup("").AllowAnonymous().RequireRateLimiting(RatePolicy);
        group.MapGet("/public", (HttpContext context) =>
        {
            var page = Pages.Render(context, "public.html");
            context.Response.Headers.CacheControl = "public, max-age=60";
            return page;
        });
        group.MapGet("/api/public/v1/areas", (HttpContext context, ConsoleBoard board, TimeProvider time) =>
        {
            PublicHeaders(context, options);
            return Results.Json(Build(board, time.GetUtcNow(), options.PublicStaleAfter), ConsoleJson.Options);
        }).CacheOutput(CachePolicy);
        group.MapGet("/api/public/v1/areas/{areaId}", (HttpContext context, string areaId, ConsoleBoard board, TimeProvider time) =>
        {
            PublicHeaders(context, options);
            var area = Build(board, time.GetUtcNow(), options.PublicStaleAfter).Areas.FirstOrDefault(a => a.AreaId == areaId);
            return area is null ? Results.NotFound() : Results.Json(area, ConsoleJson.Options);
        }).CacheOutput(CachePolicy);
    }

    /// <summary>Builds the citizens' view from the board: only the whitelisted metrics and area alerts.</summary>
    internal static PublicAreas Build(ConsoleBoard board, DateTimeOffset now, TimeSpan staleAfter) => board.Read((openAlerts, areas) =>
    {
        var areaAlerts = openAlerts
            .Where(a => a.SensorId is null && a.SubCategory is CongestionAreaRule.SubCategory or ParkingRule.SubCategory)
            .Select(a => (a.AreaId, a.SubCategory))
            .ToHashSet();
        var ids = areas.AreaIds.Concat(areaAlerts.Select(a => a.AreaId)).Distinct().Order(StringComparer.Ordinal);
        var result = new List<PublicArea>();
        foreach (var areaId in ids)
        {
            MetricPoint? Fresh(string metric) => areas.Latest(areaId, metric) is { } p && now - p.End <= staleAfter ? p : null;
            var free = Fresh(ParkingRule.FreeMetric);
            var occupancy = Fresh(ParkingRule.OccupancyMetric);
            var parkingFull = areaAlerts.Contains((areaId, ParkingRule.SubCategory));
            var parking = free is null ? null : new PublicParking((long)Math.Round(free.Value, MidpointRounding.AwayFromZero), Round(occupancy?.Value ?? 0), parkingFull, free.End);
            var share = Fresh(CongestionAreaRule.ShareMetric);
            var speed = Fresh(CongestionAreaRule.SpeedMetric);
            var congested = areaAlerts.Contains((areaId, CongestionAreaRule.SubCategory));
            var traffic = share is null && speed is null && !congested
                ? null
                : new PublicTraffic(congested ? "congested" : "normal", Round(share), Round(speed), (share ?? speed)?.End);
            if (parking is not null || traffic is not null)
            {
                result.Add(new PublicArea(areaId, parking, traffic));
            }
        }

        return new PublicAreas(now, result);
    });

    private static double? Round(MetricPoint? point) => point is null ? null : Round(point.Value);

    private static double Round(double value) => Math.Round(value, 1, MidpointRounding.AwayFromZero);

    /// <summary>Any web app may read it (no credentials are involved), and any cache may keep it briefly.</summary>
    private static void PublicHeaders(HttpContext context, ConsoleOptions options)
    {
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.CacheControl = $"public, max-age={(int)options.PublicCacheDuration.TotalSeconds}";
    }

    /// <summary>The output-cache policy: the API's answers are the same for every client for a few seconds.</summary>
    internal static void AddPolicy(OutputCacheOptions cache, ConsoleOptions options) =>
        cache.AddPolicy(CachePolicy, b => b.Expire(options.PublicCacheDuration).SetVaryByQuery([]));
}

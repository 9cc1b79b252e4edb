using System.Net;
using System.Text.Json;
using Kommune.Engine.Hosting;

namespace Kommune.Engine.Tests.Support;

/// <summary>Reads an engine's HTTP endpoint as Prometheus and a readiness probe do.</summary>
internal static class EndpointClient
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>One scrape of <c>/metrics</c>.</summary>
    public static async Task<PrometheusText> ScrapeAsync(EngineHttpEndpoint endpoint)
    {
        using var response = await Http.GetAsync(new Uri(endpoint.Address, "metrics"));
        if (response.StatusCode != HttpStatusCode.OK || response.Content.Headers.ContentType?.MediaType != "text/plain")
        {
            throw new InvalidOperationException($"/metrics answered {response.StatusCode} with {response.Content.Headers.ContentType}");
        }

        return new PrometheusText(await response.Content.ReadAsStringAsync());
    }

    /// <summary>The status, <c>state</c> and <c>reason</c> of <c>/readyz</c> or <c>/healthz</c>.</summary>
    public static async Task<(HttpStatusCode Status, string State, string Reason)> ProbeAsync(EngineHttpEndpoint endpoint, string path)
    {
        using var response = await Http.GetAsync(new Uri(endpoint.Address, path));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;
        return (response.StatusCode, root.GetProperty("state").GetString()!, root.TryGetProperty("reason", out var reason) ? reason.GetString()! : "");
    }
}

using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Hosting;

/// <summary>
/// The engine's HTTP endpoint for SREs, on Kestrel: <c>/metrics</c> (Prometheus text format), <c>/healthz</c>
/// (the process is alive: always 200) and <c>/readyz</c> (200 once partitions are assigned, restored and
/// consumed, 503 with the reason before that and while stopping). Nothing else is served.
/// </summary>
internal sealed partial class EngineHttpEndpoint : IAsyncDisposable
{
    private const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
    private readonly WebApplication _app;

    private EngineHttpEndpoint(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where it listens, with the actual port when port 0 was asked for.</summary>
    public Uri Address { get; }

    /// <summary>Starts listening on <paramref name="host"/>:<paramref name="port"/> (port 0: any free port).</summary>
    /// <exception cref="IOException">The address is in use or cannot be bound; the message says which.</exception>
    public static async Task<EngineHttpEndpoint> StartAsync(KommuneEngine engine, string host, int port, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var address = host switch
        {
            "" or "*" or "+" or "0.0.0.0" => IPAddress.Any,
            "localhost" => IPAddress.Loopback,
            _ => IPAddress.Parse(host),
        };
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        // The command's own host handles Ctrl+C and SIGTERM and stops this endpoint after the engine, so /readyz
        // answers "stopping" while the engine drains; this host must not stop itself on the same signal.
        builder.Services.AddSingleton<IHostLifetime, OwnedLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(address, port);
        });
        var app = builder.Build();
        var registry = engine.Metrics.Registry;
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = PrometheusContentType;
            await registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapGet("/healthz", context => WriteJson(context, StatusCodes.Status200OK, new Status("alive", null)));
        app.MapGet("/readyz", context =>
        {
            var readiness = engine.Readiness;
            return WriteJson(
                context,
                readiness.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable,
                new Status(readiness.Ready ? "ready" : "not ready", readiness.Reason));
        });
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new IOException($"The metrics endpoint cannot listen on {host}:{port} ({e.Message}); set MetricsPort (--metrics-port) to a free port, 0 for any, or -1 for none", e);
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? $"http://{host}:{port}";
        var endpoint = new EngineHttpEndpoint(app, new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "localhost", StringComparison.Ordinal)));
        var logger = loggerFactory.CreateLogger<EngineHttpEndpoint>();
        LogListening(logger, endpoint.Address);
        return endpoint;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private static Task WriteJson(HttpContext context, int status, Status body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, StatusJson.Options), context.RequestAborted);
    }

    [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "Metrics at {Address}metrics, health at /healthz and /readyz")]
    private static partial void LogListening(ILogger logger, Uri address);

    private sealed record Status(string State, string? Reason);

    /// <summary>A host lifetime that reacts to no signal and prints nothing: the endpoint is stopped by its owner.</summary>
    private sealed class OwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static class StatusJson
    {
        public static readonly JsonSerializerOptions Options = new()
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        };
    }
}

using Kommune.Connectors.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Web;

/// <summary>What a host needs to run the console: its settings and where Kafka is.</summary>
/// <param name="Options">The console's settings.</param>
/// <param name="Kafka">The cluster and topics.</param>
/// <param name="Kestrel">Kestrel's configuration section (<c>Console:Kestrel</c>), for HTTPS.</param>
/// <param name="Banner">Printed with the address once it listens: the demo's login, for example.</param>
/// <param name="FallBackToFreePort">When the port is taken, listen on a free one and say so, rather than stop (the demo).</param>
public sealed record ConsoleSettings(ConsoleOptions Options, ConsoleKafka Kafka, IConfiguration? Kestrel = null, string? Banner = null, bool FallBackToFreePort = false);

/// <summary>Runs the console for a host's lifetime (<c>kommune console</c>, and the demo) and prints where it listens.</summary>
public sealed class ConsoleService(ConsoleSettings settings, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private ConsoleServer? _server;

    /// <summary>The running console.</summary>
    public ConsoleServer Server => _server ?? throw new InvalidOperationException("The console has not started.");

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            _server = await ConsoleServer.StartAsync(settings.Options, settings.Kafka, loggerFactory, settings.Kestrel, cancellationToken);
        }
        catch (IOException e) when (settings.FallBackToFreePort)
        {
            var taken = settings.Options.Urls;
            settings.Options.Urls = string.Join(';', taken.Split(';').Select(u => new UriBuilder(u) { Port = 0 }.Uri.ToString().TrimEnd('/')));
            Console.WriteLine($"Operations console: {taken} is in use ({e.InnerException?.Message ?? e.Message}); listening on a free port instead");
            _server = await ConsoleServer.StartAsync(settings.Options, settings.Kafka, loggerFactory, settings.Kestrel, cancellationToken);
        }

        Console.WriteLine($"Operations console on {string.Join(", ", _server.Addresses)}  (citizens' page: {new Uri(_server.Address, "/public")})");
        Console.WriteLine($"Audit log: {_server.AuditLogPath}");
        if (settings.Banner is { } banner)
        {
            Console.WriteLine(banner);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}

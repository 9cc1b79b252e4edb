using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Hosting;

/// <summary>Runs one <see cref="KommuneEngine"/> for the host's lifetime.</summary>
internal sealed partial class EngineService(EngineOptions options, ILoggerFactory loggerFactory, IHostApplicationLifetime lifetime) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<EngineService>();
    private KommuneEngine? _engine;
    private RulesWatcher? _watcher;
    private EngineHttpEndpoint? _http;

    public KommuneEngine Engine => _engine ?? throw new InvalidOperationException("The engine has not started.");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _engine = new KommuneEngine(options, loggerFactory);
        if (options.MetricsPort >= 0)
        {
            // Before the engine: /healthz answers and /readyz says "not started" while it connects.
            _http = await EngineHttpEndpoint.StartAsync(_engine, options.MetricsHost, options.MetricsPort, loggerFactory, cancellationToken);
        }

        await _engine.StartAsync(cancellationToken);
        if (options.WatchRules && (options.RulesFile is not null || options.PluginsFolder is not null))
        {
            var engine = _engine;
            _watcher = new RulesWatcher(options.RulesFile, options.PluginsFolder, () => engine.ReloadRules(), TimeProvider.System);
        }

        // A consumer that died takes no more events: stop the process (exit code 1) so a supervisor restarts it.
        _ = _engine.ConsumerCompletion.ContinueWith(
            failed =>
            {
                LogConsumerFailed(_logger, failed.Exception);
                Environment.ExitCode = 1;
                lifetime.StopApplication();
            },
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _watcher?.Dispose();
        if (_engine is not null)
        {
            try
            {
                await _engine.StopAsync(cancellationToken);
            }
            catch (TimeoutException)
            {
                // Logged by the engine; the exit code tells a supervisor the stop was not clean.
                Environment.ExitCode = 1;
            }
        }

        // Last: the final scrape sees the stopped engine's totals, and /readyz says "stopping" meanwhile.
        if (_http is not null)
        {
            await _http.DisposeAsync();
            _http = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _watcher?.Dispose();
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        if (_http is not null)
        {
            await _http.DisposeAsync();
            _http = null;
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Critical, Message = "The Kafka consumer failed; stopping the engine")]
    private static partial void LogConsumerFailed(ILogger logger, Exception? exception);
}

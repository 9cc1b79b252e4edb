using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Hosting;

/// <summary>Runs one <see cref="KommuneEngine"/> for the host's lifetime.</summary>
internal sealed class EngineService(EngineOptions options, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private KommuneEngine? _engine;

    public KommuneEngine Engine => _engine ?? throw new InvalidOperationException("The engine has not started.");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _engine = new KommuneEngine(options, loggerFactory);
        return _engine.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        _engine?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => _engine?.DisposeAsync() ?? ValueTask.CompletedTask;
}

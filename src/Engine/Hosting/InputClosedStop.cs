using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Hosting;

/// <summary>
/// Stops the host gracefully, as a first SIGTERM does, when standard input ends: a supervising process (kommune demo
/// --nodes) keeps the write end of the pipe open while it wants the node to run and closes it to stop it; when the
/// supervisor dies in any way, even by SIGKILL, the operating system closes it, so the node does not outlive it.
/// Not a signal: a node that got SIGINT from the terminal as well stops once, with its drain.
/// </summary>
internal sealed partial class InputClosedStop(IHostApplicationLifetime lifetime, ILogger<InputClosedStop> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A blocking read that nothing can cancel: a background thread of its own, which the process does not wait for.
        var reader = new Thread(StopAtEndOfInput) { IsBackground = true, Name = "stop when input closes" };
        reader.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void StopAtEndOfInput()
    {
        try
        {
            using var input = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (input.Read(buffer, 0, buffer.Length) > 0)
            {
                // What the supervisor writes means nothing; only the end does.
            }
        }
        catch (IOException)
        {
            // A broken input is an ended one.
        }

        LogInputClosed(logger);
        lifetime.StopApplication();
    }

    [LoggerMessage(EventId = 3601, Level = LogLevel.Information, Message = "Standard input closed: stopping, as on SIGTERM")]
    private static partial void LogInputClosed(ILogger logger);
}

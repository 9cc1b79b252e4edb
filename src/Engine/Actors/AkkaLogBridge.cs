using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace Kommune.Engine.Actors;

/// <summary>
/// Akka's logger for the engine: every log event of the actor system (an actor that failed, dead letters, a
/// mailbox problem) goes to Microsoft.Extensions.Logging under the category <c>Akka</c> with the actor's path, so it
/// reaches the same structured log as the engine's own lines instead of standard output. Configured in
/// <see cref="KommuneEngine.AkkaConfig"/>; the logger factory comes with <see cref="AkkaLogSetup"/>.
/// </summary>
internal sealed partial class AkkaLogBridge : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public AkkaLogBridge()
    {
        var factory = Context.System.Settings.Setup.Get<AkkaLogSetup>().Value?.LoggerFactory;
        var logger = factory?.CreateLogger("Akka");
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            if (logger is null)
            {
                // An actor system made without the setup (a benchmark): standard error rather than nothing.
                Console.Error.WriteLine(e.ToString());
                return;
            }

            var level = e.LogLevel() switch
            {
                Akka.Event.LogLevel.ErrorLevel => Microsoft.Extensions.Logging.LogLevel.Error,
                Akka.Event.LogLevel.WarningLevel => Microsoft.Extensions.Logging.LogLevel.Warning,
                Akka.Event.LogLevel.InfoLevel => Microsoft.Extensions.Logging.LogLevel.Information,
                _ => Microsoft.Extensions.Logging.LogLevel.Debug,
            };
            if (logger.IsEnabled(level))
            {
                var text = e.Message?.ToString() ?? string.Empty;
                LogAkka(logger, level, e.LogSource, text, e.Cause);
            }
        });
    }

    [LoggerMessage(EventId = 3900, Message = "{ActorPath}: {AkkaMessage}")]
    private static partial void LogAkka(ILogger logger, Microsoft.Extensions.Logging.LogLevel level, string actorPath, string akkaMessage, Exception? exception);
}

/// <summary>Gives <see cref="AkkaLogBridge"/> the engine's logger factory (an actor system setup).</summary>
internal sealed class AkkaLogSetup(ILoggerFactory loggerFactory) : Setup
{
    public ILoggerFactory LoggerFactory { get; } = loggerFactory;
}

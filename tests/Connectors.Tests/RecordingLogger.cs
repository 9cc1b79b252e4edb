using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kommune.Connectors.Tests;

/// <summary>Keeps every line logged (debug and above) with its level and event id, for a test to look at.</summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, int EventId, string Text)> _lines = new();

    /// <summary>Every line logged so far.</summary>
    public IReadOnlyCollection<(LogLevel Level, int EventId, string Text)> Lines => _lines;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue((logLevel, eventId.Id, formatter(state, exception)));
}

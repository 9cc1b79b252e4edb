using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kommune.Engine.Tests.Support;

/// <summary>
/// Sends engine logs to the test's output, so a failing test shows what the engine said, and keeps every line logged
/// at error level or above so a test can assert that nothing failed unseen (an actor's exception, for one).
/// </summary>
internal sealed class TestOutputLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ITestOutputHelper _output = output;

    /// <summary>Every line logged at error level or above, with its category.</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    /// <summary>Every line logged at information level or above.</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new TestOutputLogger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void Dispose()
    {
    }

    private sealed class TestOutputLogger(TestOutputLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}";
            if (logLevel >= LogLevel.Error)
            {
                provider._errors.Enqueue(line);
            }

            if (logLevel >= LogLevel.Information)
            {
                provider._lines.Enqueue(line);
            }

            try
            {
                provider._output.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // The test has finished; its output is closed.
            }
        }
    }
}

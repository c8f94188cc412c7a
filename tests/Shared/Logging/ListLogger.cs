using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tally.Testing;

/// <summary>
/// A logger that keeps its messages, for assertions and for waiting on a line. Compiled into the test
/// projects that log (their project files include tests/Shared/Logging).
/// </summary>
public sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception)));
}

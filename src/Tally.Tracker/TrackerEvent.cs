namespace Tally.Tracker;

/// <summary>
/// One emitted event, as edX event-tracking shapes it: its name, when it happened (UTC), the context
/// that was in force, and its own data. Processors change an event by returning a copy (<c>with</c>),
/// which keeps its <see cref="Id"/>.
/// </summary>
public sealed record TrackerEvent(string Name, DateTime Timestamp, IReadOnlyDictionary<string, object?> Context, IReadOnlyDictionary<string, object?> Data)
{
    /// <summary>
    /// Made once at emission and sent with every delivery, so a backend that retries (after a timeout,
    /// a restart, a replay of its spool) is idempotent: Tally keeps each id once.
    /// </summary>
    public string Id { get; init; } = TrackerEventIds.Next();
}

/// <summary>
/// Event ids unique across processes without a random draw per event (a Guid costs ~0.5 µs here, most
/// of an Emit): 128 random bits drawn once per process, then a counter.
/// </summary>
internal static class TrackerEventIds
{
    private static readonly string Prefix = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
    private static long _counter;

    public static string Next() => string.Create(null, stackalloc char[64], $"{Prefix}-{Interlocked.Increment(ref _counter):x}");
}

/// <summary>Where events go: storage, a service, a log, or a router to other backends.</summary>
public interface ITrackerBackend
{
    /// <summary>Takes one event. Backends that do I/O hand it to their own buffer rather than block the caller.</summary>
    void Send(TrackerEvent trackerEvent);

    /// <summary>Returns once what was sent so far has been written or delivered as far as this backend can take it.</summary>
    Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>A step every event passes on its way to backends: returns the event (changed or replaced), or null to drop it.</summary>
public interface ITrackerProcessor
{
    TrackerEvent? Process(TrackerEvent trackerEvent);
}

namespace Tally.Tracker;

/// <summary>
/// One emitted event, as edX event-tracking shapes it: its name, when it happened (UTC), the context
/// that was in force, and its own data. Processors change an event by returning a copy (<c>with</c>).
/// </summary>
public sealed record TrackerEvent(string Name, DateTime Timestamp, IReadOnlyDictionary<string, object?> Context, IReadOnlyDictionary<string, object?> Data);

/// <summary>Where events go: storage, a service, a log, or a router to other backends.</summary>
public interface ITrackerBackend
{
    /// <summary>Takes one event. Backends that do I/O hand it to their own buffer rather than block the caller.</summary>
    void Send(TrackerEvent trackerEvent);
}

/// <summary>A step every event passes on its way to backends: returns the event (changed or replaced), or null to drop it.</summary>
public interface ITrackerProcessor
{
    TrackerEvent? Process(TrackerEvent trackerEvent);
}

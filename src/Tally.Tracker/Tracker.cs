using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tally.Tracker;

/// <summary>
/// Emits events with the contexts in force to a backend (usually a <see cref="RoutingBackend"/>).
/// Emitting never throws: a failing processor or backend is logged and the application goes on.
/// </summary>
public sealed class Tracker(ITrackerBackend backend, TimeProvider? clock = null, ILogger? logger = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public TrackerContexts Contexts { get; } = new();

    /// <summary>Sends <c>{name, timestamp, context, data}</c> to the backend.</summary>
    public void Emit(string name, IReadOnlyDictionary<string, object?>? data = null)
    {
        var trackerEvent = new TrackerEvent(name, _clock.GetUtcNow().UtcDateTime, Contexts.Resolve(), data ?? new Dictionary<string, object?>());
        try
        {
            backend.Send(trackerEvent);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Tracker backend failed on event {Name}", name);
        }
    }

    /// <summary>Enters a named context until <see cref="ExitContext"/>.</summary>
    public void EnterContext(string name, IReadOnlyDictionary<string, object?> values) => Contexts.Enter(name, values);

    public void ExitContext(string name) => Contexts.Exit(name);

    /// <summary>A context for the scope of a <c>using</c>.</summary>
    public IDisposable Context(string name, IReadOnlyDictionary<string, object?> values) => Contexts.Scope(name, values);
}

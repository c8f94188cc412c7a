using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tally.Tracker;

/// <summary>
/// A node of the routing tree: passes each event through its own processors in order, then to each
/// of its backends. A processor that throws is logged and skipped (the event goes on as it was); a
/// backend that throws is logged, counted as failed, and the others still get the event. Flushing and
/// disposing reach every backend of the branch.
/// </summary>
public sealed class RoutingBackend(IEnumerable<ITrackerProcessor> processors, IEnumerable<KeyValuePair<string, ITrackerBackend>> backends, ILogger? logger = null)
    : ITrackerBackend, IAsyncDisposable
{
    private readonly ITrackerProcessor[] _processors = [.. processors];
    private readonly KeyValuePair<string, ITrackerBackend>[] _backends = [.. backends];
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public IReadOnlyList<ITrackerProcessor> Processors => _processors;
    public IReadOnlyList<KeyValuePair<string, ITrackerBackend>> Backends => _backends;

    public void Send(TrackerEvent trackerEvent)
    {
        if (Process(trackerEvent) is not { } processed) return;
        foreach (var (name, backend) in _backends)
        {
            try
            {
                backend.Send(processed);
            }
            catch (Exception e)
            {
                TrackerMetrics.Failed(name);
                _logger.LogError(e, "Tracker backend {Backend} failed on event {Name}; the other backends still get it", name, processed.Name);
            }
        }
    }

    /// <summary>The event after every processor, or null when one dropped it.</summary>
    public TrackerEvent? Process(TrackerEvent trackerEvent)
    {
        var current = trackerEvent;
        foreach (var processor in _processors)
        {
            try
            {
                if (processor.Process(current) is not { } next) return null;
                current = next;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Tracker processor {Processor} failed on event {Name}; the event goes on unchanged", processor.GetType().Name, current.Name);
            }
        }
        return current;
    }

    public Task FlushAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(_backends.Select(b => b.Value.FlushAsync(cancellationToken)));

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, backend) in _backends) await DisposeBackendAsync(backend);
    }

    /// <summary>Disposes a backend that holds resources (files, connections, a spool), however it does so.</summary>
    internal static async ValueTask DisposeBackendAsync(ITrackerBackend backend)
    {
        if (backend is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
        else if (backend is IDisposable disposable) disposable.Dispose();
    }
}

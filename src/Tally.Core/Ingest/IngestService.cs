using Tally.Core.Accept;
using Tally.Core.Events;
using Tally.Core.Process;

namespace Tally.Core.Ingest;

/// <param name="Queued">The events were handed durably to workers, which decide about duplicates and drops.</param>
public sealed record IngestResult(
    int Received, int Stored, int Duplicates, int Dropped, IReadOnlyList<string> Ids, IReadOnlyList<Rejection> Rejections, bool Queued = false);

/// <summary>
/// accept → process → store: parses a body, runs the pipelines and waits for the durable commit.
/// On an ingest node, <paramref name="handOff"/> takes the accepted events instead (a durable queue
/// that workers process and store from). <paramref name="observers"/> hear of every event stored.
/// </summary>
public sealed class IngestService(
    EventParser parser, EventPipeline pipeline, GroupCommitWriter writer, IEnumerable<IStoredEventsObserver> observers, IEventHandOff? handOff = null)
{
    private readonly IStoredEventsObserver[] _observers = [.. observers];

    /// <exception cref="MalformedBodyException">The body cannot be read at all.</exception>
    /// <exception cref="TooManyEventsException">The body holds more events than allowed.</exception>
    public async Task<IngestResult> IngestAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var batch = parser.Parse(body.Span);
        if (handOff is null) return await StoreAsync(batch.Events, batch.Total, batch.Rejections, cancellationToken);
        await handOff.HandOffAsync(batch.Events, cancellationToken);
        return new IngestResult(batch.Total, batch.Events.Count, 0, 0, batch.Events.Select(e => e.Id).ToList(), batch.Rejections, Queued: true);
    }

    /// <summary>Processes and stores events that were already accepted by another source (import, demo, bus).</summary>
    public async Task<IngestResult> StoreAsync(IReadOnlyList<TallyEvent> events, int received, IReadOnlyList<Rejection> rejections, CancellationToken cancellationToken)
    {
        var kept = await pipeline.ProcessAsync(events, cancellationToken);
        var survivors = kept.Count == events.Count ? events : kept.Select(i => events[i]).ToList();
        var stored = await writer.WriteAsync(survivors, cancellationToken);
        foreach (var observer in _observers) observer.Stored(survivors, stored);
        var duplicates = stored.Count(s => !s);
        return new IngestResult(received, stored.Length - duplicates, duplicates, events.Count - survivors.Count,
            events.Select(e => e.Id).ToList(), rejections);
    }
}

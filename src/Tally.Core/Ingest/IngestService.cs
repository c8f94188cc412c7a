using Tally.Core.Accept;
using Tally.Core.Events;
using Tally.Core.Process;

namespace Tally.Core.Ingest;

/// <param name="Queued">The events were handed durably to workers, which decide about duplicates and drops.</param>
public sealed record IngestResult(
    int Received, int Stored, int Duplicates, int Dropped, IReadOnlyList<string> Ids, IReadOnlyList<Rejection> Rejections, bool Queued = false);

/// <summary>
/// accept → process → store: parses a body, runs the pipelines and waits for the durable commit. Where a durable
/// queue sits between accept and store (<paramref name="handOff"/>: a server's inbox, or RabbitMQ on an ingest node),
/// a request's accepted events are handed to it instead, and processed and stored from there.
/// <paramref name="observers"/> hear of every event stored.
/// </summary>
public sealed class IngestService(
    EventParser parser, EventPipeline pipeline, GroupCommitWriter writer, IEnumerable<IStoredEventsObserver> observers, IEventHandOff? handOff = null)
{
    private readonly IStoredEventsObserver[] _observers = [.. observers];

    /// <exception cref="MalformedBodyException">The body cannot be read at all.</exception>
    /// <exception cref="TooManyEventsException">The body holds more events than allowed.</exception>
    /// <exception cref="HandOffRefusedException">The queue did not take the events.</exception>
    public async Task<IngestResult> IngestAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (handOff is null) return await StoreBodyAsync(body, cancellationToken);
        var batch = parser.Parse(body.Span);
        var ids = batch.Events.Select(e => e.Id).ToList();
        if (!handOff.TakesProcessed)
        {
            await handOff.HandOffAsync(batch.Events, cancellationToken);
            return new IngestResult(batch.Total, batch.Events.Count, 0, 0, ids, batch.Rejections, Queued: true);
        }
        var survivors = await ProcessAsync(batch.Events, cancellationToken);
        await handOff.HandOffAsync(survivors, cancellationToken);
        return new IngestResult(batch.Total, survivors.Count, 0, batch.Events.Count - survivors.Count, ids, batch.Rejections, Queued: true);
    }

    /// <summary>Parses a body and stores its events at once, past any queue: for loaders that write in bulk and read back what they wrote (demo history).</summary>
    /// <exception cref="MalformedBodyException">The body cannot be read at all.</exception>
    /// <exception cref="TooManyEventsException">The body holds more events than allowed.</exception>
    public async Task<IngestResult> StoreBodyAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var batch = parser.Parse(body.Span);
        return await StoreAsync(batch.Events, batch.Total, batch.Rejections, cancellationToken);
    }

    /// <summary>Processes and stores events that were already accepted by another source (import, demo, bus).</summary>
    public async Task<IngestResult> StoreAsync(IReadOnlyList<TallyEvent> events, int received, IReadOnlyList<Rejection> rejections, CancellationToken cancellationToken)
    {
        var survivors = await ProcessAsync(events, cancellationToken);
        var stored = await StoreProcessedAsync(survivors, cancellationToken);
        var duplicates = stored.Count(s => !s);
        return new IngestResult(received, stored.Length - duplicates, duplicates, events.Count - survivors.Count,
            events.Select(e => e.Id).ToList(), rejections);
    }

    /// <summary>Stores events the pipeline has processed (as the inbox keeps them); per event, true when stored and false when its id was stored already.</summary>
    public async Task<bool[]> StoreProcessedAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        var stored = await writer.WriteAsync(events, cancellationToken);
        foreach (var observer in _observers) observer.Stored(events, stored);
        return stored;
    }

    /// <summary>The events the pipelines keep, processed.</summary>
    private async Task<IReadOnlyList<TallyEvent>> ProcessAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        var kept = await pipeline.ProcessAsync(events, cancellationToken);
        return kept.Count == events.Count ? events : kept.Select(i => events[i]).ToList();
    }
}

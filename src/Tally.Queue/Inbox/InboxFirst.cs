using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Queue.Inbox;

/// <summary>
/// Raw reads that include every event acknowledged before they began: each first waits until the inbox has stored what
/// it held, as a reader of a queue-fronted store expects after a 202.
/// </summary>
public sealed class InboxFirstReader(IRawEventReader store, EventInbox inbox) : IRawEventReader
{
    public async IAsyncEnumerable<TallyEvent> ScanAsync(EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await inbox.WaitUntilStoredAsync(cancellationToken);
        await foreach (var e in store.ScanAsync(type, from, to, fields, withExtra, cancellationToken)) yield return e;
    }

    public async Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken)
    {
        await inbox.WaitUntilStoredAsync(cancellationToken);
        return await store.QueryEventsAsync(query, cancellationToken);
    }

    public async IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await inbox.WaitUntilStoredAsync(cancellationToken);
        await foreach (var e in store.StreamEventsAsync(query, cancellationToken)) yield return e;
    }
}

/// <summary>The days waiting for aggregation, including those of every event acknowledged before the question: aggregation never misses a 202'd event.</summary>
public sealed class InboxFirstAggregationQueue(IAggregationQueue store, EventInbox inbox) : IAggregationQueue
{
    public async Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken)
    {
        await inbox.WaitUntilStoredAsync(cancellationToken);
        return await store.GetDirtyDaysAsync(cancellationToken);
    }

    public Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken) => store.MarkDirtyAsync(type, from, to, cancellationToken);

    public Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken) => store.ClearDirtyAsync(days, cancellationToken);
}

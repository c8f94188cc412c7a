using Tally.Core.Events;

namespace Tally.Core.Store;

/// <summary>
/// Item and title metadata for reports. Whatever states it (events during aggregation, or the items
/// API), records are merged into what is stored: newer values win, older ones only fill gaps.
/// </summary>
public sealed class ItemCatalog(IEventStore store) : IDisposable
{
    private readonly SemaphoreSlim _oneWriter = new(1, 1);

    public async Task MergeAsync(IEnumerable<ItemMetadata> records, CancellationToken cancellationToken)
    {
        var incoming = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        foreach (var record in records)
            incoming[record.Id] = incoming.TryGetValue(record.Id, out var known) ? known.MergedWith(record) : record;
        if (incoming.Count == 0) return;

        await _oneWriter.WaitAsync(cancellationToken);
        try
        {
            var stored = await store.GetItemsAsync(incoming.Keys, cancellationToken);
            var merged = incoming.Values.Select(r => stored.TryGetValue(r.Id, out var s) ? s.MergedWith(r) : r)
                .Where(r => !stored.TryGetValue(r.Id, out var s) || !s.SameAs(r)).ToList();
            if (merged.Count > 0) await store.PutItemsAsync(merged, cancellationToken);
        }
        finally
        {
            _oneWriter.Release();
        }
    }

    public Task<IReadOnlyDictionary<string, ItemMetadata>> GetAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) =>
        store.GetItemsAsync(ids, cancellationToken);

    public void Dispose() => _oneWriter.Dispose();
}

using System.Collections.Concurrent;
using Tally.Core.Events;

namespace Tally.Core.Store;

/// <summary>
/// Item and title metadata for reports. Whatever states it (events during aggregation, or the items
/// API), records are merged into what is stored: each field's most recent statement wins. Records
/// are cached once read, since every report needs the metadata of all its items. Every write stores a
/// new <see cref="VersionSetting"/>, so a process that sees another version (another node wrote)
/// forgets what it cached.
/// </summary>
public sealed class ItemCatalog(IItemStore store, ISettingStore settings) : IDisposable
{
    /// <summary>Changes whenever stored item metadata changes.</summary>
    public const string VersionSetting = "items.version";

    private readonly SemaphoreSlim _oneWriter = new(1, 1);
    // Null marks an id known to have no stored metadata, so it is not looked up again.
    private readonly ConcurrentDictionary<string, ItemMetadata?> _cache = new(StringComparer.Ordinal);
    private string? _cachedVersion;

    public async Task MergeAsync(IEnumerable<ItemMetadata> records, CancellationToken cancellationToken)
    {
        var incoming = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        foreach (var record in records)
            incoming[record.Id] = incoming.TryGetValue(record.Id, out var known) ? known.MergedWith(record) : record;
        if (incoming.Count == 0) return;

        await _oneWriter.WaitAsync(cancellationToken);
        try
        {
            var stored = await GetAsync(incoming.Keys, cancellationToken);
            var merged = incoming.Values.Select(r => stored.TryGetValue(r.Id, out var s) ? s.MergedWith(r) : r)
                .Where(r => !stored.TryGetValue(r.Id, out var s) || !s.SameAs(r)).ToList();
            if (merged.Count == 0) return;
            await store.PutItemsAsync(merged, cancellationToken);
            foreach (var record in merged) _cache[record.Id] = record;
            var version = Guid.NewGuid().ToString("N");
            await settings.SetSettingAsync(VersionSetting, version, cancellationToken);
            _cachedVersion = version;
        }
        finally
        {
            _oneWriter.Release();
        }
    }

    /// <summary>The known metadata of these ids; ids with none are left out.</summary>
    public async Task<IReadOnlyDictionary<string, ItemMetadata>> GetAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var version = await settings.GetSettingAsync(VersionSetting, cancellationToken);
        if (version != _cachedVersion)
        {
            _cache.Clear();
            _cachedVersion = version;
        }
        var missing = ids.Where(id => !_cache.ContainsKey(id)).ToList();
        if (missing.Count > 0)
        {
            var loaded = await store.GetItemsAsync(missing, cancellationToken);
            foreach (var id in missing) _cache.TryAdd(id, loaded.GetValueOrDefault(id));
        }
        var result = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            if (_cache.TryGetValue(id, out var item) && item is not null) result[id] = item;
        }
        return result;
    }

    public void Dispose() => _oneWriter.Dispose();
}

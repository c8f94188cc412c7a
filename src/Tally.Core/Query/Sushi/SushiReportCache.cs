using System.Globalization;
using System.Text;
using Tally.Core.Aggregate;
using Tally.Core.Store;

namespace Tally.Core.Query.Sushi;

/// <summary>
/// Finished bodies of reports on closed months. Such a report changes only when its months' COUNTER metrics are
/// recomputed (late events, a restatement) or item metadata changes, and both write a new version into the
/// store's settings (<see cref="Aggregator.CounterMonthVersionSetting"/>, <see cref="ItemCatalog.VersionSetting"/>).
/// A body is served only while the versions it was built under are still the stored ones, so a node never serves
/// bytes another node's aggregation has made stale. Bodies are kept up to <paramref name="capacityBytes"/> in all,
/// the oldest dropped first.
/// </summary>
public sealed class SushiReportCache(ISettingStore settings, long capacityBytes) : IAggregationObserver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _oldestFirst = new();
    private long _bytes;

    public sealed record Entry(string Version, DateOnly BeginMonth, DateOnly EndMonth, byte[] Body, string ContentType);

    /// <summary>The largest body worth keeping: a tenth of the capacity, so one report never empties the cache.</summary>
    public long MaxBodyBytes => capacityBytes / 10;

    /// <summary>What selects a report's body: the report, the form it is written in, its months, and every other parameter but the credentials.</summary>
    public static string Key(string reportId, string format, SushiRequest request, IReadOnlyDictionary<string, string> query)
    {
        var key = new StringBuilder();
        void Part(string text) => key.Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(text);
        Part(reportId);
        Part(format);
        Part(request.BeginMonth.ToString("yyyy-MM", CultureInfo.InvariantCulture));
        Part(request.EndMonth.ToString("yyyy-MM", CultureInfo.InvariantCulture));
        foreach (var (name, value) in query.Where(p => p.Key is not ("api_key" or "requestor_id")).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Part(name);
            Part(value);
        }
        return key.ToString();
    }

    /// <summary>The stored versions of the months from <paramref name="beginMonth"/> to <paramref name="endMonth"/> and of item metadata, as one text.</summary>
    public async Task<string> VersionAsync(DateOnly beginMonth, DateOnly endMonth, CancellationToken cancellationToken)
    {
        var version = new StringBuilder(await settings.GetSettingAsync(ItemCatalog.VersionSetting, cancellationToken));
        for (var month = beginMonth; month <= endMonth; month = month.AddMonths(1))
            version.Append('/').Append(await settings.GetSettingAsync(Aggregator.CounterMonthVersionSetting(month), cancellationToken));
        return version.ToString();
    }

    /// <summary>The body cached under <paramref name="key"/> if it was built under <paramref name="version"/>.</summary>
    public Entry? Find(string key, string version)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(key, out var entry) && entry.Version == version ? entry : null;
        }
    }

    public void Store(string key, Entry entry)
    {
        if (entry.Body.Length > MaxBodyBytes) return;
        lock (_lock)
        {
            Remove(key);
            while (_bytes + entry.Body.Length > capacityBytes && _oldestFirst.First is { } oldest) Remove(oldest.Value);
            _entries[key] = entry;
            _oldestFirst.AddLast(key);
            _bytes += entry.Body.Length;
        }
    }

    public void AggregationStarting()
    {
    }

    /// <summary>Frees the bodies of recomputed months at once; their versions have changed, so they would not be served anyway.</summary>
    public void AggregationEnded(AggregationResult? result)
    {
        if (result is null || result.CounterMonths.Count == 0) return;
        lock (_lock)
        {
            foreach (var (key, _) in _entries.Where(e => result.CounterMonths.Any(m => m >= e.Value.BeginMonth && m <= e.Value.EndMonth)).ToList())
                Remove(key);
        }
    }

    private void Remove(string key)
    {
        if (!_entries.Remove(key, out var entry)) return;
        _oldestFirst.Remove(key);
        _bytes -= entry.Body.Length;
    }
}

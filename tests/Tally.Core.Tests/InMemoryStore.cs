using System.Runtime.CompilerServices;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Tests;

/// <summary>
/// The store roles the aggregator and the stats service use, in memory, for unit tests of the core without a
/// database. It keeps rows and answers queries the way the contract suite requires engines to; it does not compute:
/// <see cref="ReferenceMetricComputer"/> does, over it. Every call is recorded, so tests can see what was asked.
/// </summary>
public sealed class InMemoryStore : IRawEventReader, IAggregationQueue, IMetricStore, ISettingStore, IItemStore
{
    private readonly List<TallyEvent> _events = [];
    private readonly Dictionary<(string Type, DateOnly Day), long> _dirty = [];
    private readonly Dictionary<(string Aggregation, MetricPeriod Period, DateOnly Start), IReadOnlyList<MetricRow>> _metrics = [];
    private readonly Dictionary<(MetricPeriod Period, DateOnly Start), IReadOnlyList<CounterRow>> _counter = [];
    private readonly Dictionary<string, string> _settings = [];
    private readonly Dictionary<string, ItemMetadata> _items = new(StringComparer.Ordinal);
    private long _version;

    public List<MetricQuery> MetricQueries { get; } = [];
    public List<(string Aggregation, MetricPeriod Period, DateOnly Start)> MetricWrites { get; } = [];
    public int ItemWrites { get; private set; }

    /// <summary>Stores events and marks their days, as an engine's append does.</summary>
    public void Append(params TallyEvent[] events)
    {
        foreach (var e in events)
        {
            _events.Add(e);
            _dirty[(e.Type.Name, DateOnly.FromDateTime(e.Timestamp))] = ++_version;
        }
    }

    /// <summary>Forgets the raw events of a type before a day, as retention does.</summary>
    public void DropRaw(EventType type, DateOnly before) =>
        _events.RemoveAll(e => e.Type == type && DateOnly.FromDateTime(e.Timestamp) < before);

    public async IAsyncEnumerable<TallyEvent> ScanAsync(
        EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var e in _events.Where(e => e.Type == type && e.Timestamp >= from && e.Timestamp < to).ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return e;
        }
        await Task.CompletedTask;
    }

    public Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken) => throw new NotSupportedException();

    public IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DirtyDay>>([.. _dirty.Select(d => new DirtyDay(d.Key.Type, d.Key.Day, d.Value))]);

    public Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        foreach (var day in _events.Where(e => e.Type == type).Select(e => DateOnly.FromDateTime(e.Timestamp)).Where(d => d >= from && d <= to).Distinct())
            _dirty[(type.Name, day)] = ++_version;
        return Task.CompletedTask;
    }

    public Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken)
    {
        foreach (var day in days)
        {
            if (_dirty.TryGetValue((day.EventType, day.Day), out var version) && version == day.Version) _dirty.Remove((day.EventType, day.Day));
        }
        return Task.CompletedTask;
    }

    public Task ReplaceMetricsAsync(AggregationDefinition aggregation, MetricPeriod period, DateOnly start, IReadOnlyList<MetricRow> rows, CancellationToken cancellationToken)
    {
        _metrics[(aggregation.Name, period, start)] = [.. rows];
        MetricWrites.Add((aggregation.Name, period, start));
        return Task.CompletedTask;
    }

    public Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken) =>
        RankedMetrics.RankAsync(this, parts, metric, offset, count, cancellationToken);

    public Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        MetricQueries.Add(query);
        var groupBy = query.Aggregation.GroupBy.ToList();
        int IndexOf(string field) => groupBy.FindIndex(f => f.Name == field);
        var kept = query.GroupBy.Select(f => IndexOf(f.Name)).ToArray();
        var rows = _metrics
            .Where(m => m.Key.Aggregation == query.Aggregation.Name && m.Key.Period == query.Source && m.Key.Start >= query.From && m.Key.Start <= query.To)
            .SelectMany(m => m.Value.Select(row => (m.Key.Start, Row: row)))
            .Where(r => r.Row.Grouping == query.Grouping)
            .Where(r => query.Filters.All(f => f.Values.Contains(r.Row.Keys[IndexOf(f.Field)] ?? "\0") != f.Negated));
        var sums = new Dictionary<string, MetricRow>(StringComparer.Ordinal);
        foreach (var (start, row) in rows)
        {
            var keys = kept.Select(i => row.Keys[i]).ToArray();
            var period = query.ByPeriod ? start : default;
            var key = $"{period}\u001e{string.Join('\u001f', keys.Select(k => k ?? "\0"))}";
            if (!sums.TryGetValue(key, out var sum)) sums[key] = sum = new MetricRow(period, keys, row.Sums.Length);
            sum.Add(row);
        }
        return Task.FromResult<IReadOnlyList<MetricRow>>([.. sums.Values]);
    }

    public Task<(DateOnly First, DateOnly Last)?> GetMetricDaysAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        Task.FromResult(FirstAndLast(_metrics.Where(m => m.Key.Aggregation == aggregation.Name && m.Key.Period == MetricPeriod.Day && m.Value.Count > 0).Select(m => m.Key.Start)));

    public Task ReplaceCounterMetricsAsync(MetricPeriod period, DateOnly start, IReadOnlyList<CounterRow> rows, CancellationToken cancellationToken)
    {
        _counter[(period, start)] = [.. rows];
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken)
    {
        var sums = new Dictionary<string, CounterRow>(StringComparer.Ordinal);
        var rows = _counter
            .Where(c => c.Key.Period == query.Source && c.Key.Start >= query.From && c.Key.Start <= query.To)
            .SelectMany(c => c.Value.Select(row => (c.Key.Start, Row: row)))
            .Where(r => query.Filters.All(f => f.Value.Contains(r.Row.Keys[(int)f.Key])));
        foreach (var (start, row) in rows)
        {
            var keys = query.GroupBy.Select(d => row.Keys[(int)d]).ToArray();
            var month = query.ByMonth ? new DateOnly(start.Year, start.Month, 1) : default;
            var key = $"{month}\u001e{string.Join('\u001f', keys.Select(k => k ?? "\0"))}";
            if (!sums.TryGetValue(key, out var sum)) sums[key] = sum = new CounterRow(month, keys);
            sum.Add(row);
        }
        return Task.FromResult<IReadOnlyList<CounterRow>>([.. sums.Values]);
    }

    public Task<(DateOnly First, DateOnly Last)?> GetCounterMonthsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(FirstAndLast(_counter.Where(c => c.Key.Period == MetricPeriod.Month && c.Value.Count > 0).Select(c => c.Key.Start)));

    private static (DateOnly First, DateOnly Last)? FirstAndLast(IEnumerable<DateOnly> periods)
    {
        var list = periods.ToList();
        return list.Count == 0 ? null : (list.Min(), list.Max());
    }

    public Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken) => Task.FromResult(_settings.GetValueOrDefault(key));

    public Task SetSettingAsync(string key, string value, CancellationToken cancellationToken)
    {
        _settings[key] = value;
        return Task.CompletedTask;
    }

    public Task RemoveSettingAsync(string key, CancellationToken cancellationToken)
    {
        _settings.Remove(key);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, ItemMetadata>> GetItemsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, ItemMetadata>>(ids.Where(_items.ContainsKey).ToDictionary(id => id, id => _items[id], StringComparer.Ordinal));

    public Task PutItemsAsync(IReadOnlyList<ItemMetadata> items, CancellationToken cancellationToken)
    {
        ItemWrites++;
        foreach (var item in items) _items[item.Id] = item;
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<ItemMetadata> ScanItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var item in _items.Values.ToList()) yield return item;
        await Task.CompletedTask;
    }
}

using System.Globalization;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Retention;
using Tally.Core.Store;

namespace Tally.Core.Aggregate;

public sealed record AggregationProgress(int DaysDone, int DaysTotal, string Current);

/// <param name="Days">Type-days recomputed.</param>
/// <param name="Months">Distinct calendar months rolled up again.</param>
public sealed record AggregationResult(int Days, int Months, long Events, TimeSpan Elapsed);

/// <summary>
/// Rolls raw events up into daily then monthly metrics. Incremental: it recomputes only the days the
/// store has marked as having received events since the last run (late events included), and the
/// months those days fall in. Each day is recomputed whole from raw events, so a re-run, a crash
/// halfway through, or a rebuild all give the same numbers. <paramref name="observers"/> hear when a run begins and ends.
/// </summary>
public sealed class Aggregator(
    TallySchema schema, IAggregationQueue queue, IRawEventReader raw, IMetricStore metrics, ISettingStore settings, ItemCatalog items, TimeProvider clock,
    IEnumerable<IAggregationObserver>? observers = null) : IDisposable
{
    private readonly IAggregationObserver[] _observers = [.. observers ?? []];
    public const string LastRunSetting = "aggregation.last_run";
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public async Task<AggregationResult> RunAsync(
        DateOnly? from = null, DateOnly? to = null, bool rebuild = false,
        IProgress<AggregationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        AggregationResult? result = null;
        foreach (var observer in _observers) observer.AggregationStarting();
        try
        {
            var started = clock.GetTimestamp();
            if (rebuild)
            {
                foreach (var type in schema.Aggregations.Values.Select(a => a.EventType).Concat(schema.CounterTypes).Distinct())
                    await queue.MarkDirtyAsync(type, from ?? DateOnly.MinValue, to ?? DateOnly.MaxValue, cancellationToken);
            }

            var rawDataFrom = new Dictionary<string, DateOnly?>();
            foreach (var type in schema.EventTypes.Values)
                rawDataFrom[type.Name] = await RetentionService.RawDataFromAsync(settings, type, cancellationToken);

            // Days whose raw events retention has dropped keep the metrics computed while they existed.
            var marked = await queue.GetDirtyDaysAsync(cancellationToken);
            var expired = marked.Where(d => rawDataFrom.GetValueOrDefault(d.EventType) is { } first && d.Day < first).ToList();
            var dirty = marked
                .Where(d => (from is null || d.Day >= from) && (to is null || d.Day <= to) && schema.EventTypes.ContainsKey(d.EventType))
                .Except(expired)
                .OrderBy(d => d.Day).ToList();

            // COUNTER metrics span types (a request is also an investigation), so a COUNTER day is redone from all of them.
            var counterTypes = schema.CounterTypes.ToList();
            bool CounterDataKept(DateOnly day) => counterTypes.All(t => rawDataFrom[t.Name] is not { } first || day >= first);

            long events = 0;
            var done = 0;
            var months = new HashSet<(AggregationDefinition, DateOnly)>();
            var counterMonths = new SortedSet<DateOnly>();
            // Item metadata is merged over the whole run and written once: a rebuild of a year writes each item once, not daily.
            var metadata = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
            foreach (var marks in dirty.GroupBy(d => d.Day))
            {
                var day = marks.Key;
                progress?.Report(new AggregationProgress(done, dirty.Count, $"{day:yyyy-MM-dd}"));
                var dirtyTypes = marks.Select(d => schema.EventTypes[d.EventType]).ToHashSet();
                var counter = dirtyTypes.Any(t => t.Counter != CounterRole.None) && CounterDataKept(day) ? new CounterDayCalculator(day) : null;
                // Each type's day is scanned once, for its metrics and for COUNTER together.
                foreach (var type in counter is null ? dirtyTypes : dirtyTypes.Union(counterTypes))
                {
                    var aggregations = dirtyTypes.Contains(type) ? schema.AggregationsOf(type).ToList() : [];
                    events += await AggregateTypeDayAsync(type, day, aggregations, type.Counter == CounterRole.None ? null : counter, metadata, months, cancellationToken);
                }
                if (counter is not null)
                {
                    await metrics.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, counter.Rows(), cancellationToken);
                    counterMonths.Add(new DateOnly(day.Year, day.Month, 1));
                }
                done += marks.Count();
            }

            foreach (var (aggregation, month) in months)
                await RollUpMonthAsync(aggregation, month, cancellationToken);
            await items.MergeAsync(metadata.Values, cancellationToken);
            foreach (var month in counterMonths)
                await RollUpCounterMonthAsync(month, cancellationToken);

            await queue.ClearDirtyAsync([.. dirty, .. expired], cancellationToken);
            await settings.SetSettingAsync(LastRunSetting, clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), cancellationToken);
            progress?.Report(new AggregationProgress(dirty.Count, dirty.Count, "done"));
            var monthsRecomputed = months.Select(m => m.Item2).Concat(counterMonths).Distinct().Count();
            return result = new AggregationResult(dirty.Count, monthsRecomputed, events, clock.GetElapsedTime(started));
        }
        finally
        {
            try
            {
                foreach (var observer in _observers) observer.AggregationEnded(result);
            }
            finally { _oneAtATime.Release(); }
        }
    }

    /// <summary>Recomputes one type's day: its aggregations' metrics, and its part of the day's COUNTER metrics and item metadata.</summary>
    /// <returns>The events aggregated into metrics.</returns>
    private async Task<long> AggregateTypeDayAsync(
        EventType type, DateOnly day, List<AggregationDefinition> aggregations, CounterDayCalculator? counter,
        Dictionary<string, ItemMetadata> metadata, HashSet<(AggregationDefinition, DateOnly)> months, CancellationToken cancellationToken)
    {
        if (aggregations.Count == 0 && counter is null) return 0;
        var calculators = aggregations.Select(a => new DayCalculator(a, day, schema.Referrers)).ToList();
        var fields = aggregations.SelectMany(DayCalculator.FieldsRead)
            .Concat(counter is null ? [] : CounterDayCalculator.FieldsNeeded(type)).Distinct().ToList();
        var reader = counter is null ? null : new ItemMetadataReader(type);
        var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        long count = 0;
        await foreach (var e in raw.ScanAsync(type, start, start.AddDays(1), fields, withExtra: false, cancellationToken))
        {
            foreach (var calculator in calculators) calculator.Add(e);
            count++;
            if (reader is null) continue;
            counter!.Add(e);
            var (item, title) = reader.Read(e);
            if (item is not null) Remember(metadata, item);
            if (title is not null) Remember(metadata, title);
        }
        for (var i = 0; i < aggregations.Count; i++)
        {
            await metrics.ReplaceMetricsAsync(aggregations[i], MetricPeriod.Day, day, calculators[i].Rows(), cancellationToken);
            months.Add((aggregations[i], new DateOnly(day.Year, day.Month, 1)));
        }
        return aggregations.Count > 0 ? count : 0;
    }

    /// <summary>A month is the sum of its days, grouping by grouping: ids are salted per day, so uniques never span two days.</summary>
    private async Task RollUpMonthAsync(AggregationDefinition aggregation, DateOnly month, CancellationToken cancellationToken)
    {
        var rows = await MetricQuery.ReadEveryGroupingAsync(metrics, aggregation, MetricPeriod.Day, month, month.AddMonths(1).AddDays(-1), cancellationToken);
        await metrics.ReplaceMetricsAsync(aggregation, MetricPeriod.Month, month, rows, cancellationToken);
    }

    /// <summary>Keeps one merged record per id, so metadata costs memory per item, not per event.</summary>
    private static void Remember(Dictionary<string, ItemMetadata> known, ItemMetadata record) =>
        known[record.Id] = known.TryGetValue(record.Id, out var existing) ? existing.MergedWith(record) : record;

    private async Task RollUpCounterMonthAsync(DateOnly month, CancellationToken cancellationToken)
    {
        var rows = await metrics.ReadCounterMetricsAsync(
            new CounterQuery(MetricPeriod.Day, month, month.AddMonths(1).AddDays(-1), new Dictionary<CounterDimension, IReadOnlyList<string?>>(), CounterNames.Dimensions, ByMonth: false),
            cancellationToken);
        foreach (var row in rows) row.Period = month;
        await metrics.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, rows, cancellationToken);
    }

    public void Dispose() => _oneAtATime.Dispose();
}

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
/// halfway through, or a rebuild all give the same numbers.
/// </summary>
public sealed class Aggregator(TallySchema schema, IEventStore store, ItemCatalog items, TimeProvider clock) : IDisposable
{
    public const string LastRunSetting = "aggregation.last_run";
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public async Task<AggregationResult> RunAsync(
        DateOnly? from = null, DateOnly? to = null, bool rebuild = false,
        IProgress<AggregationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        try
        {
            var started = clock.GetTimestamp();
            if (rebuild)
            {
                foreach (var type in schema.Aggregations.Values.Select(a => a.EventType).Concat(schema.CounterTypes).Distinct())
                    await store.MarkDirtyAsync(type, from ?? DateOnly.MinValue, to ?? DateOnly.MaxValue, cancellationToken);
            }

            var rawDataFrom = new Dictionary<string, DateOnly?>();
            foreach (var type in schema.EventTypes.Values)
                rawDataFrom[type.Name] = await RetentionService.RawDataFromAsync(store, type, cancellationToken);

            // Days whose raw events retention has dropped keep the metrics computed while they existed.
            var marked = await store.GetDirtyDaysAsync(cancellationToken);
            var expired = marked.Where(d => rawDataFrom.GetValueOrDefault(d.EventType) is { } first && d.Day < first).ToList();
            var dirty = marked
                .Where(d => (from is null || d.Day >= from) && (to is null || d.Day <= to) && schema.EventTypes.ContainsKey(d.EventType))
                .Except(expired)
                .OrderBy(d => d.Day).ToList();

            long events = 0;
            var months = new HashSet<(AggregationDefinition, DateOnly)>();
            for (var i = 0; i < dirty.Count; i++)
            {
                var type = schema.EventTypes[dirty[i].EventType];
                progress?.Report(new AggregationProgress(i, dirty.Count, $"{type.Name} {dirty[i].Day:yyyy-MM-dd}"));
                events += await AggregateDayAsync(type, dirty[i].Day, months, cancellationToken);
            }

            foreach (var (aggregation, month) in months)
                await RollUpMonthAsync(aggregation, month, cancellationToken);

            // COUNTER metrics span types (a request is also an investigation), so a day is redone from all of them.
            var counterTypes = schema.CounterTypes.ToList();
            var counterDays = dirty.Where(d => schema.EventTypes[d.EventType].Counter != CounterRole.None).Select(d => d.Day).Distinct()
                .Where(day => counterTypes.All(t => rawDataFrom[t.Name] is not { } first || day >= first)).ToList();
            var counterMonths = new SortedSet<DateOnly>();
            // Item metadata is merged over the whole run and written once: a rebuild of a year writes each item once, not daily.
            var metadata = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
            foreach (var day in counterDays)
            {
                progress?.Report(new AggregationProgress(dirty.Count, dirty.Count, $"COUNTER {day:yyyy-MM-dd}"));
                await AggregateCounterDayAsync(counterTypes, day, metadata, cancellationToken);
                counterMonths.Add(new DateOnly(day.Year, day.Month, 1));
            }
            await items.MergeAsync(metadata.Values, cancellationToken);
            foreach (var month in counterMonths)
                await RollUpCounterMonthAsync(month, cancellationToken);

            await store.ClearDirtyAsync([.. dirty, .. expired], cancellationToken);
            await store.SetSettingAsync(LastRunSetting, clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), cancellationToken);
            progress?.Report(new AggregationProgress(dirty.Count, dirty.Count, "done"));
            var monthsRecomputed = months.Select(m => m.Item2).Concat(counterMonths).Distinct().Count();
            return new AggregationResult(dirty.Count, monthsRecomputed, events, clock.GetElapsedTime(started));
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private async Task<long> AggregateDayAsync(EventType type, DateOnly day, HashSet<(AggregationDefinition, DateOnly)> months, CancellationToken cancellationToken)
    {
        var aggregations = schema.AggregationsOf(type).ToList();
        if (aggregations.Count == 0) return 0;
        var calculators = aggregations.Select(a => new DayCalculator(a, day)).ToList();
        var fields = aggregations.SelectMany(a => a.GroupBy.Concat(a.SumFields)).Distinct().ToList();
        var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        long count = 0;
        await foreach (var e in store.ScanAsync(type, start, start.AddDays(1), fields, cancellationToken))
        {
            foreach (var calculator in calculators) calculator.Add(e);
            count++;
        }
        for (var i = 0; i < aggregations.Count; i++)
        {
            await store.ReplaceMetricsAsync(aggregations[i], MetricPeriod.Day, day, calculators[i].Rows(), cancellationToken);
            months.Add((aggregations[i], new DateOnly(day.Year, day.Month, 1)));
        }
        return count;
    }

    /// <summary>A month is the sum of its days: ids are salted per day, so uniques never span two days.</summary>
    private async Task RollUpMonthAsync(AggregationDefinition aggregation, DateOnly month, CancellationToken cancellationToken)
    {
        var rows = await store.ReadMetricsAsync(
            new MetricQuery(aggregation, MetricPeriod.Day, month, month.AddMonths(1).AddDays(-1), [], ByPeriod: false, aggregation.GroupBy),
            cancellationToken);
        foreach (var row in rows) row.Period = month;
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Month, month, rows, cancellationToken);
    }

    private async Task AggregateCounterDayAsync(
        IReadOnlyList<EventType> types, DateOnly day, Dictionary<string, ItemMetadata> metadata, CancellationToken cancellationToken)
    {
        var calculator = new CounterDayCalculator(day);
        var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        foreach (var type in types)
        {
            var reader = new ItemMetadataReader(type);
            await foreach (var e in store.ScanAsync(type, start, start.AddDays(1), CounterDayCalculator.FieldsNeeded(type), cancellationToken))
            {
                calculator.Add(e);
                var (item, title) = reader.Read(e);
                if (item is not null) Remember(metadata, item);
                if (title is not null) Remember(metadata, title);
            }
        }
        await store.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, calculator.Rows(), cancellationToken);
    }

    /// <summary>Keeps one merged record per id, so metadata costs memory per item, not per event.</summary>
    private static void Remember(Dictionary<string, ItemMetadata> known, ItemMetadata record) =>
        known[record.Id] = known.TryGetValue(record.Id, out var existing) ? existing.MergedWith(record) : record;

    private async Task RollUpCounterMonthAsync(DateOnly month, CancellationToken cancellationToken)
    {
        var rows = await store.ReadCounterMetricsAsync(
            new CounterQuery(MetricPeriod.Day, month, month.AddMonths(1).AddDays(-1), new Dictionary<CounterDimension, IReadOnlyList<string?>>(), CounterNames.Dimensions, ByMonth: false),
            cancellationToken);
        foreach (var row in rows) row.Period = month;
        await store.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, rows, cancellationToken);
    }

    public void Dispose() => _oneAtATime.Dispose();
}

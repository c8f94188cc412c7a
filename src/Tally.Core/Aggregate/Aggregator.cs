using System.Globalization;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Retention;
using Tally.Core.Store;

namespace Tally.Core.Aggregate;

public sealed record AggregationProgress(int DaysDone, int DaysTotal, string Current);

/// <param name="Days">Type-days recomputed.</param>
/// <param name="Months">Distinct calendar months rolled up again: months that have ended (see <see cref="OpenMonths"/>).</param>
/// <param name="CounterMonths">The months whose COUNTER metrics were recomputed, so whose reports may have changed.</param>
public sealed record AggregationResult(int Days, int Months, long Events, TimeSpan Elapsed, IReadOnlyList<DateOnly> CounterMonths);

/// <summary>
/// Rolls raw events up into daily then monthly metrics. Incremental: it recomputes only the days the
/// store has marked as having received events since the last run (late events included), and the
/// months those days fall in. The engine computes (<see cref="IMetricComputer"/>), a month's days at a time;
/// each day is recomputed whole from raw events, so a re-run, a crash halfway through, or a rebuild all give
/// the same numbers. <paramref name="observers"/> hear when a run begins and ends.
/// </summary>
/// <remarks>
/// A month is rolled up into monthly rows once it has ended (<see cref="OpenMonths"/>); until then readers take its
/// days. So a run after new events costs what their days cost, not a rewrite of the whole month's rows each time.
/// </remarks>
public sealed class Aggregator(
    TallySchema schema, IAggregationQueue queue, IMetricComputer computer, ISettingStore settings, ItemCatalog items, TimeProvider clock,
    IEnumerable<IAggregationObserver>? observers = null) : IDisposable
{
    private readonly IAggregationObserver[] _observers = [.. observers ?? []];
    public const string LastRunSetting = "aggregation.last_run";
    private const string CounterMonthVersionPrefix = "counter.version.";
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
            // Item metadata is merged over the whole run and written once: a rebuild of a year writes each item once, not monthly.
            var metadata = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
            // A month's dirty days go to the engine together, so that it can work on them at once.
            // A month still going is listed as open before its days change, so readers take its days from then on.
            var thisMonth = OpenMonths.Of(DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime));
            var open = await OpenMonths.ReadAsync(settings, cancellationToken);
            var listed = open.Count;
            open.UnionWith(dirty.Select(d => OpenMonths.Of(d.Day)).Where(m => m >= thisMonth));
            if (open.Count != listed) await OpenMonths.WriteAsync(settings, open, cancellationToken);

            foreach (var monthMarks in dirty.GroupBy(d => OpenMonths.Of(d.Day)))
            {
                var month = monthMarks.Key;
                progress?.Report(new AggregationProgress(done, dirty.Count, $"{month:yyyy-MM}"));
                foreach (var typeMarks in monthMarks.GroupBy(d => d.EventType))
                {
                    var type = schema.EventTypes[typeMarks.Key];
                    var aggregations = schema.AggregationsOf(type).ToList();
                    if (aggregations.Count == 0) continue;
                    events += await computer.ComputeDaysAsync(type, aggregations, [.. typeMarks.Select(d => d.Day)], schema.Referrers, cancellationToken);
                    foreach (var aggregation in aggregations) months.Add((aggregation, month));
                }
                // COUNTER metrics span types (a request is also an investigation), so a COUNTER day is redone from all of them.
                List<DateOnly> counterDays = [.. monthMarks.Where(d => schema.EventTypes[d.EventType].Counter != CounterRole.None && CounterDataKept(d.Day)).Select(d => d.Day).Distinct()];
                if (counterDays.Count > 0)
                {
                    await computer.ComputeCounterDaysAsync(counterTypes, counterDays, cancellationToken);
                    counterMonths.Add(month);
                    foreach (var type in counterTypes)
                    {
                        var reader = new ItemMetadataReader(type);
                        await foreach (var stated in computer.ReadStatedMetadataAsync(type, counterDays, cancellationToken))
                        {
                            var (item, title) = reader.Read(stated);
                            if (item is not null) Remember(metadata, item);
                            if (title is not null) Remember(metadata, title);
                        }
                    }
                }
                done += monthMarks.Count();
            }

            // Months that have ended are rolled up: those recomputed now, and open ones that have since ended, whole.
            List<DateOnly> ended = [.. open.Where(m => m < thisMonth)];
            foreach (var month in ended)
            {
                foreach (var aggregation in schema.Aggregations.Values) months.Add((aggregation, month));
                counterMonths.Add(month);
            }
            List<(AggregationDefinition Aggregation, DateOnly Month)> rolledUp = [.. months.Where(m => m.Item2 < thisMonth)];
            foreach (var byAggregation in rolledUp.GroupBy(m => m.Aggregation))
                await computer.RollUpMonthsAsync(byAggregation.Key, [.. byAggregation.Select(m => m.Month).Order()], cancellationToken);
            await items.MergeAsync(metadata.Values, cancellationToken);
            List<DateOnly> counterRolledUp = [.. counterMonths.Where(m => m < thisMonth)];
            if (counterRolledUp.Count > 0) await computer.RollUpCounterMonthsAsync(counterRolledUp, cancellationToken);
            if (ended.Count > 0)
            {
                open.ExceptWith(ended);
                await OpenMonths.WriteAsync(settings, open, cancellationToken);
            }
            // A new version for each month recomputed, after its rows: whoever cached a report of that month, on any node, sees it is stale.
            foreach (var month in counterMonths)
                await settings.SetSettingAsync(CounterMonthVersionSetting(month), Guid.NewGuid().ToString("N"), cancellationToken);

            await queue.ClearDirtyAsync([.. dirty, .. expired], cancellationToken);
            await settings.SetSettingAsync(LastRunSetting, clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), cancellationToken);
            progress?.Report(new AggregationProgress(dirty.Count, dirty.Count, "done"));
            var monthsRecomputed = rolledUp.Select(m => m.Month).Concat(counterRolledUp).Distinct().Count();
            return result = new AggregationResult(dirty.Count, monthsRecomputed, events, clock.GetElapsedTime(started), [.. counterMonths]);
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

    /// <summary>The setting that changes whenever the COUNTER metrics of <paramref name="month"/> are recomputed.</summary>
    public static string CounterMonthVersionSetting(DateOnly month) =>
        CounterMonthVersionPrefix + month.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>Keeps one merged record per id, so metadata costs memory per item, not per event.</summary>
    private static void Remember(Dictionary<string, ItemMetadata> known, ItemMetadata record) =>
        known[record.Id] = known.TryGetValue(record.Id, out var existing) ? existing.MergedWith(record) : record;

    public void Dispose() => _oneAtATime.Dispose();
}

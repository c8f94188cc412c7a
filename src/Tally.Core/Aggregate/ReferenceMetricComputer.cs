using System.Runtime.CompilerServices;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Aggregate;

/// <summary>
/// The metric rules stated in C#: reads each day's raw events through .NET into <see cref="DayCalculator"/> and
/// <see cref="CounterDayCalculator"/>. Engines compute the same rows in their own SQL; the contract suite compares
/// them with this, row for row, and unit tests of the core run it over in-memory roles.
/// </summary>
public sealed class ReferenceMetricComputer(IRawEventReader raw, IMetricStore metrics) : IMetricComputer
{
    public async Task<long> ComputeDaysAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        long events = 0;
        var fields = aggregations.SelectMany(DayCalculator.FieldsRead).Distinct().ToList();
        foreach (var day in days)
        {
            var calculators = aggregations.Select(a => new DayCalculator(a, day, referrers)).ToList();
            await foreach (var e in ScanDayAsync(type, day, fields, cancellationToken))
            {
                foreach (var calculator in calculators) calculator.Add(e);
                events++;
            }
            for (var i = 0; i < aggregations.Count; i++)
                await metrics.ReplaceMetricsAsync(aggregations[i], MetricPeriod.Day, day, calculators[i].Rows(), cancellationToken);
        }
        return events;
    }

    public async Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken)
    {
        foreach (var day in days)
        {
            var calculator = new CounterDayCalculator(day);
            foreach (var type in types)
            {
                await foreach (var e in ScanDayAsync(type, day, CounterDayCalculator.FieldsNeeded(type), cancellationToken))
                    calculator.Add(e);
            }
            await metrics.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, calculator.Rows(), cancellationToken);
        }
    }

    public async IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(
        EventType type, IReadOnlyList<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fields = ItemMetadataReader.EventFields.Select(type.Field).OfType<FieldDefinition>().ToList();
        var itemId = type.OrdinalOf(WellKnownFields.ItemId);
        if (itemId < 0) yield break;
        var ordinals = fields.Select(f => f.Ordinal).Where(o => o != itemId).ToArray();
        foreach (var day in days)
        {
            var latest = new Dictionary<GroupKey, TallyEvent>();
            await foreach (var e in ScanDayAsync(type, day, fields, cancellationToken))
            {
                if (e.Values[itemId] is null || ordinals.All(o => e.Values[o] is null)) continue;
                var key = new GroupKey([.. fields.Select(f => DayCalculator.Format(e.Values[f.Ordinal]))]);
                if (!latest.TryGetValue(key, out var known) || e.Timestamp > known.Timestamp) latest[key] = e;
            }
            foreach (var e in latest.Values) yield return e;
        }
    }

    public async Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
    {
        foreach (var month in months)
        {
            var rows = await MetricQuery.ReadEveryGroupingAsync(metrics, aggregation, MetricPeriod.Day, month, month.AddMonths(1).AddDays(-1), cancellationToken);
            await metrics.ReplaceMetricsAsync(aggregation, MetricPeriod.Month, month, rows, cancellationToken);
        }
    }

    public async Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
    {
        foreach (var month in months)
        {
            var rows = await metrics.ReadCounterMetricsAsync(
                new CounterQuery(MetricPeriod.Day, month, month.AddMonths(1).AddDays(-1), new Dictionary<CounterDimension, IReadOnlyList<string?>>(), CounterNames.Dimensions, ByMonth: false),
                cancellationToken);
            foreach (var row in rows) row.Period = month;
            await metrics.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, rows, cancellationToken);
        }
    }

    private IAsyncEnumerable<TallyEvent> ScanDayAsync(EventType type, DateOnly day, IReadOnlyList<FieldDefinition> fields, CancellationToken cancellationToken)
    {
        var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        return raw.ScanAsync(type, start, start.AddDays(1), fields, withExtra: false, cancellationToken);
    }
}

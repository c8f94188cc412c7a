using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Query;

/// <summary>
/// Answers stats questions from stored metrics. Whole months inside a range are read from monthly
/// rows and the ragged ends from daily rows, so long ranges stay cheap; a month still open
/// (<see cref="OpenMonths"/>) is read from its days.
/// </summary>
public sealed class StatsService(IMetricStore store, ISettingStore settings)
{
    /// <summary>One row per interval from From to To, zero-filled, in date order.</summary>
    public async Task<IReadOnlyList<MetricRow>> TimelineAsync(AggregationDefinition aggregation, StatsRequest request, CancellationToken cancellationToken)
    {
        var rows = await ReadByPeriodAsync(aggregation, request, cancellationToken);
        var byPeriod = rows.ToDictionary(r => r.Period);
        var timeline = new List<MetricRow>();
        for (var period = BucketOf(request.From, request.Interval); period <= request.To; period = Next(period, request.Interval))
            timeline.Add(byPeriod.GetValueOrDefault(period) ?? new MetricRow(period, [], aggregation.SumFields.Count));
        return timeline;
    }

    /// <summary>The first and last days the aggregation has metrics for, or null when it has none: where an empty range should look instead.</summary>
    public Task<(DateOnly First, DateOnly Last)?> DaysWithDataAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        store.GetMetricDaysAsync(aggregation, cancellationToken);

    /// <summary>Totals per value of the group-by fields, highest metric first, paged by Count and Offset: ranked by the engine.</summary>
    public async Task<RankedMetrics> RankAsync(
        AggregationDefinition aggregation, IReadOnlyList<FieldDefinition> groupBy, MetricSelector metric, StatsRequest request, CancellationToken cancellationToken) =>
        await store.RankMetricsAsync(await PartsAsync(aggregation, request, byPeriod: false, groupBy, cancellationToken), metric, request.Offset, request.Count, cancellationToken);

    /// <summary>
    /// The stored rows a request covers: whole months from monthly rows, except open months (<see cref="OpenMonths"/>),
    /// whose monthly rows wait for the month to end; those, the ragged ends, and every day of a daily timeline from daily rows.
    /// </summary>
    /// <exception cref="QueryParameterException">The aggregation keeps no metrics for the filters and group field together.</exception>
    private async Task<List<MetricQuery>> PartsAsync(
        AggregationDefinition aggregation, StatsRequest request, bool byPeriod, IReadOnlyList<FieldDefinition> groupBy, CancellationToken cancellationToken)
    {
        StatsRequest.RequireKept(aggregation, request.Filters, groupBy.Select(f => f.Name));
        var parts = new List<MetricQuery>();
        void Add(MetricPeriod period, DateOnly from, DateOnly to)
        {
            if (from <= to) parts.Add(new MetricQuery(aggregation, period, from, to, request.Filters, byPeriod, groupBy));
        }
        var firstWholeMonth = request.From.Day == 1 ? request.From : OpenMonths.Of(request.From).AddMonths(1);
        var afterLastWholeMonth = OpenMonths.Of(request.To);
        if (request.To == afterLastWholeMonth.AddMonths(1).AddDays(-1)) afterLastWholeMonth = afterLastWholeMonth.AddMonths(1);
        if ((byPeriod && request.Interval == Interval.Day) || firstWholeMonth >= afterLastWholeMonth)
        {
            Add(MetricPeriod.Day, request.From, request.To);
            return parts;
        }
        Add(MetricPeriod.Day, request.From, firstWholeMonth.AddDays(-1));
        var open = await OpenMonths.ReadAsync(settings, cancellationToken);
        foreach (var (first, last, isOpen) in OpenMonths.Runs(firstWholeMonth, afterLastWholeMonth.AddMonths(-1), open))
            Add(isOpen ? MetricPeriod.Day : MetricPeriod.Month, first, last.AddMonths(1).AddDays(-1));
        Add(MetricPeriod.Day, afterLastWholeMonth, request.To);
        return parts;
    }

    /// <summary>The request's totals per interval: a timeline has a few hundred rows at most, so its parts merge here.</summary>
    private async Task<List<MetricRow>> ReadByPeriodAsync(AggregationDefinition aggregation, StatsRequest request, CancellationToken cancellationToken)
    {
        var merged = new Dictionary<DateOnly, MetricRow>();
        foreach (var part in await PartsAsync(aggregation, request, byPeriod: true, [], cancellationToken))
        {
            foreach (var row in await store.ReadMetricsAsync(part, cancellationToken))
            {
                var period = BucketOf(row.Period, request.Interval);
                if (merged.TryGetValue(period, out var existing)) existing.Add(row);
                else
                {
                    row.Period = period;
                    merged[period] = row;
                }
            }
        }
        return merged.Values.ToList();
    }

    private static DateOnly BucketOf(DateOnly day, Interval interval) =>
        interval == Interval.Month ? OpenMonths.Of(day) : day;

    private static DateOnly Next(DateOnly period, Interval interval) =>
        interval == Interval.Month ? period.AddMonths(1) : period.AddDays(1);
}

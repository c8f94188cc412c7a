using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Query;

/// <summary>
/// Answers stats questions from stored metrics. Whole months inside a range are read from monthly
/// rows and the ragged ends from daily rows, so long ranges stay cheap.
/// </summary>
public sealed class StatsService(IMetricStore store)
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
    public Task<RankedMetrics> RankAsync(
        AggregationDefinition aggregation, IReadOnlyList<FieldDefinition> groupBy, MetricSelector metric, StatsRequest request, CancellationToken cancellationToken) =>
        store.RankMetricsAsync(Parts(aggregation, request, byPeriod: false, groupBy), metric, request.Offset, request.Count, cancellationToken);

    /// <summary>The stored rows a request covers: whole months from monthly rows, the ragged ends (or every day of a daily timeline) from daily rows.</summary>
    /// <exception cref="QueryParameterException">The aggregation keeps no metrics for the filters and group field together.</exception>
    private static List<MetricQuery> Parts(AggregationDefinition aggregation, StatsRequest request, bool byPeriod, IReadOnlyList<FieldDefinition> groupBy)
    {
        StatsRequest.RequireKept(aggregation, request.Filters, groupBy.Select(f => f.Name));
        var parts = new List<MetricQuery>();
        if (byPeriod && request.Interval == Interval.Day)
        {
            parts.Add(new MetricQuery(aggregation, MetricPeriod.Day, request.From, request.To, request.Filters, true, groupBy));
        }
        else
        {
            var firstWholeMonth = request.From.Day == 1 ? request.From : new DateOnly(request.From.Year, request.From.Month, 1).AddMonths(1);
            var afterLastWholeMonth = new DateOnly(request.To.Year, request.To.Month, 1);
            if (request.To == afterLastWholeMonth.AddMonths(1).AddDays(-1)) afterLastWholeMonth = afterLastWholeMonth.AddMonths(1);
            if (firstWholeMonth < afterLastWholeMonth)
            {
                parts.Add(new MetricQuery(aggregation, MetricPeriod.Month, firstWholeMonth, afterLastWholeMonth.AddDays(-1), request.Filters, byPeriod, groupBy));
                if (request.From < firstWholeMonth)
                    parts.Add(new MetricQuery(aggregation, MetricPeriod.Day, request.From, firstWholeMonth.AddDays(-1), request.Filters, byPeriod, groupBy));
                if (afterLastWholeMonth <= request.To)
                    parts.Add(new MetricQuery(aggregation, MetricPeriod.Day, afterLastWholeMonth, request.To, request.Filters, byPeriod, groupBy));
            }
            else
            {
                parts.Add(new MetricQuery(aggregation, MetricPeriod.Day, request.From, request.To, request.Filters, byPeriod, groupBy));
            }
        }
        return parts;
    }

    /// <summary>The request's totals per interval: a timeline has a few hundred rows at most, so its parts merge here.</summary>
    private async Task<List<MetricRow>> ReadByPeriodAsync(AggregationDefinition aggregation, StatsRequest request, CancellationToken cancellationToken)
    {
        var merged = new Dictionary<DateOnly, MetricRow>();
        foreach (var part in Parts(aggregation, request, byPeriod: true, []))
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
        interval == Interval.Month ? new DateOnly(day.Year, day.Month, 1) : day;

    private static DateOnly Next(DateOnly period, Interval interval) =>
        interval == Interval.Month ? period.AddMonths(1) : period.AddDays(1);
}

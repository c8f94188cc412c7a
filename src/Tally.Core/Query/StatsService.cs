using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Query;

public sealed record RankedMetrics(IReadOnlyList<MetricRow> Rows, int TotalGroups);

/// <summary>
/// Answers stats questions from stored metrics. Whole months inside a range are read from monthly
/// rows and the ragged ends from daily rows, so long ranges stay cheap.
/// </summary>
public sealed class StatsService(IMetricStore store)
{
    /// <summary>One row per interval from From to To, zero-filled, in date order.</summary>
    public async Task<IReadOnlyList<MetricRow>> TimelineAsync(AggregationDefinition aggregation, StatsRequest request, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(aggregation, request, byPeriod: true, [], cancellationToken);
        var byPeriod = rows.ToDictionary(r => r.Period);
        var timeline = new List<MetricRow>();
        for (var period = BucketOf(request.From, request.Interval); period <= request.To; period = Next(period, request.Interval))
            timeline.Add(byPeriod.GetValueOrDefault(period) ?? new MetricRow(period, [], aggregation.SumFields.Count));
        return timeline;
    }

    /// <summary>The first and last days the aggregation has metrics for, or null when it has none: where an empty range should look instead.</summary>
    public Task<(DateOnly First, DateOnly Last)?> DaysWithDataAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        store.GetMetricDaysAsync(aggregation, cancellationToken);

    /// <summary>Totals per value of the group-by fields, highest metric first, paged by Count and Offset.</summary>
    public async Task<RankedMetrics> RankAsync(
        AggregationDefinition aggregation, IReadOnlyList<FieldDefinition> groupBy, MetricSelector metric, StatsRequest request, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(aggregation, request, byPeriod: false, groupBy, cancellationToken);
        var page = rows
            .OrderByDescending(r => r.Value(metric))
            .ThenBy(r => string.Join('\u001f', r.Keys), StringComparer.Ordinal)
            .Skip(request.Offset).Take(request.Count).ToList();
        return new RankedMetrics(page, rows.Count);
    }

    private async Task<List<MetricRow>> ReadAsync(
        AggregationDefinition aggregation, StatsRequest request, bool byPeriod, IReadOnlyList<FieldDefinition> groupBy, CancellationToken cancellationToken)
    {
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

        var merged = new Dictionary<(DateOnly, GroupKey), MetricRow>();
        foreach (var part in parts)
        {
            foreach (var row in await store.ReadMetricsAsync(part, cancellationToken))
            {
                var period = byPeriod ? BucketOf(row.Period, request.Interval) : default;
                var key = (period, new GroupKey(row.Keys));
                if (merged.TryGetValue(key, out var existing)) existing.Add(row);
                else
                {
                    row.Period = period;
                    merged[key] = row;
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

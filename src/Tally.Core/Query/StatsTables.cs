using System.Globalization;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Query;

/// <summary>
/// The tables that registered queries answer with. The API returns them as JSON records or CSV,
/// and the CLI prints them, so all three always show the same columns and numbers.
/// </summary>
public sealed class StatsTables(TallySchema schema, StatsService stats, TimeProvider clock)
{
    /// <summary>Today in UTC: where a relative range (days=N) and the query window end.</summary>
    public DateOnly Today => DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);

    /// <summary>A request for <paramref name="query"/> from the parameters as the API and the CLI take them.</summary>
    /// <exception cref="QueryParameterException">A parameter is wrong; it is named.</exception>
    public StatsRequest Parse(QueryDefinition query, IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters) =>
        StatsRequest.Parse(parameters, query.Aggregation, schema.Options, Today);

    /// <summary>Totals per value of the group field (the query's field or the aggregation's first group-by).</summary>
    public async Task<(Table Table, int TotalGroups)> TotalsAsync(QueryDefinition query, StatsRequest request, CancellationToken cancellationToken)
    {
        var aggregation = query.Aggregation;
        var groupField = request.GroupBy ?? query.Field?.Name ?? (aggregation.GroupBy.Count > 0 ? aggregation.GroupBy[0].Name : null);
        IReadOnlyList<FieldDefinition> groupBy = groupField is null ? [] : [aggregation.GroupBy.First(f => f.Name == groupField)];
        var ranked = await stats.RankAsync(aggregation, groupBy, query.Metric, request, cancellationToken);
        var metrics = MetricColumns(aggregation);
        var columns = (groupField is null ? [] : new[] { groupField }).Concat(metrics.Select(c => c.Name)).Append("value").ToList();
        var rows = ranked.Rows.Select(row =>
            (IReadOnlyList<object?>)(groupField is null ? [] : new object?[] { row.Keys[0] }).Concat(Values(row, query, metrics)).ToList()).ToList();
        return (new Table(columns, rows), ranked.TotalGroups);
    }

    /// <summary>One row per day or month of the request, zero-filled.</summary>
    public async Task<Table> TimelineAsync(QueryDefinition query, StatsRequest request, CancellationToken cancellationToken)
    {
        var timeline = await stats.TimelineAsync(query.Aggregation, request, cancellationToken);
        var metrics = MetricColumns(query.Aggregation);
        var columns = new[] { "date", "label" }.Concat(metrics.Select(c => c.Name)).Append("value").ToList();
        var rows = timeline.Select(row =>
        {
            var label = request.Interval == Interval.Month
                ? row.Period.ToString("MMMM yyyy", CultureInfo.InvariantCulture)
                : row.Period.ToString("d MMMM yyyy", CultureInfo.InvariantCulture);
            return (IReadOnlyList<object?>)new object?[] { row.Period, label }.Concat(Values(row, query, metrics)).ToList();
        }).ToList();
        return new Table(columns, rows);
    }

    public static string MetricName(MetricSelector metric, AggregationDefinition aggregation) => metric.Kind switch
    {
        MetricKind.Count => "count",
        MetricKind.UniqueVisitors => "unique_visitors",
        MetricKind.UniqueSessions => "unique_sessions",
        MetricKind.Sum => $"sum:{aggregation.SumFields[metric.SumIndex].Name}",
        _ => $"avg:{aggregation.SumFields[metric.SumIndex].Name}",
    };

    private sealed record MetricColumn(string Name, MetricSelector Metric);

    private static List<MetricColumn> MetricColumns(AggregationDefinition aggregation)
    {
        var columns = new List<MetricColumn>
        {
            new("count", MetricSelector.Count),
            new("unique_visitors", new MetricSelector(MetricKind.UniqueVisitors, -1)),
            new("unique_sessions", new MetricSelector(MetricKind.UniqueSessions, -1)),
        };
        for (var i = 0; i < aggregation.SumFields.Count; i++)
        {
            columns.Add(new($"sum_{aggregation.SumFields[i].Name}", new MetricSelector(MetricKind.Sum, i)));
            columns.Add(new($"avg_{aggregation.SumFields[i].Name}", new MetricSelector(MetricKind.Avg, i)));
        }
        return columns;
    }

    /// <summary>Each metric column, then "value": the query's own metric.</summary>
    private static IEnumerable<object?> Values(MetricRow row, QueryDefinition query, List<MetricColumn> metrics) =>
        metrics.Select(c => (object?)row.Value(c.Metric)).Append(row.Value(query.Metric));
}

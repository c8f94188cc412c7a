using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;
using Tally.Server.Runtime;

namespace Tally.Server.Api;

/// <summary>Registered queries: Invenio's POST /stats, and PKP-style totals and timeline.</summary>
public static class StatsEndpoints
{
    public static void MapStatsEndpoints(this IEndpointRouteBuilder app, TallyRuntime runtime)
    {
        app.MapPost("/api/v1/stats", (HttpContext context, JsonElement body, CancellationToken cancellationToken) => PostStatsAsync(context, body, runtime, cancellationToken))
            .WithName("QueryStats")
            .WithSummary("Invenio-style: {alias: {stat, params}} answered as {alias: result} with registered queries.")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/stats/{query}/totals", (HttpContext context, string query, CancellationToken cancellationToken) =>
                WithQueryAsync(context, runtime, query, (definition, request) => TotalsAsync(context, runtime, definition, request, cancellationToken)))
            .WithName("StatsTotals")
            .WithSummary("Totals per group (e.g. per item), ranked by the query's metric: dateStart, dateEnd, count, offset, groupBy, field filters.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/api/v1/stats/{query}/timeline", (HttpContext context, string query, CancellationToken cancellationToken) =>
                WithQueryAsync(context, runtime, query, (definition, request) => TimelineAsync(context, runtime, definition, request, cancellationToken)))
            .WithName("StatsTimeline")
            .WithSummary("Metrics per day or month: dateStart, dateEnd, interval, field filters.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/api/v1/stats", () => Results.Json(runtime.Schema.Queries.Values.Select(q => new
            {
                name = q.Name,
                kind = q.Kind == QueryKind.Terms ? "terms" : "date-histogram",
                aggregation = q.Aggregation.Name,
                event_type = q.Aggregation.EventType.Name,
                metric = MetricName(q.Metric, q.Aggregation),
                field = q.Field?.Name,
                filters = q.Aggregation.GroupBy.Select(f => f.Name),
            })))
            .WithName("ListQueries")
            .WithSummary("The registered queries and the filters each accepts.");
    }

    private static async Task<IResult> WithQueryAsync(HttpContext context, TallyRuntime runtime, string name, Func<QueryDefinition, StatsRequest, Task<IResult>> answer)
    {
        if (!runtime.Schema.Queries.TryGetValue(name, out var query))
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown query",
                detail: $"'{name}' is not a registered query; GET /api/v1/stats lists them.");
        try
        {
            var parameters = context.Request.Query.Select(p =>
                new KeyValuePair<string, IReadOnlyList<string>>(p.Key, p.Value.Where(v => v is not null).Select(v => v!).ToList()));
            return await answer(query, StatsRequest.Parse(parameters, query.Aggregation, Today(runtime)));
        }
        catch (StatsRequestException e)
        {
            return Problem(e.Parameter, e.Problem);
        }
    }

    private static async Task<IResult> TotalsAsync(HttpContext context, TallyRuntime runtime, QueryDefinition query, StatsRequest request, CancellationToken cancellationToken)
    {
        var aggregation = query.Aggregation;
        var groupField = request.GroupBy ?? query.Field?.Name ?? aggregation.GroupBy.FirstOrDefault()?.Name;
        IReadOnlyList<FieldDefinition> groupBy = groupField is null ? [] : [aggregation.GroupBy.First(f => f.Name == groupField)];
        var ranked = await runtime.Stats.RankAsync(aggregation, groupBy, query.Metric, request, cancellationToken);
        var columns = MetricColumns(aggregation);
        var items = ranked.Rows.Select(row =>
        {
            var item = new Dictionary<string, object?>();
            if (groupField is not null) item[groupField] = row.Keys[0];
            AddMetrics(item, row, query, columns);
            return item;
        }).ToList();
        var tableColumns = (groupField is null ? [] : new[] { groupField }).Concat(columns.Select(c => c.Name)).Append("value").ToList();
        return Tabular.Respond(context.Request, new { itemsMax = ranked.TotalGroups, items },
            () => new Table(tableColumns, items.Select(i => (IReadOnlyList<object?>)tableColumns.Select(c => i.GetValueOrDefault(c)).ToList())));
    }

    private static async Task<IResult> TimelineAsync(HttpContext context, TallyRuntime runtime, QueryDefinition query, StatsRequest request, CancellationToken cancellationToken)
    {
        var timeline = await runtime.Stats.TimelineAsync(query.Aggregation, request, cancellationToken);
        var columns = MetricColumns(query.Aggregation);
        var points = timeline.Select(row =>
        {
            var point = new Dictionary<string, object?>
            {
                ["date"] = row.Period,
                ["label"] = request.Interval == Interval.Month
                    ? row.Period.ToString("MMMM yyyy", CultureInfo.InvariantCulture)
                    : row.Period.ToString("d MMMM yyyy", CultureInfo.InvariantCulture),
            };
            AddMetrics(point, row, query, columns);
            return point;
        }).ToList();
        var tableColumns = new[] { "date", "label" }.Concat(columns.Select(c => c.Name)).Append("value").ToList();
        return Tabular.Respond(context.Request, points,
            () => new Table(tableColumns, points.Select(p => (IReadOnlyList<object?>)tableColumns.Select(c => p.GetValueOrDefault(c)).ToList())));
    }

    private static async Task<IResult> PostStatsAsync(HttpContext context, JsonElement body, TallyRuntime runtime, CancellationToken cancellationToken)
    {
        if (body.ValueKind != JsonValueKind.Object)
            return Problem("$", "the body must be an object of the form {\"alias\": {\"stat\": \"query-name\", \"params\": {...}}}");
        var results = new Dictionary<string, object>();
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var entry in body.EnumerateObject())
        {
            var alias = entry.Name;
            if (entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("stat", out var stat) || stat.ValueKind != JsonValueKind.String)
                return Problem($"{alias}.stat", "is required and must name a registered query");
            if (!runtime.Schema.Queries.TryGetValue(stat.GetString()!, out var query))
                return Problem($"{alias}.stat", $"'{stat.GetString()}' is not a registered query; GET /api/v1/stats lists them");
            StatsRequest request;
            try
            {
                request = StatsRequest.Parse(ReadParams(entry.Value, alias), query.Aggregation, Today(runtime));
            }
            catch (StatsRequestException e)
            {
                return Problem($"{alias}.params.{e.Parameter}", e.Problem);
            }
            catch (FormatException e)
            {
                return Problem($"{alias}.params", e.Message);
            }

            if (query.Kind == QueryKind.DateHistogram)
            {
                var timeline = await runtime.Stats.TimelineAsync(query.Aggregation, request, cancellationToken);
                var buckets = timeline.Select(row => new
                {
                    key = new DateTimeOffset(row.Period.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeMilliseconds(),
                    date = row.Period.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    value = row.Value(query.Metric),
                }).ToList();
                results[alias] = new { type = "bucket", key_type = "date", interval = request.Interval == Interval.Month ? "month" : "day", buckets };
                rows.AddRange(buckets.Select(b => (IReadOnlyList<object?>)[alias, b.date, b.value]));
            }
            else
            {
                var ranked = await runtime.Stats.RankAsync(query.Aggregation, [query.Field!], query.Metric, request, cancellationToken);
                var buckets = ranked.Rows.Select(row => new { key = row.Keys[0], value = row.Value(query.Metric) }).ToList();
                results[alias] = new { type = "bucket", key_type = "terms", field = query.Field!.Name, buckets };
                rows.AddRange(buckets.Select(b => (IReadOnlyList<object?>)[alias, b.key, b.value]));
            }
        }
        return Tabular.Respond(context.Request, results, () => new Table(["alias", "key", "value"], rows));
    }

    /// <summary>Invenio params: strings, numbers, or arrays of them for repeatable filters.</summary>
    private static IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> ReadParams(JsonElement query, string alias)
    {
        if (!query.TryGetProperty("params", out var parameters) || parameters.ValueKind == JsonValueKind.Null) yield break;
        if (parameters.ValueKind != JsonValueKind.Object) throw new FormatException("must be an object");
        foreach (var p in parameters.EnumerateObject())
        {
            IReadOnlyList<string> values = p.Value.ValueKind == JsonValueKind.Array
                ? p.Value.EnumerateArray().Select(v => Scalar(v, alias, p.Name)).ToList()
                : [Scalar(p.Value, alias, p.Name)];
            yield return new(p.Name, values);
        }
    }

    private static string Scalar(JsonElement value, string alias, string name) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => throw new FormatException($"'{name}' must be a string, number or array of them"),
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

    private static void AddMetrics(Dictionary<string, object?> target, MetricRow row, QueryDefinition query, List<MetricColumn> columns)
    {
        foreach (var column in columns) target[column.Name] = row.Value(column.Metric);
        target["value"] = row.Value(query.Metric);
    }

    private static string MetricName(MetricSelector metric, AggregationDefinition aggregation) => metric.Kind switch
    {
        MetricKind.Count => "count",
        MetricKind.UniqueVisitors => "unique_visitors",
        MetricKind.UniqueSessions => "unique_sessions",
        MetricKind.Sum => $"sum:{aggregation.SumFields[metric.SumIndex].Name}",
        _ => $"avg:{aggregation.SumFields[metric.SumIndex].Name}",
    };

    private static DateOnly Today(TallyRuntime runtime) => DateOnly.FromDateTime(runtime.Clock.GetUtcNow().UtcDateTime);

    internal static IResult Problem(string field, string problem) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] }, detail: $"'{field}' {problem}");
}

using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;

namespace Tally.Server.Api;

/// <summary>Registered queries: Invenio's POST /stats, and PKP-style totals and timeline.</summary>
public static class StatsEndpoints
{
    /// <summary>What every stats answer's unique counts mean; the dashboard says the same beside its figure.</summary>
    private const string UniqueVisitorsRule =
        "unique_visitors and unique_sessions are distinct within each day for the groups and filters asked: one visitor reading " +
        "five items on a day is one visitor of the site that day. Visitor ids are salted daily and never linked across days " +
        "(as Plausible does), so a visitor on two days counts on each, and a range's figure is the sum of its days. A filter " +
        "listing several values (or a not_ filter) adds the visitors of each value it keeps.";

    public static void MapStatsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/stats", async (HttpContext context, TallySchema schema, StatsTables tables, StatsService stats, CancellationToken cancellationToken) =>
            {
                using var body = await RequestBody.ReadJsonAsync(context.Request, schema.Options, cancellationToken);
                return await PostStatsAsync(context, body.RootElement, schema, tables, stats, cancellationToken);
            })
            .Accepts<JsonElement>("application/json")
            .WithName("QueryStats")
            .WithDescription(UniqueVisitorsRule)
            .WithSummary("Invenio-style: {alias: {stat, params}} answered as {alias: result} with registered queries.")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/stats/{query}/totals", (HttpContext context, string query, TallySchema schema, StatsTables tables, CancellationToken cancellationToken) =>
                AnswerAsync(context, schema, tables, query, QueryView.Totals, QueryString(context.Request), cancellationToken))
            .WithName("StatsTotals")
            .WithDescription(UniqueVisitorsRule)
            .WithSummary("Totals per group (e.g. per item), ranked by the query's metric: dateStart, dateEnd (or days=N ending dateEnd or today), count, offset, groupBy, field filters.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/api/v1/stats/{query}/timeline", (HttpContext context, string query, TallySchema schema, StatsTables tables, CancellationToken cancellationToken) =>
                AnswerAsync(context, schema, tables, query, QueryView.Timeline, QueryString(context.Request), cancellationToken))
            .WithName("StatsTimeline")
            .WithDescription(UniqueVisitorsRule)
            .WithSummary("Metrics per day or month: dateStart, dateEnd (or days=N ending dateEnd or today), interval, field filters. " +
                "Without dateStart or days, the range ends at dateEnd or today and covers 30 days by day, or by month the last 12 months from the 1st of the first (the current one to date).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/api/v1/stats/{query}/extent", async (string query, TallySchema schema, StatsService stats, CancellationToken cancellationToken) =>
            {
                if (!schema.Queries.TryGetValue(query, out var found)) return UnknownQuery(query);
                var days = await stats.DaysWithDataAsync(found.Aggregation, cancellationToken);
                return Results.Json(new { first = days?.First, last = days?.Last });
            })
            .WithName("StatsExtent")
            .WithSummary("The first and last days the query has data for ({\"first\", \"last\"}, both null before any): where to look when a range comes back empty, as after importing old logs.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/api/v1/stats", (TallySchema schema) => Results.Json(schema.Queries.Values.Select(q => new
            {
                name = q.Name,
                kind = q.Kind == QueryKind.Terms ? "terms" : "date-histogram",
                aggregation = q.Aggregation.Name,
                event_type = q.Aggregation.EventType.Name,
                metric = StatsTables.MetricName(q.Metric, q.Aggregation),
                field = q.Field?.Name,
                filters = q.Aggregation.GroupBy.Select(f => f.Name),
                // The widest combinations of filters and group field asked together that have metrics.
                groupings = q.Aggregation.WidestGroupings(),
                include_robots = q.Aggregation.IncludeRobots,
            })))
            .WithName("ListQueries")
            .WithSummary("The registered queries, the filters each accepts, and which of them (with the group field) may be asked together.");
    }

    /// <summary>A registered query's timeline or totals, as JSON or CSV: what /api/v1/stats/{query}/{view} and saved queries answer.</summary>
    internal static async Task<IResult> AnswerAsync(
        HttpContext context, TallySchema schema, StatsTables tables, string name, QueryView view,
        IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters, CancellationToken cancellationToken)
    {
        if (!schema.Queries.TryGetValue(name, out var query)) return UnknownQuery(name);
        var request = tables.Parse(query, parameters);
        if (view == QueryView.Timeline)
        {
            var timeline = await tables.TimelineAsync(query, request, cancellationToken);
            return Tabular.Respond(context.Request, timeline.Records(), timeline);
        }
        var (table, totalGroups) = await tables.TotalsAsync(query, request, cancellationToken);
        return Tabular.Respond(context.Request, new { itemsMax = totalGroups, items = table.Records() }, table);
    }

    private static IResult UnknownQuery(string name) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown query", detail: $"'{name}' is not a registered query; GET /api/v1/stats lists them.");

    internal static IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> QueryString(HttpRequest request) =>
        request.Query.Select(p => new KeyValuePair<string, IReadOnlyList<string>>(p.Key, p.Value.Where(v => v is not null).Select(v => v!).ToList()));

    private static async Task<IResult> PostStatsAsync(
        HttpContext context, JsonElement body, TallySchema schema, StatsTables tables, StatsService stats, CancellationToken cancellationToken)
    {
        if (body.ValueKind != JsonValueKind.Object)
            return Problems.Field("$", "the body must be an object of the form {\"alias\": {\"stat\": \"query-name\", \"params\": {...}}}");
        var results = new Dictionary<string, object>();
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var entry in body.EnumerateObject())
        {
            var alias = entry.Name;
            if (entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("stat", out var stat) || stat.ValueKind != JsonValueKind.String)
                return Problems.Field($"{alias}.stat", "is required and must name a registered query");
            if (!schema.Queries.TryGetValue(stat.GetString()!, out var query))
                return Problems.Field($"{alias}.stat", $"'{stat.GetString()}' is not a registered query; GET /api/v1/stats lists them");
            StatsRequest request;
            try
            {
                request = tables.Parse(query, ReadParams(entry.Value));
            }
            catch (QueryParameterException e)
            {
                return Problems.Field($"{alias}.params.{e.Parameter}", e.Problem);
            }
            catch (FormatException e)
            {
                return Problems.Field($"{alias}.params", e.Message);
            }

            if (query.Kind == QueryKind.DateHistogram)
            {
                var timeline = await stats.TimelineAsync(query.Aggregation, request, cancellationToken);
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
                var ranked = await stats.RankAsync(query.Aggregation, [query.Field!], query.Metric, request, cancellationToken);
                var buckets = ranked.Rows.Select(row => new { key = row.Keys[0], value = row.Value(query.Metric) }).ToList();
                results[alias] = new { type = "bucket", key_type = "terms", field = query.Field!.Name, buckets };
                rows.AddRange(buckets.Select(b => (IReadOnlyList<object?>)[alias, b.key, b.value]));
            }
        }
        return Tabular.Respond(context.Request, results, new Table(["alias", "key", "value"], rows));
    }

    /// <summary>Invenio params (also a saved query's): strings, numbers, or arrays of them for repeatable filters.</summary>
    /// <exception cref="FormatException">They are not an object of such values.</exception>
    internal static List<KeyValuePair<string, IReadOnlyList<string>>> ReadParams(JsonElement query)
    {
        var list = new List<KeyValuePair<string, IReadOnlyList<string>>>();
        if (!query.TryGetProperty("params", out var parameters) || parameters.ValueKind == JsonValueKind.Null) return list;
        if (parameters.ValueKind != JsonValueKind.Object) throw new FormatException("must be an object");
        foreach (var p in parameters.EnumerateObject())
        {
            IReadOnlyList<string> values = p.Value.ValueKind == JsonValueKind.Array
                ? p.Value.EnumerateArray().Select(v => Scalar(v, p.Name)).ToList()
                : [Scalar(p.Value, p.Name)];
            list.Add(new(p.Name, values));
        }
        return list;
    }

    private static string Scalar(JsonElement value, string name) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => throw new FormatException($"'{name}' must be a string, number or array of them"),
    };
}

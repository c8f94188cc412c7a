using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;
using Tally.Core.Configuration;
using Tally.Core.Query;

namespace Tally.Server.Api;

/// <summary>
/// Saved ("automated") queries: a name for a registered query with its parameters and chart type. Each has
/// an API endpoint answering like the registered query, and a chart page made to be embedded elsewhere.
/// Reading is open like the rest of the stats API; saving and deleting need a write key.
/// </summary>
public static class SavedQueryEndpoints
{
    /// <summary>The charts the dashboard and the embed page can draw a saved query as.</summary>
    public static readonly IReadOnlyList<string> ChartTypes = ["line", "area", "bar", "pie", "table"];
    private static readonly string[] DraftProperties = ["title", "stat", "view", "params", "chart"];

    public static void MapSavedQueryEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/queries", ListAsync)
            .WithName("ListSavedQueries")
            .WithSummary("The saved queries, with the URLs of their results and embeddable charts.");

        app.MapGet("/api/v1/queries/{name}", GetAsync)
            .WithName("GetSavedQuery")
            .WithSummary("One saved query.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapPut("/api/v1/queries/{name}", PutAsync)
            .RequireKey(ApiRole.Write)
            .WithName("PutSavedQuery")
            .WithSummary("Creates (201) or replaces (200) a saved query: {title, stat, view: timeline|totals, params: {name: value or [values]}, chart: line|area|bar|pie|table}. " +
                         "params are the stat's parameters; days=N keeps the range moving with today.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        app.MapDelete("/api/v1/queries/{name}", DeleteAsync)
            .RequireKey(ApiRole.Write)
            .WithName("DeleteSavedQuery")
            .WithSummary("Deletes a saved query.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/api/v1/queries/{name}/result", ResultAsync)
            .WithName("SavedQueryResult")
            .WithSummary("What the saved query's stat answers for its view and params (JSON, or CSV for Accept: text/csv); parameters in the URL override the saved ones.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> ListAsync(SavedQueryCatalog catalog, HttpContext context, CancellationToken cancellationToken)
    {
        var queries = await catalog.ListAsync(cancellationToken);
        var table = new Table(["name", "title", "stat", "view", "chart", "params", "result", "embed", "updated"], queries.Select(q =>
        {
            var (_, result, embed) = Links(q);
            return (IReadOnlyList<object?>)[q.Name, q.Title, q.Stat, ViewName(q.View), q.Chart, QueryStringOf(q), result, embed, q.Updated];
        }).ToList());
        return Tabular.Respond(context.Request, queries.Select(Json), table);
    }

    private static async Task<IResult> GetAsync(SavedQueryCatalog catalog, string name, CancellationToken cancellationToken) =>
        await catalog.GetAsync(name, cancellationToken) is { } query ? Results.Json(Json(query)) : NotFound(name);

    private static async Task<IResult> PutAsync(SavedQueryCatalog catalog, TallySchema schema, string name, HttpContext context, CancellationToken cancellationToken)
    {
        using var body = await RequestBody.ReadJsonAsync(context.Request, schema.Options, cancellationToken);
        try
        {
            var (query, created) = await catalog.SaveAsync(name, ReadDraft(body.RootElement), cancellationToken);
            return created ? Results.Created(Links(query).self, Json(query)) : Results.Json(Json(query));
        }
        catch (SavedQueryException e)
        {
            return Problems.Field(e.Field, e.Problem);
        }
    }

    private static async Task<IResult> DeleteAsync(SavedQueryCatalog catalog, string name, CancellationToken cancellationToken) =>
        await catalog.DeleteAsync(name, cancellationToken) ? Results.NoContent() : NotFound(name);

    private static async Task<IResult> ResultAsync(
        SavedQueryCatalog catalog, TallySchema schema, StatsTables tables, string name, HttpContext context, CancellationToken cancellationToken) =>
        await catalog.GetAsync(name, cancellationToken) is { } query
            ? await StatsEndpoints.AnswerAsync(context, schema, tables, query.Stat, query.View,
                SavedQueryCatalog.Parameters(query, StatsEndpoints.QueryString(context.Request)), cancellationToken)
            : NotFound(name);

    private static SavedQueryDraft ReadDraft(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
            throw new SavedQueryException("body", "must be a JSON object: {\"title\", \"stat\", \"view\", \"params\", \"chart\"}");
        foreach (var property in body.EnumerateObject())
        {
            if (!DraftProperties.Contains(property.Name))
                throw new SavedQueryException(property.Name, $"is not a property of a saved query: {string.Join(", ", DraftProperties)}");
        }
        string? Text(string name) => body.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null => null,
            _ => throw new SavedQueryException(name, "must be a string"),
        } : null;
        List<KeyValuePair<string, IReadOnlyList<string>>> parameters;
        try { parameters = StatsEndpoints.ReadParams(body); }
        catch (FormatException e) { throw new SavedQueryException("params", e.Message); }
        var chart = Text("chart");
        if (chart is null || !ChartTypes.Contains(chart))
            throw new SavedQueryException("chart", $"must be one of {string.Join(", ", ChartTypes)}");
        return new SavedQueryDraft(Text("title"), Text("stat"), Text("view"), parameters, chart);
    }

    private static object Json(SavedQuery query)
    {
        var (self, result, embed) = Links(query);
        return new
        {
            name = query.Name,
            title = query.Title,
            stat = query.Stat,
            view = ViewName(query.View),
            @params = query.Params.ToDictionary(p => p.Key, p => p.Value.Count == 1 ? (object)p.Value[0] : p.Value),
            chart = query.Chart,
            created = query.Created,
            updated = query.Updated,
            links = new { self, result, embed },
        };
    }

    private static (string self, string result, string embed) Links(SavedQuery query)
    {
        var name = Uri.EscapeDataString(query.Name);
        return ($"/api/v1/queries/{name}", $"/api/v1/queries/{name}/result", $"/embed/{name}");
    }

    /// <summary>The params as the stat's query string, without the leading '?'.</summary>
    private static string QueryStringOf(SavedQuery query) =>
        QueryString.Create(query.Params.Select(p => KeyValuePair.Create(p.Key, new StringValues([.. p.Value])))).ToUriComponent().TrimStart('?');

    private static string ViewName(QueryView view) => view == QueryView.Timeline ? "timeline" : "totals";

    private static IResult NotFound(string name) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown saved query", detail: $"No query named '{name}' is saved; GET /api/v1/queries lists them.");
}

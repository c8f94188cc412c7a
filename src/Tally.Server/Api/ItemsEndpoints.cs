using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Server.Api;

/// <summary>Item and title metadata for COUNTER reports: read one, upsert one, or upsert many.</summary>
public static partial class ItemsEndpoints
{
    public const int MaxItemsPerLookup = 100;

    public static void MapItemsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/items", async (HttpRequest request, ItemCatalog items, CancellationToken cancellationToken) =>
            {
                var ids = request.Query["id"].Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).Distinct().ToList();
                if (ids.Count is 0 or > MaxItemsPerLookup) return Problems.Field("id", $"must be given 1 to {MaxItemsPerLookup} times");
                var known = await items.GetAsync(ids, cancellationToken);
                return Results.Json(known.ToDictionary(), ItemMetadataJson.Default.DictionaryStringItemMetadata);
            })
            .WithName("GetItems")
            .WithSummary("The metadata of several items at once (id=a&id=b, up to 100): {id: metadata} for those known; unknown ones are left out rather than a 404.")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/items/{id}", async (string id, ItemCatalog items, CancellationToken cancellationToken) =>
                (await items.GetAsync([id], cancellationToken)).TryGetValue(id, out var item)
                    ? Results.Json(item, ItemMetadataJson.Default.ItemMetadata)
                    : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown item", detail: $"No metadata is known for '{id}'."))
            .WithName("GetItem")
            .WithSummary("The newest known metadata of an item or title.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapPut("/api/v1/items/{id}", async (string id, HttpContext context, ItemCatalog items, TallySchema schema, TimeProvider clock, CancellationToken cancellationToken) =>
            {
                using var document = await RequestBody.ReadJsonAsync(context.Request, schema.Options, cancellationToken);
                if (document.RootElement.ValueKind != JsonValueKind.Object) return Problems.Field("body", "must be a JSON object of item metadata");
                var (item, problem) = Parse(id, document.RootElement, "", clock.GetUtcNow().UtcDateTime);
                if (problem is not null) return problem;
                await items.MergeAsync([item!], cancellationToken);
                return Results.Json((await items.GetAsync([id], cancellationToken))[id], ItemMetadataJson.Default.ItemMetadata);
            })
            .RequireKey(ApiRole.Write)
            .WithName("PutItem")
            .WithSummary("Upserts an item's metadata: the values sent override, the others are kept. Fields: name, data_type, doi, isbn, print_issn, online_issn, uri, publisher, yop, parent_id, authors, publication_date, article_version.")
            .ProducesValidationProblem();

        app.MapPut("/api/v1/items", async (HttpContext context, ItemCatalog catalog, TallySchema schema, TimeProvider clock, CancellationToken cancellationToken) =>
            {
                using var document = await RequestBody.ReadJsonAsync(context.Request, schema.Options, cancellationToken);
                if (document.RootElement.ValueKind != JsonValueKind.Object) return Problems.Field("body", "must be a JSON object mapping item ids to metadata");
                var now = clock.GetUtcNow().UtcDateTime;
                var items = new List<ItemMetadata>();
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    var (item, problem) = Parse(property.Name, property.Value, $"{property.Name}.", now);
                    if (problem is not null) return problem;
                    items.Add(item!);
                }
                await catalog.MergeAsync(items, cancellationToken);
                return Results.Json(new { updated = items.Count });
            })
            .RequireKey(ApiRole.Write)
            .WithName("PutItems")
            .WithSummary("Upserts many items at once: {\"id\": {metadata}, ...}. Nothing is stored unless every item is valid.")
            .ProducesValidationProblem();
    }

    private static (ItemMetadata?, IResult?) Parse(string id, JsonElement json, string prefix, DateTime now)
    {
        if ((id.Length == 0 ? "must not be empty" : StoredText.Problem(id, EventParser.MaxIdLength)) is { } idProblem) return (null, Problems.Field($"{prefix}id", idProblem));
        if (json.ValueKind != JsonValueKind.Object) return (null, Problems.Field(prefix.TrimEnd('.') is { Length: > 0 } p ? p : "body", "must be an object"));
        ItemMetadata item;
        try
        {
            item = json.Deserialize(ItemMetadataJson.Default.ItemMetadata)! with { Id = id, UpdatedAt = now, FieldTimes = null };
        }
        catch (JsonException e)
        {
            var field = e.Path?.TrimStart('$', '.') is { Length: > 0 } path ? path : UnknownProperty(e.Message) ?? "body";
            return (null, Problems.Field($"{prefix}{field}", "is not a known metadata field, or has the wrong type (all values are strings)"));
        }
        if (item.DataType is { } type && !DefaultConfiguration.CounterDataTypes.Contains(type))
            return (null, Problems.Field($"{prefix}data_type", $"'{type}' is not a COUNTER Data_Type: {string.Join(", ", DefaultConfiguration.CounterDataTypes)}"));
        if (item.Yop is { } yop && !Year().IsMatch(yop))
            return (null, Problems.Field($"{prefix}yop", "must be a four-digit year"));
        if (item.ParentId == id)
            return (null, Problems.Field($"{prefix}parent_id", "must not be the item itself"));
        return (item, null);
    }

    /// <summary>System.Text.Json names an unmapped property only in its message.</summary>
    private static string? UnknownProperty(string message) => UnmappedName().Match(message) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex("^[0-9]{4}$")] private static partial Regex Year();
    [GeneratedRegex("property '([^']+)'")] private static partial Regex UnmappedName();
}

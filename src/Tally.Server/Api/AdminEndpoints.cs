using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;
using Tally.Core.Retention;
using Tally.Core.Store;
using Tally.Hosting;

namespace Tally.Server.Api;

/// <summary>Admin tasks on demand (admin key), and what a monitor or client needs to know about the server.</summary>
public static class AdminEndpoints
{
    public static void MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/admin/aggregate", async (HttpRequest request, TallySchema schema, Aggregator aggregator, TimeProvider clock, CancellationToken cancellationToken) =>
            {
                var window = QueryWindow.For(schema.Options, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime));
                var from = ParseDay(request.Query["from"], "from", window);
                var to = ParseDay(request.Query["to"], "to", window);
                if (from > to) return Problems.Field("from", "is after 'to'");
                var rebuild = request.Query["rebuild"] is [var flag] && (flag is "" or "true" or "1");
                var result = await aggregator.RunAsync(from, to, rebuild, cancellationToken: cancellationToken);
                return Results.Json(new
                {
                    days = result.Days,
                    months = result.Months,
                    events = result.Events,
                    elapsed_ms = (long)result.Elapsed.TotalMilliseconds,
                });
            })
            .RequireKey(ApiRole.Admin)
            .WithName("Aggregate")
            .WithSummary("Runs aggregation now and answers when it is done: from, to (yyyy-MM-dd) and rebuild to restate a range.")
            // An admin's job runs to its end: limits.requestTimeoutSeconds bounds what clients ask of the API, not this.
            .DisableRequestTimeout()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        app.MapPost("/api/v1/admin/retention", async (RetentionService retention, CancellationToken cancellationToken) =>
            {
                var result = await retention.RunAsync(cancellationToken);
                return Results.Json(new { dropped_partitions = result.DroppedPartitions, salts_unused_since = result.SaltsUnusedSince });
            })
            .RequireKey(ApiRole.Admin)
            .WithName("Retention")
            .DisableRequestTimeout()
            .WithSummary("Drops raw partitions past each type's retention and salts past the privacy setting.");

        app.MapGet("/api/v1/types", (TallySchema schema) => Results.Json(schema.EventTypes.Values.Select(t => new
            {
                name = t.Name,
                enabled = t.Enabled,
                partition = t.Partition.Name(),
                retention_days = t.RetentionDays,
                fields = t.Fields.Select(f => new { name = f.Name, type = f.Type.ToString().ToLowerInvariant(), required = f.Required }),
                aggregations = schema.AggregationsOf(t).Select(a => a.Name),
            })))
            .WithName("ListTypes")
            .WithSummary("The configured event types, their fields and partitioning.");
    }

    /// <summary>Every role answers /healthz; an ingest node does not use the store, so it reports only that it is up.</summary>
    public static void MapHealthEndpoint(this IEndpointRouteBuilder app, ServerRole serverRole)
    {
        var role = serverRole.ToString().ToLowerInvariant();
        app.MapGet("/healthz", async (IStoreSetup store, ISettingStore settings, TallySchema schema, CancellationToken cancellationToken) =>
            {
                if (serverRole == ServerRole.Ingest) return Results.Json(new { status = "ok", role });
                var problems = await store.CheckAsync(schema, cancellationToken);
                var lastAggregation = await settings.GetSettingAsync(Aggregator.LastRunSetting, cancellationToken);
                return Results.Json(new { status = problems.Count == 0 ? "ok" : "degraded", role, last_aggregation = lastAggregation, problems },
                    statusCode: problems.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
            })
            .WithName("Health")
            .WithSummary("200 when storage matches configuration, 503 with the differences otherwise.");
    }

    private static DateOnly? ParseDay(string? value, string name, QueryWindow window) =>
        string.IsNullOrEmpty(value) ? null
        : DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? window.Check(name, day)
        : throw new QueryParameterException(name, "must be a date as yyyy-MM-dd");
}

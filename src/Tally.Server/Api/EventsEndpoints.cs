using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tally.Amqp;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;
using Tally.Core.Store;
using Tally.Server.Runtime;
using Tally.Sources.Amqp;

namespace Tally.Server.Api;

/// <summary>POST events in (write key), GET raw anonymized events out (open, datagrepper style).</summary>
public static class EventsEndpoints
{
    public static void MapPostEventsEndpoint(this IEndpointRouteBuilder app, TallyRuntime runtime) =>
        app.MapPost("/api/v1/events", (HttpContext context, CancellationToken cancellationToken) => PostAsync(context, runtime, cancellationToken))
            .AddEndpointFilter(new ApiKeyFilter(runtime.Schema, ApiRole.Write))
            .WithName("PostEvents")
            .WithSummary("Send one event, a JSON array of events, or NDJSON. Answers 202 once the events are durably stored (or, on an ingest node, durably queued).")
            .Produces(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static void MapGetEventsEndpoint(this IEndpointRouteBuilder app, TallyRuntime runtime) =>
        app.MapGet("/api/v1/events", (HttpContext context, CancellationToken cancellationToken) => GetAsync(context, runtime, cancellationToken))
            .WithName("GetEvents")
            .WithSummary("Raw anonymized events: start/end/delta, type, field filters and not_FIELD, page, rows_per_page, order.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest);

    private static async Task<IResult> PostAsync(HttpContext context, TallyRuntime runtime, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(context.Request, runtime.Schema.Options.Ingest.MaxBodyBytes, "ingest.maxBodyBytes", cancellationToken);
        try
        {
            var result = await runtime.Ingest.IngestAsync(body, cancellationToken);
            var rejected = result.Rejections.Select(r => new { index = r.Index, field = r.Field, reason = r.Reason }).ToList();
            if (result.Received > 0 && result.Rejections.Count == result.Received)
            {
                var errors = result.Rejections
                    .GroupBy(r => result.Received == 1 ? r.Field : $"[{r.Index}].{r.Field}")
                    .ToDictionary(g => g.Key, g => g.Select(r => r.Reason).ToArray());
                return Results.ValidationProblem(errors, title: "No event was accepted",
                    detail: string.Join("; ", result.Rejections.Take(5).Select(r => $"event {r.Index}: '{r.Field}' {r.Reason}")),
                    extensions: new Dictionary<string, object?> { ["rejected"] = rejected });
            }
            return Results.Json(new
            {
                received = result.Received,
                stored = result.Stored,
                duplicates = result.Duplicates,
                dropped = result.Dropped,
                queued = result.Queued,
                ids = result.Ids,
                rejected,
            }, statusCode: StatusCodes.Status202Accepted);
        }
        catch (MalformedBodyException e)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed body", detail: e.Message);
        }
        catch (PublishRefusedException e)
        {
            // Nothing of this request is known to be queued; the client retries with the same ids.
            context.Response.Headers.RetryAfter = "5";
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Queue unavailable", detail: e.Message);
        }
        catch (TooManyEventsException e)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too many events",
                detail: $"{e.Message} (ingest.maxEventsPerRequest)");
        }
    }

    private static async Task<IResult> GetAsync(HttpContext context, TallyRuntime runtime, CancellationToken cancellationToken)
    {
        var (query, arguments) = RawEventRequest.Parse(StatsEndpoints.QueryString(context.Request), runtime.Schema, runtime.Clock.GetUtcNow().UtcDateTime);
        var page = await runtime.Store.QueryEventsAsync(query, cancellationToken);
        var pages = (int)((page.Total + query.RowsPerPage - 1) / query.RowsPerPage);
        var json = new
        {
            raw_messages = page.Events.Select(e => RawMessage(e, runtime.Schema)).ToList(),
            total = page.Total,
            pages,
            count = page.Events.Count,
            arguments,
        };
        return Tabular.Respond(context.Request, json, RawTable(page.Events, query.Types, runtime.Schema));
    }

    /// <summary>
    /// One event as the open API shows it. Rows stored before the door checked everything may hold an
    /// address or a string that is not text; they are left out or mended here, so such a row never breaks a page.
    /// </summary>
    private static Dictionary<string, object?> RawMessage(TallyEvent e, TallySchema schema)
    {
        var dropIps = !schema.KeepsIpAddresses(e.Type);
        var data = new Dictionary<string, object?>();
        foreach (var field in e.Type.Fields)
        {
            if (Shown(e, field, dropIps) is { } value) data[field.Name] = value;
        }
        if (e.Extra is not null && ExtraValues.ForReading(e.Extra, dropIps) is { } extra)
        {
            foreach (var property in extra.EnumerateObject()) data.TryAdd(property.Name, property.Value);
        }
        return new Dictionary<string, object?>
        {
            ["id"] = e.Id,
            ["type"] = e.Type.Name,
            ["timestamp"] = e.Timestamp,
            ["robot"] = e.IsRobot,
            ["visitor"] = Hex(e.VisitorId),
            ["session"] = Hex(e.SessionId),
            ["data"] = data,
        };
    }

    private static object? Shown(TallyEvent e, FieldDefinition field, bool dropIps) => e.Values[field.Ordinal] switch
    {
        string text when dropIps && (field.Name == WellKnownFields.Ip || StoredText.IsIpAddress(text)) => null,
        string text when StoredText.Problem(text, int.MaxValue) is not null => "\uFFFD",
        var value => value,
    };

    private static Table RawTable(IReadOnlyList<TallyEvent> events, IReadOnlyList<EventType> types, TallySchema schema)
    {
        var fields = types.SelectMany(t => t.Fields).Select(f => f.Name).Distinct().ToList();
        var columns = new List<string> { "id", "type", "timestamp", "robot", "visitor", "session" };
        columns.AddRange(fields);
        return new Table(columns, events.Select(e =>
        {
            var dropIps = !schema.KeepsIpAddresses(e.Type);
            var row = new List<object?> { e.Id, e.Type.Name, e.Timestamp, e.IsRobot, Hex(e.VisitorId), Hex(e.SessionId) };
            row.AddRange(fields.Select(f => e.Type.Field(f) is { } field ? Shown(e, field, dropIps) : null));
            return (IReadOnlyList<object?>)row;
        }).ToList());
    }

    internal static string Hex(long id) => id.ToString("x16", CultureInfo.InvariantCulture);
}

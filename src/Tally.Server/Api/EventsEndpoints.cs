using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
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

/// <summary>POST events in (write key), GET raw anonymized events out (open, datagrepper style), a page at a time or all as an export.</summary>
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

    /// <summary>The raw events API and its export; both open, as the events they serve are anonymized.</summary>
    public static void MapGetEventsEndpoint(this IEndpointRouteBuilder app, TallyRuntime runtime)
    {
        app.MapGet("/api/v1/events", (HttpContext context, CancellationToken cancellationToken) => GetAsync(context, runtime, cancellationToken))
            .WithName("GetEvents")
            .WithSummary("Raw anonymized events, a page at a time: start/end/delta, type, field filters and not_FIELD, robot, page, rows_per_page, order.")
            .WithDescription(RawParameters + " page (from 1) and rows_per_page (1 to 100, default 25) choose the page. Answers JSON, or CSV when Accept prefers text/csv.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/events/export", (HttpContext context, IHostApplicationLifetime lifetime) => ExportAsync(context, runtime, lifetime))
            .WithName("ExportEvents")
            .WithSummary("Every raw anonymized event the raw API's parameters select, streamed as NDJSON or CSV: start/end/delta, type, field filters and not_FIELD, robot, order, format.")
            .WithDescription(RawParameters + " format=ndjson|csv, or else Accept: application/x-ndjson or text/csv, chooses the format (default NDJSON: " +
                "one raw API message a line; CSV: a header row, the envelope, then one column per declared field). The events are those all the raw API's " +
                "pages would list for the same parameters, in the same order, streamed as they are read; page and rows_per_page do not apply. " +
                "limits.requestTimeoutSeconds bounds each wait on the store, not the whole export; an export cut short ends the connection without the end of the response.")
            .Produces<string>(StatusCodes.Status200OK, "application/x-ndjson", "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .DisableRequestTimeout();
    }

    /// <summary>What the raw API and its export both take.</summary>
    private const string RawParameters =
        "start and end (ISO-8601 or seconds since 1970) and delta (seconds; back from end or now, or forward from start; default 600) choose the window, " +
        "at most limits.rawMaxDays long; type (repeatable) the event types; FIELD=VALUE keeps events with one of the values (repeatable), not_FIELD=VALUE " +
        "those with none of them; robot=true keeps only robots, robot=false only the rest (default both); order=desc (newest first, the default) or asc.";

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

    private static async Task ExportAsync(HttpContext context, TallyRuntime runtime, IHostApplicationLifetime lifetime)
    {
        var format = EventExport.Negotiate(context.Request);
        var parameters = StatsEndpoints.QueryString(context.Request).Where(p => p.Key != "format");
        var query = RawEventRequest.ParseExport(parameters, runtime.Schema, runtime.Clock.GetUtcNow().UtcDateTime);
        context.Response.ContentType = EventExport.ContentType(format);
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{EventExport.FileName(format)}\"";
        var budget = TimeSpan.FromSeconds(runtime.Schema.Options.Limits.RequestTimeoutSeconds);
        // Ends when the client goes or the server stops, so an export cannot hold up a shutdown.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            await EventExport.WriteAsync(WithinBudget(runtime.Store.StreamEventsAsync(query, stop.Token), stop, budget),
                query.Types, runtime.Schema, format, context.Response.Body, progress: null, stop.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            // Once rows have gone out, the exception ends the connection instead, so a cut export never looks complete.
            context.Response.Clear();
            await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Over the time budget",
                detail: $"The store gave no events for {budget.TotalSeconds} s (limits.requestTimeoutSeconds), or the server is stopping; the export was stopped.")
                .ExecuteAsync(context);
        }
    }

    /// <summary>
    /// The events as the store gives them, stopped when one wait on the store lasts longer than the time budget. The
    /// budget bounds the store's work for each batch, not the whole export, which lasts as long as there are events
    /// and the client reads them (Kestrel's minimum data rate stops a client that stalls).
    /// </summary>
    private static async IAsyncEnumerable<TallyEvent> WithinBudget(IAsyncEnumerable<TallyEvent> events, CancellationTokenSource stop, TimeSpan budget)
    {
        await using var reading = events.GetAsyncEnumerator(stop.Token);
        while (true)
        {
            // Only the wait for the next event is timed, not the writing of the last one to the client.
            stop.CancelAfter(budget);
            var more = await reading.MoveNextAsync();
            stop.CancelAfter(Timeout.InfiniteTimeSpan);
            if (!more) yield break;
            yield return reading.Current;
        }
    }

    /// <summary>
    /// One event as the open API shows it. Rows stored before the door checked everything may hold an
    /// address or a string that is not text; they are left out or mended here, so such a row never breaks a page.
    /// </summary>
    internal static Dictionary<string, object?> RawMessage(TallyEvent e, TallySchema schema)
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
        var (columns, fields) = RawColumns(types);
        return new Table(columns, [.. events.Select(e => RawRow(e, fields, schema))]);
    }

    /// <summary>The raw table's columns for events of these types: the envelope, then each of their declared fields once.</summary>
    internal static (List<string> Columns, List<string> Fields) RawColumns(IReadOnlyList<EventType> types)
    {
        var fields = types.SelectMany(t => t.Fields).Select(f => f.Name).Distinct().ToList();
        return ([.. (string[])["id", "type", "timestamp", "robot", "visitor", "session"], .. fields], fields);
    }

    /// <summary>One event as a row of the raw table, shown as <see cref="RawMessage"/> shows it.</summary>
    internal static IReadOnlyList<object?> RawRow(TallyEvent e, IReadOnlyList<string> fields, TallySchema schema)
    {
        var dropIps = !schema.KeepsIpAddresses(e.Type);
        var row = new List<object?>(6 + fields.Count) { e.Id, e.Type.Name, e.Timestamp, e.IsRobot, Hex(e.VisitorId), Hex(e.SessionId) };
        row.AddRange(fields.Select(f => e.Type.Field(f) is { } field ? Shown(e, field, dropIps) : null));
        return row;
    }

    internal static string Hex(long id) => id.ToString("x16", CultureInfo.InvariantCulture);
}

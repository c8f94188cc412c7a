using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;
using Tally.Core.Ingest;
using Tally.Core.Store;

namespace Tally.Server.Api;

/// <summary>POST events in (write key), GET raw anonymized events out (open, datagrepper style), a page at a time or all as an export.</summary>
public static class EventsEndpoints
{
    public static void MapPostEventsEndpoint(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/v1/events", PostAsync)
            .RequireKey(ApiRole.Write)
            .WithName("PostEvents")
            .WithSummary("Send one event, a JSON array of events, or NDJSON. Answers 202 once the events are durably queued: in the data folder's inbox, which the server stores from, or on an ingest node in RabbitMQ.")
            .Produces(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>The raw events API and its export; both open, as the events they serve are anonymized.</summary>
    public static void MapGetEventsEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/events", GetAsync)
            .WithName("GetEvents")
            .WithSummary("Raw anonymized events, a page at a time: start/end/delta, type, field filters and not_FIELD, robot, page, rows_per_page, order.")
            .WithDescription(RawParameters + " page (from 1) and rows_per_page (1 to 100, default 25) choose the page. Answers JSON, or CSV when Accept prefers text/csv.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/events/export", ExportAsync)
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

    private static async Task<IResult> PostAsync(HttpContext context, TallySchema schema, IngestService ingest, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(context.Request, schema.Options.Ingest.MaxBodyBytes, "ingest.maxBodyBytes", cancellationToken);
        try
        {
            var result = await ingest.IngestAsync(body, cancellationToken);
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
        catch (HandOffRefusedException e)
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

    private static async Task<IResult> GetAsync(HttpContext context, TallySchema schema, IRawEventReader store, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (query, arguments) = RawEventRequest.Parse(StatsEndpoints.QueryString(context.Request), schema, clock.GetUtcNow().UtcDateTime);
        var page = await store.QueryEventsAsync(query, cancellationToken);
        var pages = (int)((page.Total + query.RowsPerPage - 1) / query.RowsPerPage);
        var json = new
        {
            raw_messages = page.Events.Select(e => RawEventView.Message(e, schema)).ToList(),
            total = page.Total,
            pages,
            count = page.Events.Count,
            arguments,
        };
        return Tabular.Respond(context.Request, json, RawEventView.Table(page.Events, query.Types, schema));
    }

    private static async Task ExportAsync(
        HttpContext context, TallySchema schema, IRawEventReader store, TimeProvider clock, IHostApplicationLifetime lifetime)
    {
        var format = Tabular.NegotiateExport(context.Request);
        var parameters = StatsEndpoints.QueryString(context.Request).Where(p => p.Key != "format");
        var query = RawEventRequest.ParseExport(parameters, schema, clock.GetUtcNow().UtcDateTime);
        context.Response.ContentType = EventExport.ContentType(format);
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{EventExport.FileName(format)}\"";
        var budget = TimeSpan.FromSeconds(schema.Options.Limits.RequestTimeoutSeconds);
        // Ends when the client goes or the server stops, so an export cannot hold up a shutdown.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            await EventExport.WriteAsync(WithinBudget(store.StreamEventsAsync(query, stop.Token), stop, budget),
                query.Types, schema, format, context.Response.Body, progress: null, stop.Token);
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
}

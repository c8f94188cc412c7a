using System.Buffers;
using System.Globalization;
using System.IO.Compression;
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
    public const int MaxRowsPerPage = 100;
    public const int DefaultDeltaSeconds = 600;

    public static void MapPostEventsEndpoint(this IEndpointRouteBuilder app, TallyRuntime runtime) =>
        app.MapPost("/api/v1/events", (HttpContext context, CancellationToken cancellationToken) => PostAsync(context, runtime, cancellationToken))
            .AddEndpointFilter(new ApiKeyFilter(runtime.Schema, ApiRole.Write))
            .WithName("PostEvents")
            .WithSummary("Send one event, a JSON array of events, or NDJSON. Answers 202 once the events are durably stored (or, on an ingest node, durably queued).")
            .Produces(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
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
        var limit = runtime.Schema.Options.Ingest.MaxBodyBytes;
        var body = await ReadBodyAsync(context.Request, limit, cancellationToken);
        if (body is null)
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
                detail: $"The body exceeds the limit of {limit} bytes (ingest.maxBodyBytes); send smaller batches.");
        try
        {
            var result = await runtime.Ingest.IngestAsync(body.Value, cancellationToken);
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

    /// <summary>Reads the body (gunzipping if sent gzip), or null when it is longer than <paramref name="limit"/>.</summary>
    private static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) return null;
        var gzip = request.Headers.ContentEncoding.ToString().Equals("gzip", StringComparison.OrdinalIgnoreCase);
        await using var source = gzip ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 16 * 1024, limit) + 1);
        while (true)
        {
            var read = await source.ReadAsync(buffer.GetMemory(16 * 1024), cancellationToken);
            if (read == 0) return buffer.WrittenMemory;
            buffer.Advance(read);
            if (buffer.WrittenCount > limit) return null;
        }
    }

    private static async Task<IResult> GetAsync(HttpContext context, TallyRuntime runtime, CancellationToken cancellationToken)
    {
        RawEventQuery query;
        Dictionary<string, object?> arguments;
        try
        {
            (query, arguments) = ParseRawQuery(context.Request.Query, runtime.Schema, runtime.Clock.GetUtcNow().UtcDateTime);
        }
        catch (QueryParameterException e)
        {
            return Problems.Field(e.Parameter, e.Problem);
        }
        var page = await runtime.Store.QueryEventsAsync(query, cancellationToken);
        var pages = (int)((page.Total + query.RowsPerPage - 1) / query.RowsPerPage);
        var json = new
        {
            raw_messages = page.Events.Select(RawMessage).ToList(),
            total = page.Total,
            pages,
            count = page.Events.Count,
            arguments,
        };
        return Tabular.Respond(context.Request, json, RawTable(page.Events, query.Types));
    }

    private static (RawEventQuery, Dictionary<string, object?>) ParseRawQuery(IQueryCollection parameters, TallySchema schema, DateTime now)
    {
        DateTime? start = null, end = null;
        int? delta = null;
        int page = 1, rows = 25;
        var descending = true;
        var types = new List<EventType>();
        var filters = new List<FieldFilter>();
        var knownFields = schema.EventTypes.Values.SelectMany(t => t.Fields).Select(f => f.Name).ToHashSet();
        foreach (var (name, values) in parameters)
        {
            var value = values.ToString();
            switch (name)
            {
                case "start": start = ParseTime(name, value); break;
                case "end": end = ParseTime(name, value); break;
                case "delta": delta = ParseInt(name, value, 1, int.MaxValue); break;
                case "page": page = ParseInt(name, value, 1, int.MaxValue); break;
                case "rows_per_page": rows = ParseInt(name, value, 1, MaxRowsPerPage); break;
                case "order":
                    descending = value switch
                    {
                        "desc" => true,
                        "asc" => false,
                        _ => throw new QueryParameterException(name, "must be asc or desc"),
                    };
                    break;
                case "type":
                    foreach (var typeName in values)
                    {
                        types.Add(schema.EventTypes.GetValueOrDefault(typeName ?? "")
                            ?? throw new QueryParameterException(name, $"'{typeName}' is not a known event type"));
                    }
                    break;
                default:
                    var negated = name.StartsWith("not_", StringComparison.Ordinal) && !knownFields.Contains(name);
                    var field = negated ? name[4..] : name;
                    if (!knownFields.Contains(field))
                        throw new QueryParameterException(name, "is neither a parameter nor a field of any event type");
                    filters.Add(new FieldFilter(field, values.Where(v => v is not null).Select(v => v!).ToList(), negated));
                    break;
            }
        }
        // datagrepper's rules: delta counts back from end (or now), or forward from start.
        var to = end ?? (start is not null && delta is not null ? start.Value.AddSeconds(delta.Value) : now);
        var from = start ?? to.AddSeconds(-(delta ?? DefaultDeltaSeconds));
        if (from > to) throw new QueryParameterException("start", "is after end");
        var selected = types.Count > 0 ? types : schema.EventTypes.Values.ToList();
        var arguments = new Dictionary<string, object?>
        {
            ["start"] = from,
            ["end"] = to,
            ["delta"] = delta,
            ["page"] = page,
            ["rows_per_page"] = rows,
            ["order"] = descending ? "desc" : "asc",
            ["type"] = types.Select(t => t.Name).ToList(),
        };
        foreach (var filter in filters) arguments[(filter.Negated ? "not_" : "") + filter.Field] = filter.Values;
        return (new RawEventQuery(from, to, selected, filters, page, rows, descending), arguments);
    }

    /// <summary>ISO-8601, or seconds since the epoch as datagrepper takes them.</summary>
    private static DateTime ParseTime(string name, string value)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            return DateTime.UnixEpoch.AddSeconds(seconds);
        if (DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            return time;
        throw new QueryParameterException(name, $"must be an ISO-8601 time or seconds since 1970, not '{value}'");
    }

    private static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new QueryParameterException(name, $"must be a whole number from {min} to {max}");

    private static Dictionary<string, object?> RawMessage(TallyEvent e)
    {
        var data = new Dictionary<string, object?>();
        foreach (var field in e.Type.Fields)
        {
            if (e.Values[field.Ordinal] is { } value) data[field.Name] = value;
        }
        if (e.Extra is not null)
        {
            using var extra = System.Text.Json.JsonDocument.Parse(e.Extra);
            foreach (var property in extra.RootElement.EnumerateObject()) data.TryAdd(property.Name, property.Value.Clone());
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

    private static Table RawTable(IReadOnlyList<TallyEvent> events, IReadOnlyList<EventType> types)
    {
        var fields = types.SelectMany(t => t.Fields).Select(f => f.Name).Distinct().ToList();
        var columns = new List<string> { "id", "type", "timestamp", "robot", "visitor", "session" };
        columns.AddRange(fields);
        return new Table(columns, events.Select(e =>
        {
            var row = new List<object?> { e.Id, e.Type.Name, e.Timestamp, e.IsRobot, Hex(e.VisitorId), Hex(e.SessionId) };
            row.AddRange(fields.Select(f => e[f]));
            return (IReadOnlyList<object?>)row;
        }).ToList());
    }

    internal static string Hex(long id) => id.ToString("x16", CultureInfo.InvariantCulture);
}

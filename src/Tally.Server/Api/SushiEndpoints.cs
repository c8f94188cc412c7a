using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Tally.Core.Query;
using Tally.Core.Query.Sushi;

namespace Tally.Server.Api;

/// <summary>
/// The COUNTER_SUSHI API 5.1 under /r51. Answers are COUNTER JSON (or the Code of Practice's
/// tab-separated form for reports), and errors are COUNTER exception objects, as SUSHI clients expect.
/// </summary>
public static class SushiEndpoints
{
    private const string Tsv = "text/tab-separated-values";

    public static void MapSushiEndpoints(this IEndpointRouteBuilder app)
    {
        var r51 = app.MapGroup("/r51").WithTags("COUNTER_SUSHI 5.1");

        r51.MapGet("/status", (SushiService sushi) => Results.Json(sushi.Status()))
            .WithName("SushiStatus").WithSummary("Whether the reporting service is active.");

        r51.MapGet("/members", ([FromQuery(Name = "api_key")] string? apiKey, HttpContext context, SushiService sushi) =>
                Answer(context, sushi, customer: false, _ => Task.FromResult(Results.Json(sushi.Members(apiKey)))))
            .WithName("SushiMembers").WithSummary("The institutions (customer ids) the requestor may ask for.");

        r51.MapGet("/reports", (HttpContext context, SushiService sushi, CancellationToken cancellationToken) =>
                Answer(context, sushi, customer: false, async _ => Results.Json(await sushi.ReportsAsync(cancellationToken))))
            .WithName("SushiReports").WithSummary("The reports offered, with the months available.");

        r51.MapGet("/reports/{report}", (HttpContext context, string report, SushiService sushi, SushiReportCache cache, CancellationToken cancellationToken) =>
                Answer(context, sushi, customer: true, query => ReportAsync(context, report.ToLowerInvariant(), query, sushi, cache, cancellationToken)))
            .WithName("SushiReport")
            .WithSummary("A COUNTER report or standard view (pr, pr_p1, dr, dr_d1, dr_d2, tr, tr_b1-3, tr_j1-4, ir, ir_a1, ir_m1); format=tsv or Accept: text/tab-separated-values for the tabular form, Accept: text/csv for it as CSV.");
    }

    /// <summary>
    /// A report in the form asked for. A report of closed months is served from <paramref name="cache"/> while the versions it was
    /// built under hold; JSON is streamed to the response as it is written, and kept when it is small enough.
    /// </summary>
    private static async Task<IResult> ReportAsync(
        HttpContext context, string reportId, IReadOnlyDictionary<string, string> query, SushiService sushi, SushiReportCache cache, CancellationToken cancellationToken)
    {
        var request = sushi.Request(reportId, query);
        var contentType = WantsTsv(context) ? $"{Tsv}; charset=utf-8" : Tabular.WantsCsv(context.Request) ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
        var cacheable = sushi.SpansClosedMonths(request);
        var key = SushiReportCache.Key(reportId, contentType, request, query);
        // Read before the metrics, so that bytes built from newer metrics are at worst kept under an older version, never the reverse.
        var version = cacheable ? await cache.VersionAsync(request.BeginMonth, request.EndMonth, cancellationToken) : "";
        if (cacheable && cache.Find(key, version) is { } cached) return Results.Bytes(cached.Body, cached.ContentType);

        if (contentType.StartsWith("application/json", StringComparison.Ordinal))
        {
            context.Response.ContentType = contentType;
            var output = new CopyingStream(context.Response.Body, cacheable ? cache.MaxBodyBytes : 0);
            await sushi.WriteReportAsync(request, output, cancellationToken);
            if (output.Copy is { } copy) cache.Store(key, new SushiReportCache.Entry(version, request.BeginMonth, request.EndMonth, copy, contentType));
            return Results.Empty;
        }
        var json = await sushi.ReportAsync(request, cancellationToken);
        string text;
        if (contentType.StartsWith(Tsv, StringComparison.Ordinal)) text = SushiTabular.Write(json);
        else
        {
            // CSV is the same table as the TSV: header rows, a blank row, then the metrics, all equally wide.
            var rows = SushiTabular.Rows(json).ToList();
            text = Tabular.Csv(new Table(rows[0], [.. rows.Skip(1).Select(row => (IReadOnlyList<object?>)[.. row])]));
        }
        var body = Encoding.UTF8.GetBytes(text);
        if (cacheable) cache.Store(key, new SushiReportCache.Entry(version, request.BeginMonth, request.EndMonth, body, contentType));
        return Results.Bytes(body, contentType);
    }

    private static async Task<IResult> Answer(HttpContext context, SushiService sushi, bool customer, Func<IReadOnlyDictionary<string, string>, Task<IResult>> answer)
    {
        var query = context.Request.Query.Where(p => p.Key != "format").ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);
        try
        {
            sushi.Authenticate(query.GetValueOrDefault("requestor_id"), query.GetValueOrDefault("api_key"), customer ? query.GetValueOrDefault("customer_id") : null);
            return await answer(query);
        }
        catch (SushiException e)
        {
            return Results.Json(SushiReportBuilder.ExceptionJson(e.Error), statusCode: e.Error.HttpStatus);
        }
    }

    private static bool WantsTsv(HttpContext context) =>
        context.Request.Query["format"] == "tsv" || context.Request.Headers.Accept.ToString().Contains(Tsv, StringComparison.OrdinalIgnoreCase);
}

/// <summary>Passes writes on to a response body and keeps a copy of them while they fit in a limit, for the report cache.</summary>
internal sealed class CopyingStream(Stream destination, long limit) : Stream
{
    private MemoryStream? _copy = limit > 0 ? new MemoryStream() : null;

    /// <summary>Everything written, or null when it outgrew the limit.</summary>
    public byte[]? Copy => _copy?.ToArray();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        await destination.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => destination.FlushAsync(cancellationToken);

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (_copy is null) return;
        if (_copy.Length + bytes.Length > limit) _copy = null;
        else _copy.Write(bytes);
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the response body is written asynchronously");
    public override void Flush() => throw new NotSupportedException("the response body is flushed asynchronously");
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

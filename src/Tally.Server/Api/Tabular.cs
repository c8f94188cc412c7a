using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Tally.Core.Accept;
using Tally.Core.Query;

namespace Tally.Server.Api;

/// <summary>Every tabular endpoint answers JSON, or CSV when the Accept header prefers text/csv.</summary>
public static class Tabular
{
    public static bool WantsCsv(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        if (accept.Count == 0) return false;
        var best = accept.OrderByDescending(a => a.Quality ?? 1).First();
        return best.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase);
    }

    public static IResult Respond(HttpRequest request, object json, Table table, int statusCode = StatusCodes.Status200OK) =>
        WantsCsv(request) ? new CsvResult(table, statusCode) : Results.Json(json, statusCode: statusCode);

    private sealed class CsvResult(Table table, int statusCode) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = statusCode;
            httpContext.Response.ContentType = "text/csv; charset=utf-8";
            // Tables are bounded (pages, timelines), so render to memory and write once, asynchronously.
            await httpContext.Response.WriteAsync(Csv(table), Encoding.UTF8);
        }
    }

    /// <summary>The table as CSV text.</summary>
    public static string Csv(Table table)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        table.WriteCsv(text);
        return text.ToString();
    }

    /// <summary>format=ndjson|csv when given; else CSV when the Accept header prefers text/csv, as every tabular answer does; else NDJSON.</summary>
    /// <exception cref="QueryParameterException">format names neither.</exception>
    public static ExportFormat NegotiateExport(HttpRequest request)
    {
        if (request.Query.TryGetValue("format", out var named))
        {
            var name = named.LastOrDefault() ?? "";
            return EventExport.Formats.TryGetValue(name, out var format) ? format
                : throw new QueryParameterException("format", $"must be {string.Join(" or ", EventExport.Formats.Keys)}, not '{StoredText.Echo(name)}'");
        }
        return WantsCsv(request) ? ExportFormat.Csv : ExportFormat.Ndjson;
    }
}

using System.Globalization;
using System.Text;
using CsvHelper;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Tally.Server.Api;

/// <summary>Rows and columns: what a tabular endpoint returns when the client asks for CSV.</summary>
public sealed record Table(IReadOnlyList<string> Columns, IEnumerable<IReadOnlyList<object?>> Rows);

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

    public static IResult Respond(HttpRequest request, object json, Func<Table> table, int statusCode = StatusCodes.Status200OK) =>
        WantsCsv(request) ? new CsvResult(table(), statusCode) : Results.Json(json, statusCode: statusCode);

    private sealed class CsvResult(Table table, int statusCode) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = statusCode;
            httpContext.Response.ContentType = "text/csv; charset=utf-8";
            await using var writer = new StreamWriter(httpContext.Response.Body, new UTF8Encoding(false), 64 * 1024);
            await using var csv = new CsvWriter(writer, CultureInfo.InvariantCulture);
            foreach (var column in table.Columns) csv.WriteField(column);
            await csv.NextRecordAsync();
            foreach (var row in table.Rows)
            {
                foreach (var cell in row) csv.WriteField(Format(cell));
                await csv.NextRecordAsync();
            }
        }

        private static string Format(object? cell) => cell switch
        {
            null => "",
            bool b => b ? "true" : "false",
            DateTime d => d.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => cell.ToString() ?? "",
        };
    }
}

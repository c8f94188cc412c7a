using System.Globalization;
using System.Text;
using CsvHelper;
using Microsoft.AspNetCore.Http;

namespace Tally.Server.Api;

/// <summary>Rows and columns: what a tabular endpoint returns as JSON records or as CSV.</summary>
public sealed record Table(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<object?>> Rows)
{
    /// <summary>The rows as JSON-friendly records keyed by column name.</summary>
    public List<Dictionary<string, object?>> Records() =>
        Rows.Select(row => Columns.Select((column, i) => (column, row[i])).ToDictionary(c => c.column, c => c.Item2)).ToList();

    public void WriteCsv(TextWriter destination)
    {
        using var csv = CsvWriter.Create(destination, CsvWriterOptions.Default, leaveOpen: true);
        WriteFields(csv, Columns);
        csv.EndRecord();
        foreach (var row in Rows)
        {
            WriteFields(csv, row);
            csv.EndRecord();
        }
    }

    /// <summary>The cells as the fields of the current record, formatted as every tabular answer formats them; the caller ends the record.</summary>
    public static void WriteFields(CsvWriter csv, IEnumerable<object?> cells)
    {
        foreach (var cell in cells) csv.WriteField(FormatCell(cell));
    }

    public static string FormatCell(object? cell) => cell switch
    {
        null => "",
        bool b => b ? "true" : "false",
        DateTime d => d.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => cell.ToString() ?? "",
    };
}

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
            using var text = new StringWriter(CultureInfo.InvariantCulture);
            table.WriteCsv(text);
            await httpContext.Response.WriteAsync(text.ToString(), Encoding.UTF8);
        }
    }
}

using System.Globalization;
using CsvHelper;

namespace Tally.Core.Query;

/// <summary>Rows and columns: what a tabular answer (the API's, the CLI's) gives as JSON records, CSV or a printed table.</summary>
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

using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using CsvHelper;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Query;

public enum ExportFormat
{
    /// <summary>One raw API message (id, type, timestamp, robot, visitor, session, data) per line.</summary>
    Ndjson,
    /// <summary>The raw API's table: a header row, then the envelope and one column per declared field.</summary>
    Csv,
}

/// <summary>
/// Raw events written out as they come from the store, anonymized as the raw API shows them: what
/// GET /api/v1/events/export streams and `tally export` writes. Memory holds one store batch and one
/// write buffer, whatever the size of the export.
/// </summary>
public static class EventExport
{
    /// <summary>Every this many events the caller hears how many are written (progress).</summary>
    private const int ProgressEvents = 1000;
    private const int FlushBytes = 64 * 1024;

    /// <summary>The names format= and --format take.</summary>
    public static readonly IReadOnlyDictionary<string, ExportFormat> Formats = new Dictionary<string, ExportFormat>(StringComparer.Ordinal)
    {
        ["ndjson"] = ExportFormat.Ndjson,
        ["csv"] = ExportFormat.Csv,
    };

    /// <summary>As the HTTP API writes JSON (names as they are), so that each line equals a raw API message.</summary>
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };

    public static string ContentType(ExportFormat format) =>
        format == ExportFormat.Csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";

    public static string FileName(ExportFormat format) => format == ExportFormat.Csv ? "events.csv" : "events.ndjson";

    /// <summary>
    /// Writes <paramref name="events"/> (of <paramref name="types"/>) to <paramref name="destination"/>, flushing as its
    /// buffer fills; <paramref name="progress"/> hears the count every <see cref="ProgressEvents"/>. Returns the count.
    /// </summary>
    public static async Task<long> WriteAsync(
        IAsyncEnumerable<TallyEvent> events, IReadOnlyList<EventType> types, TallySchema schema, ExportFormat format, Stream destination,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        var count = 0L;
        if (format == ExportFormat.Csv)
        {
            var (columns, fields) = RawEventView.Columns(types);
            await using var csv = CsvWriter.Create(destination, CsvWriterOptions.Default, leaveOpen: true);
            Table.WriteFields(csv, columns);
            await csv.EndRecordAsync(cancellationToken);
            await foreach (var e in events.WithCancellation(cancellationToken))
            {
                Table.WriteFields(csv, RawEventView.Row(e, fields, schema));
                await csv.EndRecordAsync(cancellationToken);
                if (++count % ProgressEvents == 0) progress?.Invoke(count);
            }
            await csv.FlushAsync(cancellationToken);
        }
        else
        {
            // The JSON goes into the pipe's buffer; only FlushAsync writes to the destination, never synchronously.
            var pipe = PipeWriter.Create(destination, new StreamPipeWriterOptions(leaveOpen: true));
            await using (var json = new Utf8JsonWriter(pipe))
            {
                await foreach (var e in events.WithCancellation(cancellationToken))
                {
                    JsonSerializer.Serialize(json, RawEventView.Message(e, schema), Json);
                    json.Flush();
                    json.Reset();
                    pipe.Write("\n"u8);
                    if (pipe.UnflushedBytes >= FlushBytes) await pipe.FlushAsync(cancellationToken);
                    if (++count % ProgressEvents == 0) progress?.Invoke(count);
                }
            }
            await pipe.FlushAsync(cancellationToken);
            await pipe.CompleteAsync();
        }
        progress?.Invoke(count);
        return count;
    }
}

using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Configuration;
using Tally.Core.Query;
using Tally.Core.Store;
using Tally.Cli.Served;

namespace Tally.Cli.Commands;

/// <summary>Every raw event the raw API's parameters select, from the store to a file or stdout, as GET /api/v1/events/export streams them.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var parameters = CommonOptions.Parameters(
            "NAME=VALUE parameters as the raw events API takes them: start, end (ISO-8601 or seconds since 1970), delta (seconds, default 600), " +
            "type, FIELD=VALUE, not_FIELD=VALUE, robot=true|false, order=desc|asc",
            repeatable: true);
        var format = new Option<string?>("--format") { Description = "ndjson or csv; default: csv when --output ends in .csv, else ndjson" };
        format.AcceptOnlyFromAmong([.. EventExport.Formats.Keys]);
        var output = new Option<string?>("--output", "-o")
        {
            Description = "The file to write; it is replaced only once the export is complete. Default: standard output",
            HelpName = "FILE",
        }.IsPath();
        output.Validators.Add(result =>
        {
            if (result.TryGetValue(output, out var path) && path is not (null or "-") && OutputProblem(path) is { } problem)
                result.AddError($"--output {path}: {problem}");
        });
        var command = new Command("export", "Write every raw event that the raw API's parameters select, anonymized as it shows them, as NDJSON or CSV")
        {
            parameters, format, output,
        };
        command.SetTallyAction((schema, parse) =>
            parse.ReadParameters(parameters, pairs => RawEventRequest.ParseExport(pairs, schema, TimeProvider.System.GetUtcNow().UtcDateTime)), async (services, parse, query, cancellationToken) =>
        {
            var path = parse.GetValue(output) is { } named && named != "-" ? named : null;
            var chosen = EventExport.Formats[parse.GetValue(format) ?? (path?.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) == true ? "csv" : "ndjson")];

            // The count is the raw API's total for the same parameters: it sizes the progress, not the export.
            var store = services.GetRequiredService<IRawEventReader>();
            var expected = (await store.QueryEventsAsync(query with { RowsPerPage = 1 }, cancellationToken)).Total;
            Task<long> WriteAsync(Stream destination) => CommonOptions.WithProgressAsync("Exporting", report =>
                EventExport.WriteAsync(store.StreamEventsAsync(query, cancellationToken), query.Types, services.GetRequiredService<TallySchema>(), chosen, destination,
                    count => report(expected == 0 ? 1 : Math.Min(1, (double)count / expected), string.Create(CultureInfo.InvariantCulture, $"{count:N0} of {expected:N0} events")),
                    cancellationToken));
            long written;
            if (path is null)
            {
                await using var stdout = CommandConsole.Current.OpenStandardOutput();
                written = await WriteAsync(stdout);
            }
            else
            {
                // Written beside the file and moved over it at the end, so an export cut short never passes for a whole one.
                var partial = path + ".partial";
                try
                {
                    await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
                        written = await WriteAsync(file);
                    File.Move(partial, path, overwrite: true);
                }
                catch
                {
                    File.Delete(partial);
                    throw;
                }
            }
            CommandConsole.Current.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tally export: {written:N0} events from {query.Start:yyyy-MM-dd'T'HH:mm:ss'Z'} to {query.End:yyyy-MM-dd'T'HH:mm:ss'Z'}{(path is null ? "" : $" written to {path}")}"));
            return 0;
        }, setup: false);
        return command;
    }

    /// <summary>Why the export cannot be written to <paramref name="path"/>, found with the rest of the command line; null when it can.</summary>
    private static string? OutputProblem(string path)
    {
        if (Directory.Exists(path)) return "a folder, not a file";
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        return folder is null || Directory.Exists(folder) ? null : $"no such folder ({folder})";
    }
}

using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Sources.Logs;
using Tally.Cli.Served;

namespace Tally.Cli.Commands;

/// <summary>tally import pkp|ndjson|combined: usage from log files, through the same pipeline as HTTP.</summary>
public static class ImportCommand
{
    public static Command Create() => new("import", "Load usage from log files through the pipeline; each file is stored whole or not at all, and never twice")
    {
        Pkp(), Files("ndjson", "Tally events, one JSON object per line (each with type and timestamp)"),
        Files("combined", "Apache/Nginx combined or common access logs, mapped to events by sources.accessLogRules"),
    };

    private static Command Pkp()
    {
        var directory = new Argument<string>("DIR") { Description = "PKP's usageStats folder (with usageEventLogs; stage, processing, archive and reject are created)" }
            .MustExist(directory: true);
        var command = new Command("pkp", "Load PKP (OJS/OMP/OPS) usage-event logs: usageEventLogs → stage → processing → archive, or reject; today's log is left for tomorrow")
        {
            directory,
        };
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            var root = parse.GetValue(directory)!;
            var loader = services.GetRequiredService<LogImports>().PkpLoader(root);
            PkpLoadResult result;
            try
            {
                result = await CommonOptions.WithProgressAsync("Loading PKP logs", report => loader.RunAsync(Progress(report), cancellationToken));
            }
            catch (LoaderBusyException e)
            {
                return CommonOptions.Fail(e.Message);
            }
            foreach (var file in result.Archived) CommandConsole.Current.Out.WriteLine(Summary(file, Path.Combine(root, PkpLogLoader.Reject, file.File + ".rejected.ndjson")));
            foreach (var file in result.Rejected) CommandConsole.Current.Out.WriteLine($"{file}: cannot be read; moved to {Path.Combine(root, PkpLogLoader.Reject)} with the reason beside it");
            if (result.Waiting is not null) CommandConsole.Current.Out.WriteLine($"{result.Waiting}: left in {PkpLogLoader.Waiting}, as PKP is still writing it today");
            if (result.Archived.Count == 0 && result.Rejected.Count == 0) CommandConsole.Current.Out.WriteLine("No logs were waiting.");
            return result.Rejected.Count > 0 ? 1 : 0;
        });
        return command;
    }

    private static Command Files(string name, string description)
    {
        var files = new Argument<string[]>("FILE") { Description = "Log files; .gz files are read compressed", Arity = ArgumentArity.OneOrMore };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep reading lines as they are appended, like tail -F, until Ctrl+C; resumes where it stopped" };
        var rejects = new Option<string?>("--rejects") { Description = "Folder for FILE.rejected.ndjson (bad lines with line number and reason); default: beside each file", HelpName = "DIR" }.IsPath();
        // A followed file may not exist yet: it is read once it appears, as tail -F does.
        files.MustExist(unless: follow);
        var command = new Command(name, description) { files, follow, rejects };
        command.SetTallyAction(async (services, parse, cancellationToken) =>
        {
            var parser = services.GetRequiredService<EventParser>();
            ILogFormat format = name == "ndjson" ? new NdjsonLogFormat(parser) : AccessLogFormat.Create(services.GetRequiredService<TallySchema>(), parser);
            var importer = services.GetRequiredService<LogImports>().Importer(format);
            var paths = parse.GetValue(files)!;
            string RejectPath(string path) =>
                Path.Combine(parse.GetValue(rejects) ?? Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path) + ".rejected.ndjson");
            if (parse.GetValue(follow))
            {
                var follower = new LogFollower(importer, services.GetRequiredService<ISettingStore>(), TimeSpan.FromMilliseconds(500));
                CommandConsole.Current.Error.WriteLine($"Following {string.Join(", ", paths)}; Ctrl+C stops.");
                await Task.WhenAll(paths.Select(path => follower.FollowAsync(path, RejectPath(path), result => CommandConsole.Current.Out.WriteLine(Summary(result, RejectPath(path))), cancellationToken)));
                return 0;
            }
            var failed = 0;
            foreach (var path in paths)
            {
                try
                {
                    var result = await CommonOptions.WithProgressAsync($"Loading {Path.GetFileName(path)}", report =>
                        importer.ImportFileAsync(path, RejectPath(path), Progress(report), cancellationToken));
                    CommandConsole.Current.Out.WriteLine(Summary(result, RejectPath(path)));
                    if (result.Unreadable)
                    {
                        CommandConsole.Current.Error.WriteLine($"tally: no line of {path} is a {name} log line; nothing of it was stored");
                        failed++;
                    }
                }
                catch (UnreadableLogException e)
                {
                    CommandConsole.Current.Error.WriteLine($"tally: {e.Message}");
                    failed++;
                }
            }
            return failed > 0 ? 1 : 0;
        });
        return command;
    }

    private static SynchronousProgress<LogImportProgress> Progress(Action<double, string> report) =>
        new(p => report(p.BytesTotal == 0 ? 0 : (double)p.BytesRead / p.BytesTotal, string.Create(CultureInfo.InvariantCulture, $"{p.File}: {p.Lines:N0} lines")));

    private static string Summary(LogImportResult r, string rejectPath)
    {
        var rate = r.Elapsed.TotalSeconds > 0 ? r.Lines / r.Elapsed.TotalSeconds : 0;
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{r.File}: {r.Lines:N0} lines, {r.Stored:N0} stored, {r.Duplicates:N0} already stored, {r.Skipped:N0} skipped, {r.Dropped:N0} dropped by filters, {r.Rejected:N0} rejected, in {r.Elapsed.TotalSeconds:F2} s ({rate:N0} lines/s)");
        return r.Rejected > 0 ? $"{text}; rejected lines are in {rejectPath}" : text;
    }
}

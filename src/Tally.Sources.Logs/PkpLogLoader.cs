
namespace Tally.Sources.Logs;

/// <summary>What one run of the loader did with each file.</summary>
public sealed record PkpLoadResult(IReadOnlyList<LogImportResult> Archived, IReadOnlyList<string> Rejected, string? Waiting);

/// <summary>Another loader (a serve process, or tally import) is working on the same folder.</summary>
public sealed class LoaderBusyException(string directory) : Exception($"another Tally loader is working on {directory}; try again when it has finished");

/// <summary>
/// PKP's UsageStatsLoader life cycle over a usageStats folder: logs wait in usageEventLogs, are
/// moved to stage (all but the one PKP is still writing today), then one by one to processing,
/// loaded in one transaction each, and moved to archive, or to reject when they cannot be read at
/// all. Files a crash left in processing go back to stage first, so nothing stays stuck; loading
/// a file again after a crash stores nothing twice.
/// </summary>
public sealed class PkpLogLoader(LogFileImporter importer, string root, TimeZoneInfo zone, TimeProvider clock)
{
    public const string Waiting = "usageEventLogs", Stage = "stage", Processing = "processing", Archive = "archive", Reject = "reject";
    private const string LockFile = ".tally-loader.lock";

    public string Root => root;

    /// <exception cref="LoaderBusyException">Another loader holds the folder.</exception>
    public async Task<PkpLoadResult> RunAsync(IProgress<LogImportProgress>? progress, CancellationToken cancellationToken)
    {
        foreach (var folder in (string[])[Waiting, Stage, Processing, Archive, Reject]) Directory.CreateDirectory(Path.Combine(root, folder));
        // The operating system releases the lock when the process dies, even on kill -9.
        FileStream guard;
        try { guard = new FileStream(Path.Combine(root, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { throw new LoaderBusyException(root); }
        await using (guard)
        {
            var today = PkpLogFormat.CurrentLogName(DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(clock.GetUtcNow(), zone).DateTime));
            foreach (var file in Files(Processing).Concat(Files(Waiting).Where(f => Path.GetFileName(f) != today)))
                MoveUnique(file, Stage);

            var archived = new List<LogImportResult>();
            var rejected = new List<string>();
            foreach (var staged in Files(Stage).Order(StringComparer.Ordinal))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var name = Path.GetFileName(staged);
                var processing = MoveUnique(staged, Processing);
                var rejects = Path.Combine(root, Reject, name + ".rejected.ndjson");
                LogImportResult? result = null;
                string? unreadable = null;
                try
                {
                    result = await importer.ImportFileAsync(processing, rejects, progress, cancellationToken);
                    if (result.Unreadable) unreadable = "no line of the file is a PKP usage-log entry";
                }
                catch (UnreadableLogException e)
                {
                    unreadable = e.Message;
                }
                if (unreadable is not null)
                {
                    await File.WriteAllTextAsync(Path.Combine(root, Reject, name + ".reason.txt"), unreadable + Environment.NewLine, cancellationToken);
                    MoveUnique(processing, Reject);
                    rejected.Add(name);
                }
                else
                {
                    MoveUnique(processing, Archive);
                    archived.Add(result!);
                }
            }
            return new PkpLoadResult(archived, rejected, File.Exists(Path.Combine(root, Waiting, today)) ? today : null);
        }
    }

    private List<string> Files(string folder) =>
        Directory.EnumerateFiles(Path.Combine(root, folder)).Where(f => !Path.GetFileName(f).StartsWith('.')).ToList();

    /// <summary>Renames into a folder (atomic on one file system), never over a file already there.</summary>
    private string MoveUnique(string file, string folder)
    {
        var name = Path.GetFileName(file);
        var target = Path.Combine(root, folder, name);
        for (var n = 1; File.Exists(target); n++) target = Path.Combine(root, folder, $"{name}.{n}");
        File.Move(file, target);
        return target;
    }
}

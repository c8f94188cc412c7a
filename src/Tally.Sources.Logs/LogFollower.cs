using System.Text.Json;
using Tally.Core.Store;

namespace Tally.Sources.Logs;

/// <summary>
/// Tails a growing log (tail -F): complete lines are loaded as they arrive, a chunk per transaction,
/// and the position is kept in the store, so a restart goes on where it stopped. The log stays open
/// between reads, so when it is rotated (renamed, and a new file made under its name) the lines
/// written to it until then are still read, and then reading starts at the top of the new file.
/// A log is known by its first line (<see cref="LogFileImporter.FileKey"/>), so importing the
/// rotated file later under its new name finds those lines already stored.
/// </summary>
public sealed class LogFollower(LogFileImporter importer, ISettingStore store, TimeSpan poll, int maxChunkBytes = 16 << 20)
{
    private sealed record Position(string FileKey, long Offset, long Line);

    /// <summary>Follows <paramref name="path"/> until cancelled, reporting each loaded chunk.</summary>
    public async Task FollowAsync(string path, string rejectPath, Action<LogImportResult> loaded, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        var setting = "follow:" + full;
        var saved = await store.GetSettingAsync(setting, cancellationToken) is { } json ? JsonSerializer.Deserialize<Position>(json) : null;
        var buffer = new byte[maxChunkBytes];
        FileStream? log = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (log is null)
                {
                    (log, var key) = await OpenAsync(full, cancellationToken);
                    if (log is null)
                    {
                        await Task.Delay(poll, cancellationToken);
                        continue;
                    }
                    if (saved is null || saved.FileKey != key || saved.Offset > log.Length) saved = new Position(key!, 0, 0);
                }
                var length = await ReadCompleteLinesAsync(log, saved!.Offset, buffer, cancellationToken);
                var rotated = length == 0 && await RotatedAsync(full, saved, cancellationToken);
                // A rotated log grows no more, so an unfinished last line is as complete as it will get.
                if (rotated) length = await log.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
                if (length > 0)
                {
                    using var lines = new MemoryStream(buffer, 0, length, writable: false);
                    var result = await importer.ImportAsync(lines, lines, saved.Line + 1, saved.FileKey, Path.GetFileName(full), rejectPath, null, cancellationToken);
                    // Ids make a repeat harmless, so the position is saved after the commit: a crash in between loads nothing twice.
                    saved = saved with { Offset = saved.Offset + length, Line = saved.Line + CountLines(buffer.AsSpan(0, length)) };
                    await store.SetSettingAsync(setting, JsonSerializer.Serialize(saved), cancellationToken);
                    loaded(result);
                }
                if (rotated)
                {
                    await log.DisposeAsync();
                    log = null;
                    saved = null;
                }
                else if (length == 0)
                {
                    await Task.Delay(poll, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (log is not null) await log.DisposeAsync();
        }
    }

    /// <summary>The log under <paramref name="path"/> and its key; nulls while it is missing or its first line unfinished.</summary>
    private static async Task<(FileStream? Log, string? Key)> OpenAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path)) return (null, null);
        var log = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        var key = await FileKeyAsync(log, cancellationToken);
        if (key is not null) return (log, key);
        await log.DisposeAsync();
        return (null, null);
    }

    /// <summary>Reads from <paramref name="offset"/> up to the last complete line that fits; 0 when none has arrived.</summary>
    private static async Task<int> ReadCompleteLinesAsync(FileStream log, long offset, byte[] buffer, CancellationToken cancellationToken)
    {
        log.Seek(offset, SeekOrigin.Begin);
        var length = await log.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        var complete = buffer.AsSpan(0, length).LastIndexOf((byte)'\n') + 1;
        if (complete == 0 && length == buffer.Length)
            throw new InvalidDataException($"{log.Name}: a line longer than {buffer.Length} bytes");
        log.Seek(offset + complete, SeekOrigin.Begin);
        return complete;
    }

    /// <summary>
    /// True when <paramref name="path"/> now names another log, or the same one cut short (copytruncate):
    /// the one being read will get no more lines.
    /// </summary>
    private static async Task<bool> RotatedAsync(string path, Position reading, CancellationToken cancellationToken)
    {
        var (current, key) = await OpenAsync(path, cancellationToken);
        if (current is null) return false;
        await using (current) return key != reading.FileKey || current.Length < reading.Offset;
    }

    /// <summary>The file's <see cref="LogFileImporter.FileKey"/>; null until the first line is complete.</summary>
    private static async Task<string?> FileKeyAsync(FileStream file, CancellationToken cancellationToken)
    {
        var head = new byte[4096];
        var read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
        var newline = head.AsSpan(0, read).IndexOf((byte)'\n');
        if (newline < 0 && read < head.Length) return null;
        return LogFileImporter.FileKey(head.AsSpan(0, newline < 0 ? read : newline));
    }

    private static long CountLines(ReadOnlySpan<byte> chunk) => chunk.Count((byte)'\n');
}

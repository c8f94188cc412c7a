using System.Text.Json;
using Tally.Core.Store;

namespace Tally.Sources.Logs;

/// <summary>
/// Tails a growing log (tail -F): complete lines are loaded as they arrive, a chunk per transaction,
/// and the position is kept in the store, so a restart goes on where it stopped. A file is known by
/// its first line, so after rotation (a new file under the same name) reading starts again at the
/// top, and the old lines' ids, which name the old file, never collide with the new ones.
/// </summary>
public sealed class LogFollower(LogFileImporter importer, IEventStore store, TimeSpan poll, int maxChunkBytes = 16 << 20)
{
    private sealed record Position(string FileKey, long Offset, long Line);

    /// <summary>Follows <paramref name="path"/> until cancelled, reporting each loaded chunk.</summary>
    public async Task FollowAsync(string path, string rejectPath, Action<LogImportResult> loaded, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        var setting = "follow:" + full;
        var saved = await store.GetSettingAsync(setting, cancellationToken) is { } json ? JsonSerializer.Deserialize<Position>(json) : null;
        var buffer = new byte[maxChunkBytes];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var chunk = await ReadChunkAsync(full, saved, buffer, cancellationToken);
                if (chunk is null)
                {
                    await Task.Delay(poll, cancellationToken);
                    continue;
                }
                var (position, length) = chunk.Value;
                using var lines = new MemoryStream(buffer, 0, length, writable: false);
                var result = await importer.ImportAsync(lines, lines, position.Line + 1, position.FileKey, Path.GetFileName(full), rejectPath, null, cancellationToken);
                // Ids make a repeat harmless, so the position is saved after the commit: a crash in between loads nothing twice.
                saved = position with { Offset = position.Offset + length, Line = position.Line + CountLines(buffer.AsSpan(0, length)) };
                await store.SetSettingAsync(setting, JsonSerializer.Serialize(saved), cancellationToken);
                loaded(result);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The next complete lines after <paramref name="saved"/>, or null when none have arrived yet.</summary>
    private static async Task<(Position Start, int Length)?> ReadChunkAsync(string path, Position? saved, byte[] buffer, CancellationToken cancellationToken)
    {
        if (!File.Exists(path)) return null;
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        var key = await FileKeyAsync(file, path, cancellationToken);
        if (key is null) return null;
        var start = saved is not null && saved.FileKey == key && saved.Offset <= file.Length ? saved : new Position(key, 0, 0);
        file.Seek(start.Offset, SeekOrigin.Begin);
        var length = await file.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        var complete = buffer.AsSpan(0, length).LastIndexOf((byte)'\n') + 1;
        if (complete == 0 && length == buffer.Length)
            throw new InvalidDataException($"{path}: a line longer than {buffer.Length} bytes");
        return complete == 0 ? null : (start, complete);
    }

    /// <summary>The file's name and a hash of its first line; null until the first line is complete.</summary>
    private static async Task<string?> FileKeyAsync(FileStream file, string path, CancellationToken cancellationToken)
    {
        var head = new byte[4096];
        var read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
        var newline = head.AsSpan(0, read).IndexOf((byte)'\n');
        if (newline < 0 && read < head.Length) return null;
        return LogFileImporter.FileKey(path, head.AsSpan(0, newline < 0 ? read : newline));
    }

    private static long CountLines(ReadOnlySpan<byte> chunk) => chunk.Count((byte)'\n');
}

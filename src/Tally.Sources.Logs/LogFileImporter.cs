using System.Buffers;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text.Json;
using System.Threading.Channels;
using Tally.Core.Events;
using Tally.Core.Process;
using Tally.Core.Store;

namespace Tally.Sources.Logs;

/// <summary>What loading one file (or one chunk of a followed file) did.</summary>
public sealed record LogImportResult(string File, long Lines, long Stored, long Duplicates, long Skipped, long Dropped, long Rejected, TimeSpan Elapsed)
{
    /// <summary>True when no line could be used: the file is not in this format at all.</summary>
    public bool Unreadable => Lines > 0 && Rejected == Lines;
}

/// <summary>How far a load is: bytes read of the whole, and lines so far.</summary>
public readonly record struct LogImportProgress(string File, long BytesRead, long BytesTotal, long Lines);

/// <summary>The file could not be read (I/O error, broken compression); nothing of it was stored.</summary>
public sealed class UnreadableLogException(string file, Exception inner) : Exception($"{file} cannot be read: {inner.Message}", inner);

/// <summary>
/// Loads a log file through the pipeline into the store as one transaction: a crash or an error
/// midway stores nothing, and loading the same lines again stores nothing twice, because each
/// line's id comes from its content and position (see <see cref="LineId"/>), never from the file's
/// name. Reading and parsing run beside the store's writes. Bad lines go to a reject file with
/// their line number and reason; the good lines load.
/// </summary>
/// <param name="pipelineWithSalts">Builds the pipeline over a given salt source: the file's own transaction.</param>
public sealed class LogFileImporter(ILogFormat format, Func<ISaltSource, EventPipeline> pipelineWithSalts, IEventWriter store, TimeProvider clock, int batchSize = 8192)
{
    public ILogFormat Format => format;

    /// <summary>
    /// What names a log in its lines' ids: a hash of its first line. A log keeps its first line
    /// while it grows, is rotated (access.log.1) and compressed (access.log.1.gz), so every name it
    /// goes by, and following it, give the same ids; a new log after rotation starts another key.
    /// </summary>
    public static string FileKey(ReadOnlySpan<byte> firstLine) => $"{Hash(firstLine):x16}";

    /// <summary>
    /// A line's id: its log's key, its line number, and a hash of the line itself, so two logs
    /// that happen to begin with the same line still keep their different lines apart.
    /// </summary>
    public static string LineId(string fileKey, long number, ReadOnlySpan<byte> line) =>
        $"{fileKey}/{number}/{(uint)Hash(line):x8}";

    /// <summary>Line endings are not content: the same log written with CRLF gives the same ids.</summary>
    private static ulong Hash(ReadOnlySpan<byte> line) => XxHash3.HashToUInt64(line.TrimEnd((byte)'\r'));

    /// <summary>Loads <paramref name="path"/> (gzip when it ends in .gz); its lines' ids come from its content alone.</summary>
    /// <exception cref="UnreadableLogException">The file cannot be opened or decompressed.</exception>
    public async Task<LogImportResult> ImportFileAsync(string path, string rejectPath, IProgress<LogImportProgress>? progress, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.SequentialScan);
            Stream lines = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            return await ImportAsync(lines, file, 1, fileKey: null, Path.GetFileName(path), rejectPath, progress, cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new UnreadableLogException(Path.GetFileName(path), e);
        }
    }

    /// <summary>
    /// Loads every line of <paramref name="lines"/>, numbering from <paramref name="firstLine"/>, in one
    /// transaction. <paramref name="position"/> is the stream whose position tells progress. Without a
    /// <paramref name="fileKey"/>, the stream starts at the log's first line, which gives the key.
    /// </summary>
    public async Task<LogImportResult> ImportAsync(Stream lines, Stream position, long firstLine, string? fileKey, string name, string rejectPath,
        IProgress<LogImportProgress>? progress, CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        var now = clock.GetUtcNow().UtcDateTime;
        var total = position.CanSeek ? position.Length : 0;
        await using var append = await store.BeginAppendAsync(cancellationToken);
        // Salts for new days are made inside the file's transaction, so processing never waits on the writer.
        var steps = pipelineWithSalts(append);
        var batches = Channel.CreateBounded<List<TallyEvent>>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        await using var rejects = new RejectWriter(rejectPath, name);
        // If a write fails, the reader must not stay blocked on a full channel.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long lineCount = 0, skipped = 0, dropped = 0;

        // Reading, parsing and processing on one task; the store's writes on this one.
        var reading = Task.Run(async () =>
        {
            var token = stop.Token;
            try
            {
                var batch = new List<TallyEvent>(batchSize);
                var number = firstLine - 1;
                await foreach (var line in LineReader.ReadAsync(lines, token))
                {
                    number++;
                    fileKey ??= FileKey(line.Span);
                    if (line.Span.Trim(" \t\r"u8).IsEmpty) continue;
                    lineCount++;
                    var parsed = format.Parse(line.Span, LineId(fileKey, number, line.Span), now);
                    switch (parsed.Outcome)
                    {
                        case LineOutcome.Event: batch.Add(parsed.Event!); break;
                        case LineOutcome.Skipped: skipped++; break;
                        default: rejects.Write(number, parsed.Field!, parsed.Reason!, line.Span); break;
                    }
                    if (batch.Count < batchSize) continue;
                    dropped += await ProcessAsync(steps, batch, token);
                    await batches.Writer.WriteAsync(batch, token);
                    batch = new List<TallyEvent>(batchSize);
                    progress?.Report(new LogImportProgress(name, position.Position, total, lineCount));
                }
                if (batch.Count > 0)
                {
                    dropped += await ProcessAsync(steps, batch, token);
                    await batches.Writer.WriteAsync(batch, token);
                }
                batches.Writer.Complete();
            }
            catch (Exception e)
            {
                batches.Writer.Complete(e);
                throw;
            }
        }, CancellationToken.None);

        try
        {
            await foreach (var batch in batches.Reader.ReadAllAsync(cancellationToken))
                await append.AppendAsync(batch, cancellationToken);
        }
        catch
        {
            await stop.CancelAsync();
            throw;
        }
        await reading;
        await rejects.FlushAsync(cancellationToken);
        var result = new LogImportResult(name, lineCount, 0, 0, skipped, dropped, rejects.Count, TimeSpan.Zero);
        // A file of which no line could be used is not this format; nothing of it is kept.
        if (!result.Unreadable)
        {
            var counts = await append.CommitAsync(cancellationToken);
            result = result with { Stored = counts.Stored, Duplicates = counts.Duplicates };
        }
        progress?.Report(new LogImportProgress(name, total, total, lineCount));
        return result with { Elapsed = clock.GetElapsedTime(started) };
    }

    /// <summary>Runs the pipeline and removes the events it drops (filters); returns how many it dropped.</summary>
    private static async Task<int> ProcessAsync(EventPipeline steps, List<TallyEvent> batch, CancellationToken cancellationToken)
    {
        var kept = await steps.ProcessAsync(batch, cancellationToken);
        if (kept.Count == batch.Count) return 0;
        var survivors = kept.Select(i => batch[i]).ToList();
        var dropped = batch.Count - survivors.Count;
        batch.Clear();
        batch.AddRange(survivors);
        return dropped;
    }

    /// <summary>Writes rejected lines as NDJSON: line number, field, reason and the line itself, so they can be fixed and loaded again.</summary>
    private sealed class RejectWriter(string path, string file) : IAsyncDisposable
    {
        private FileStream? _stream;
        private Utf8JsonWriter? _writer;

        public long Count { get; private set; }

        public void Write(long line, string field, string reason, ReadOnlySpan<byte> text)
        {
            Count++;
            if (_writer is null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
                // Relaxed escaping keeps the quoted line readable; the file is data, never HTML.
                _writer = new Utf8JsonWriter(_stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            }
            _writer.WriteStartObject();
            _writer.WriteString("file", file);
            _writer.WriteNumber("line", line);
            _writer.WriteString("field", field);
            _writer.WriteString("reason", reason);
            // Invalid UTF-8 is kept readable rather than failing the reject itself.
            _writer.WriteString("text", System.Text.Encoding.UTF8.GetString(text));
            _writer.WriteEndObject();
            _writer.Flush();
            _writer.Reset();
            _stream!.WriteByte((byte)'\n');
        }

        public async Task FlushAsync(CancellationToken cancellationToken)
        {
            if (_stream is not null) await _stream.FlushAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            if (_writer is not null) await _writer.DisposeAsync();
            if (_stream is not null) await _stream.DisposeAsync();
        }
    }
}

/// <summary>Splits a stream into lines without copying them: each line is valid until the next one is read.</summary>
public static class LineReader
{
    public static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadAsync(Stream stream, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int start = 0, end = 0;
            while (true)
            {
                var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    yield return buffer.AsMemory(start, newline);
                    start += newline + 1;
                    continue;
                }
                if (start > 0)
                {
                    // Move the partial line to the front, growing the buffer only for a line longer than it.
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
                if (end == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, larger, 0, end);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken);
                if (read == 0)
                {
                    if (end > start) yield return buffer.AsMemory(start, end - start);
                    yield break;
                }
                end += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

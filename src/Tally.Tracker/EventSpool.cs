using System.IO.Compression;

namespace Tally.Tracker;

/// <summary>The spool folder is held by another process; two senders on one spool would post its batches twice.</summary>
public sealed class SpoolBusyException(string directory) : Exception($"another process is using the tracker spool {directory}; give each process its own SpoolDirectory");

/// <summary>
/// The on-disk queue of an <see cref="HttpBackend"/>. Lines are appended to an open segment (each
/// reaches the operating system at once, so killing the application loses nothing appended); a segment
/// is sealed as one gzip'd batch, exactly the body that will be posted, named so batches sort oldest
/// first. A batch is deleted only once Tally has taken it. A segment a crash left open is sealed at the
/// next start, without its torn last line. A lock file keeps a second process out.
/// </summary>
internal sealed class EventSpool : IDisposable
{
    private const string OpenSuffix = ".open", BatchSuffix = ".ndjson.gz", RejectedFolder = "rejected";

    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly FileStream _guard;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, SpooledBatch> _ready = new(StringComparer.Ordinal);
    private long _readyBytes;
    private FileStream? _open;
    private string? _openPath;
    private int _openLines;
    private DateTime _openedAt;
    private long _sequence;

    /// <exception cref="SpoolBusyException">Another process holds the folder.</exception>
    public EventSpool(string directory, long maxBytes)
    {
        _directory = Path.GetFullPath(directory);
        _maxBytes = maxBytes;
        Directory.CreateDirectory(_directory);
        // The operating system releases the lock when the process dies, even on kill -9.
        try { _guard = new FileStream(Path.Combine(_directory, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { throw new SpoolBusyException(_directory); }
        foreach (var open in Directory.EnumerateFiles(_directory, "*" + OpenSuffix).Order(StringComparer.Ordinal)) SealLeftOver(open);
        foreach (var batch in Directory.EnumerateFiles(_directory, "*" + BatchSuffix)) Add(batch);
    }

    /// <summary>Lines appended but not yet taken by Tally, including the open segment.</summary>
    public int PendingLines
    {
        get { lock (_lock) return _openLines + _ready.Values.Sum(b => b.Lines); }
    }

    public int ReadyBatches
    {
        get { lock (_lock) return _ready.Count; }
    }

    /// <summary>Appends one NDJSON line (with its newline); seals the segment once it holds <paramref name="batchSize"/> lines. Returns true when a batch became ready.</summary>
    public bool Append(ReadOnlySpan<byte> line, int batchSize, DateTime now, out int droppedLines)
    {
        lock (_lock)
        {
            if (_open is null)
            {
                _openPath = Path.Combine(_directory, NextName() + OpenSuffix);
                _open = new FileStream(_openPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
                _openedAt = now;
            }
            _open.Write(line);
            _open.Flush();
            _openLines++;
            droppedLines = 0;
            if (_openLines < batchSize) return false;
            droppedLines = SealOpen();
            return true;
        }
    }

    /// <summary>Seals the open segment when it is older than <paramref name="age"/> (or at once when null). Returns true when a batch became ready.</summary>
    public bool Seal(DateTime now, TimeSpan? age, out int droppedLines)
    {
        lock (_lock)
        {
            droppedLines = 0;
            if (_open is null || (age is { } minimum && now - _openedAt < minimum)) return false;
            droppedLines = SealOpen();
            return true;
        }
    }

    public SpooledBatch? Oldest()
    {
        lock (_lock) return _ready.Count == 0 ? null : _ready.First().Value;
    }

    /// <summary>Tally has the batch: forget it.</summary>
    public void Remove(SpooledBatch batch)
    {
        lock (_lock)
        {
            if (!_ready.Remove(batch.Name)) return;
            _readyBytes -= batch.Bytes;
            File.Delete(batch.Path);
        }
    }

    /// <summary>Tally refused the batch as a whole: keep it, with why, under rejected/ for a person to look at.</summary>
    public string Reject(SpooledBatch batch, string reason)
    {
        lock (_lock)
        {
            var folder = Directory.CreateDirectory(Path.Combine(_directory, RejectedFolder)).FullName;
            var target = Path.Combine(folder, batch.Name);
            if (_ready.Remove(batch.Name))
            {
                _readyBytes -= batch.Bytes;
                File.Move(batch.Path, target, overwrite: true);
                File.WriteAllText(target + ".reason.txt", reason + Environment.NewLine);
            }
            return target;
        }
    }

    private string NextName() => $"{DateTime.UtcNow.Ticks:D19}-{Interlocked.Increment(ref _sequence):D6}";

    /// <summary>Compresses the open segment into a batch; returns how many lines the size limit then dropped.</summary>
    private int SealOpen()
    {
        var name = Path.GetFileNameWithoutExtension(_openPath!);
        _open!.Position = 0;
        var batch = WriteBatch(name, _open, _openLines);
        _open.Dispose();
        File.Delete(_openPath!);
        _open = null;
        _openPath = null;
        _openLines = 0;
        Add(batch);
        return EnforceLimit();
    }

    private void SealLeftOver(string path)
    {
        var bytes = File.ReadAllBytes(path);
        // A crash can tear the last line; what precedes the last newline is whole.
        var whole = bytes.AsSpan(0, bytes.AsSpan().LastIndexOf((byte)'\n') + 1);
        if (!whole.IsEmpty)
        {
            using var content = new MemoryStream(whole.ToArray());
            WriteBatch(Path.GetFileNameWithoutExtension(path), content, whole.Count((byte)'\n'));
        }
        File.Delete(path);
    }

    private string WriteBatch(string name, Stream lines, int count)
    {
        var path = Path.Combine(_directory, $"{name}-{count}{BatchSuffix}");
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            using (var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true)) lines.CopyTo(gzip);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    private void Add(string path)
    {
        var name = Path.GetFileName(path);
        var stem = name[..^BatchSuffix.Length];
        var lines = int.TryParse(stem[(stem.LastIndexOf('-') + 1)..], out var count) ? count : 0;
        var batch = new SpooledBatch(name, path, lines, new FileInfo(path).Length);
        _ready[name] = batch;
        _readyBytes += batch.Bytes;
    }

    /// <summary>Past the size limit the oldest batches go, so a long outage costs the oldest events, not the application's disk.</summary>
    private int EnforceLimit()
    {
        var dropped = 0;
        while (_readyBytes > _maxBytes && _ready.Count > 1)
        {
            var oldest = _ready.First().Value;
            _ready.Remove(oldest.Name);
            _readyBytes -= oldest.Bytes;
            File.Delete(oldest.Path);
            dropped += oldest.Lines;
        }
        return dropped;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _open?.Dispose();
            _open = null;
            _guard.Dispose();
        }
    }
}

/// <summary>One sealed batch: the gzip'd NDJSON body, and how many events it holds.</summary>
internal sealed record SpooledBatch(string Name, string Path, int Lines, long Bytes);

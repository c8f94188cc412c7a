using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tally.Queue.Inbox;

/// <summary>The inbox folder is held by another process, which stores what it holds.</summary>
public sealed class InboxBusyException(string directory)
    : Exception($"another Tally process uses the inbox {directory}; one process serves a data folder at a time");

/// <summary>
/// An append-only journal of records in one folder. A record is its length, the CRC-32 of its bytes, and the bytes.
/// Records are appended a group at a time and made durable by one fsync; readers see only durable records, and record
/// how far they have consumed, so that the next open resumes there. Records go into segment files named by the position
/// of their first byte; a segment is deleted once consumed. A group cut short by a crash was never acknowledged, and
/// the next open cuts it off.
/// </summary>
/// <remarks>
/// Written here rather than taken from a library: FASTER's FasterLog (Microsoft.FASTER.Core 2.6.5, the one log library
/// NuGet serves here) committed 5,662 records/s to 8 writers that waited for their commit, against 48,000 for plain
/// appends with one fsync per group, on the same disk (docs/benchmarks.md).
/// </remarks>
internal sealed partial class InboxJournal : IDisposable
{
    private const int HeaderBytes = 8;
    private const string SegmentSuffix = ".journal", ConsumedFile = "consumed", LockFile = ".lock";

    private readonly string _directory;
    private readonly long _segmentBytes;
    private readonly FileStream _lock;
    /// <summary>Segments by the position of their first byte, with a handle each; the last is the one appended to.</summary>
    private readonly SortedList<long, SafeFileHandle> _segments = [];
    private readonly Lock _segmentsGate = new();
    private readonly ArrayBufferWriter<byte> _group = new(1 << 16);
    private long _end, _consumed;

    private InboxJournal(string directory, long segmentBytes, FileStream lockFile)
    {
        _directory = directory;
        _segmentBytes = segmentBytes;
        _lock = lockFile;
    }

    /// <summary>Where durable records end: the position after the last acknowledged record.</summary>
    public long End => Volatile.Read(ref _end);

    /// <summary>Where reading resumes: records before it are stored.</summary>
    public long Consumed => Volatile.Read(ref _consumed);

    /// <summary>Opens the journal in <paramref name="directory"/>, creating it when there is none, and cuts off a torn last group.</summary>
    /// <exception cref="InboxBusyException">Another process holds it.</exception>
    public static InboxJournal Open(string directory, long segmentBytes = 64L << 20)
    {
        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);
        FileStream lockFile;
        // The operating system drops the lock when the process dies, even on kill -9.
        try { lockFile = new FileStream(Path.Combine(directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { throw new InboxBusyException(directory); }
        var journal = new InboxJournal(directory, segmentBytes, lockFile);
        try
        {
            journal.Recover();
            return journal;
        }
        catch
        {
            journal.Dispose();
            throw;
        }
    }

    private void Recover()
    {
        _consumed = ReadConsumed();
        foreach (var path in Directory.EnumerateFiles(_directory, "*" + SegmentSuffix))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), out var start) && start >= 0)
                _segments.Add(start, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read));
        }
        if (_segments.Count == 0)
        {
            AddSegment(_consumed);
            _end = _consumed;
            return;
        }
        var (lastStart, last) = (_segments.Keys[^1], _segments.Values[^1]);
        var valid = ValidLength(last);
        if (valid < RandomAccess.GetLength(last))
        {
            RandomAccess.SetLength(last, valid);
            RandomAccess.FlushToDisk(last);
        }
        _end = lastStart + valid;
        _consumed = Math.Clamp(_consumed, _segments.Keys[0], _end);
        DeleteConsumedSegments();
    }

    /// <summary>How many bytes at the start of a segment are whole records whose checksums match.</summary>
    private static long ValidLength(SafeFileHandle segment)
    {
        var length = RandomAccess.GetLength(segment);
        Span<byte> header = stackalloc byte[HeaderBytes];
        var buffer = new byte[1 << 16];
        long offset = 0;
        while (offset + HeaderBytes <= length && RandomAccess.Read(segment, header, offset) == HeaderBytes)
        {
            var size = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (size <= 0 || offset + HeaderBytes + size > length) break;
            if (buffer.Length < size) buffer = new byte[size];
            if (RandomAccess.Read(segment, buffer.AsSpan(0, size), offset + HeaderBytes) != size) break;
            if (Crc32.HashToUInt32(buffer.AsSpan(0, size)) != BinaryPrimitives.ReadUInt32LittleEndian(header[4..])) break;
            offset += HeaderBytes + size;
        }
        return offset;
    }

    /// <summary>Appends the records and makes them durable with one fsync. Only one caller may append at a time.</summary>
    public void Append(IReadOnlyList<ReadOnlyMemory<byte>> records)
    {
        _group.ResetWrittenCount();
        foreach (var record in records)
        {
            var header = _group.GetSpan(HeaderBytes);
            BinaryPrimitives.WriteInt32LittleEndian(header, record.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Crc32.HashToUInt32(record.Span));
            _group.Advance(HeaderBytes);
            _group.Write(record.Span);
        }
        SafeFileHandle tail;
        long tailStart;
        lock (_segmentsGate)
        {
            if (_end - _segments.Keys[^1] >= _segmentBytes) AddSegment(_end);
            (tailStart, tail) = (_segments.Keys[^1], _segments.Values[^1]);
        }
        // A failed write leaves End where it was, so the next group overwrites what it left.
        RandomAccess.Write(tail, _group.WrittenSpan, _end - tailStart);
        RandomAccess.FlushToDisk(tail);
        Volatile.Write(ref _end, _end + _group.WrittenCount);
    }

    /// <summary>
    /// Adds the durable records from <paramref name="position"/> to <paramref name="records"/>, at least one when there is
    /// one and then while they stay under <paramref name="maxBytes"/> in all. Returns the position after the last one added.
    /// </summary>
    public long Read(long position, int maxBytes, List<byte[]> records)
    {
        var end = End;
        var read = 0;
        Span<byte> header = stackalloc byte[HeaderBytes];
        while (position < end)
        {
            var (start, segment) = SegmentAt(position);
            if (RandomAccess.Read(segment, header, position - start) != HeaderBytes)
                throw new InvalidDataException($"the inbox {_directory} ends before its record at {position}");
            var size = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (read > 0 && read + size > maxBytes) break;
            var record = new byte[size];
            if (RandomAccess.Read(segment, record, position - start + HeaderBytes) != size || Crc32.HashToUInt32(record) != BinaryPrimitives.ReadUInt32LittleEndian(header[4..]))
                throw new InvalidDataException($"the inbox {_directory} holds a damaged record at {position}");
            records.Add(record);
            read += size;
            position += HeaderBytes + size;
        }
        return position;
    }

    /// <summary>Records that everything before <paramref name="position"/> is stored, and deletes the segments that holds whole.</summary>
    public void Consume(long position)
    {
        Span<byte> content = stackalloc byte[12];
        BinaryPrimitives.WriteInt64LittleEndian(content, position);
        BinaryPrimitives.WriteUInt32LittleEndian(content[8..], Crc32.HashToUInt32(content[..8]));
        var path = Path.Combine(_directory, ConsumedFile);
        // Replaced whole, so that a crash leaves the old position or the new one; losing the new one only reads again
        // records whose events are stored, which their ids keep from counting twice.
        using (var temporary = File.OpenHandle(path + ".tmp", FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(temporary, content, 0);
            RandomAccess.FlushToDisk(temporary);
        }
        File.Move(path + ".tmp", path, overwrite: true);
        Volatile.Write(ref _consumed, position);
        lock (_segmentsGate) DeleteConsumedSegments();
    }

    private long ReadConsumed()
    {
        var path = Path.Combine(_directory, ConsumedFile);
        if (!File.Exists(path)) return 0;
        var content = File.ReadAllBytes(path);
        if (content.Length != 12 || Crc32.HashToUInt32(content.AsSpan(0, 8)) != BinaryPrimitives.ReadUInt32LittleEndian(content.AsSpan(8)))
            throw new InvalidDataException($"{path} is damaged; delete it to store again every event the inbox holds (their ids keep them from counting twice)");
        return BinaryPrimitives.ReadInt64LittleEndian(content);
    }

    private (long Start, SafeFileHandle Segment) SegmentAt(long position)
    {
        lock (_segmentsGate)
        {
            // The last segment starting at or before the position; a position at a segment's end is the next one's start.
            for (var i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments.Keys[i] <= position) return (_segments.Keys[i], _segments.Values[i]);
            }
        }
        throw new InvalidDataException($"the inbox {_directory} has no segment holding position {position}");
    }

    private void AddSegment(long start)
    {
        var segment = File.OpenHandle(Path.Combine(_directory, $"{start:D19}{SegmentSuffix}"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        FlushDirectory(_directory);
        _segments.Add(start, segment);
    }

    /// <summary>Deletes every segment but the last whose records all lie before the consumed position.</summary>
    private void DeleteConsumedSegments()
    {
        while (_segments.Count > 1 && _segments.Keys[1] <= _consumed)
        {
            var start = _segments.Keys[0];
            _segments.Values[0].Dispose();
            _segments.RemoveAt(0);
            File.Delete(Path.Combine(_directory, $"{start:D19}{SegmentSuffix}"));
        }
    }

    /// <summary>Makes a new file's name durable: on Linux that takes an fsync of its folder, which .NET does not offer.</summary>
    private static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        var descriptor = OpenDirectory(directory, 0);
        if (descriptor < 0) throw new IOException($"cannot open {directory} to make a new inbox segment durable (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (FlushDescriptor(descriptor) != 0) throw new IOException($"cannot make a new inbox segment in {directory} durable (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            // A folder opened only to be flushed holds nothing a failed close could lose.
            _ = CloseDescriptor(descriptor);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenDirectory(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FlushDescriptor(int descriptor);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseDescriptor(int descriptor);

    public void Dispose()
    {
        lock (_segmentsGate)
        {
            foreach (var segment in _segments.Values) segment.Dispose();
            _segments.Clear();
        }
        _lock.Dispose();
    }
}

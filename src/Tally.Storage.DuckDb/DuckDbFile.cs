using DuckDB.NET.Data;
using Tally.Core.Store;

namespace Tally.Storage.DuckDb;

/// <summary>
/// One DuckDB file as this process holds it. DuckDB lets a single process open a file read-write, and
/// inside that process every connection shares one database; so every store opened on the file here
/// shares one writer connection, its write lock, the partition registry and the salts handed out, and
/// a second store on the file behaves as the first (the contract's second process, in one process).
/// </summary>
internal sealed class DuckDbFile
{
    private static readonly Dictionary<string, DuckDbFile> Opened = new(StringComparer.Ordinal);
    private static readonly Lock OpenedLock = new();
    private int _users;

    private DuckDbFile(string path)
    {
        Path = path;
        ConnectionString = $"Data Source={path}";
        Writer = new DuckDBConnection(ConnectionString);
        try
        {
            Writer.Open();
        }
        catch (DuckDBException e) when (e.Message.Contains("Could not set lock", StringComparison.Ordinal))
        {
            Writer.Dispose();
            throw new InvalidOperationException(
                $"the data folder {System.IO.Path.GetDirectoryName(path)} is in use by another Tally process; one process at a time can open a DuckDB store ({e.Message})", e);
        }
    }

    public string Path { get; }
    public string ConnectionString { get; }
    public DuckDBConnection Writer { get; }
    public SemaphoreSlim WriteLock { get; } = new(1, 1);
    /// <summary>Raw partitions by type and period start; changed under the write lock.</summary>
    public Dictionary<(string Type, DateTime Start), string> Partitions { get; } = [];
    /// <summary>Each partition's columns in table order, as the appender fills them; changed under the write lock.</summary>
    public Dictionary<string, ColumnSlot[]> Layouts { get; } = new(StringComparer.Ordinal);
    public SaltCache Salts { get; } = new();
    /// <summary>The sequence number the next stored event takes; changed under the write lock, when a write commits.</summary>
    public long NextSeq { get; set; }
    /// <summary>The stored counter's value (tally_event_seq): every number below it is taken, so this process may hand them out.</summary>
    public long SeqReserved { get; set; }
    /// <summary>Whether the tables every store needs were made since the file was opened.</summary>
    public bool Prepared { get; set; }

    public static DuckDbFile Acquire(string path)
    {
        lock (OpenedLock)
        {
            if (!Opened.TryGetValue(path, out var file)) Opened[path] = file = new DuckDbFile(path);
            file._users++;
            return file;
        }
    }

    /// <summary>Closes the file when its last store lets go, after any write under way.</summary>
    public async ValueTask ReleaseAsync()
    {
        lock (OpenedLock)
        {
            if (--_users > 0) return;
            Opened.Remove(Path);
        }
        await WriteLock.WaitAsync();
        await Writer.DisposeAsync();
        WriteLock.Dispose();
    }
}

/// <summary>What fills one column of a raw partition: an envelope value, the event's sequence number, a field (by ordinal), or the extra JSON.</summary>
internal readonly record struct ColumnSlot(ColumnSource Source, int Ordinal = -1);

internal enum ColumnSource { Id, Time, Robot, Visitor, Session, Seq, Field, Extra }

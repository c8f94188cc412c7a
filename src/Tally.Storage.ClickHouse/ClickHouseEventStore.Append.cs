using System.Security.Cryptography;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.ClickHouse.ClickHouseNames;
using static Tally.Storage.ClickHouse.ClickHouseSql;

namespace Tally.Storage.ClickHouse;

/// <summary>Appending events, and the daily salts that processing asks for while it appends.</summary>
public sealed partial class ClickHouseEventStore
{
    /// <summary>Partitions and dirty days come from the time as a DateTime and a Date, which 18.16 handles up to the end of 2105.</summary>
    private static readonly DateTime LastStorableTime = ClickHouseSql.LastDate.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);

    public async Task<bool[]> AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return [];
        await _writeLock.WaitAsync(cancellationToken);
        await using var append = new AppendTransaction(this, spoolToDisk: false);
        var stored = await append.StoreAsync(events, cancellationToken);
        await append.CommitAsync(cancellationToken);
        return stored;
    }

    public async Task<IAppendTransaction> BeginAppendAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        return new AppendTransaction(this, spoolToDisk: true);
    }

    /// <summary>The ids among <paramref name="ids"/> that are already stored.</summary>
    private async Task<HashSet<string>> StoredIdsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) =>
        ids.Count == 0 ? [] : (await Db.QueryListAsync($"SELECT DISTINCT id FROM {EventIds} WHERE id IN {IdList}", IdTable(ids), row => row.GetString(0), cancellationToken))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// ClickHouse has no transactions, so a transaction is the write lock plus a buffer: events are
    /// checked against stored ids as they come, written as RowBinary to a spool per type (memory for one
    /// batch, a temporary file for a whole log file), and inserted on commit. Disposing without a
    /// commit throws the spools away. Should a commit fail halfway, appending the same events again
    /// stores exactly those that are missing, since stored ids are recognised.
    /// </summary>
    private sealed class AppendTransaction(ClickHouseEventStore store, bool spoolToDisk) : IAppendTransaction
    {
        private readonly Dictionary<EventType, EventSpool> _spools = [];
        private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
        /// <summary>Salts made inside this transaction: stored and shared with the store only once committed.</summary>
        private readonly Dictionary<DateOnly, byte[]> _newSalts = [];
        /// <summary>Salts may be asked for while a batch is being appended (processing runs beside writing).</summary>
        private readonly SemaphoreSlim _gate = new(1, 1);
        private AppendCounts _counts;
        private bool _ended;

        public Task AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken) => StoreAsync(events, cancellationToken);

        /// <summary>Per event, true when stored and false when its id was already stored, here or before.</summary>
        public async Task<bool[]> StoreAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            foreach (var e in events)
            {
                if (e.Timestamp < DateTime.UnixEpoch || e.Timestamp >= LastStorableTime)
                    throw new ArgumentOutOfRangeException(nameof(events), e.Timestamp, $"event '{e.Id}': ClickHouse stores times from {DateTime.UnixEpoch:O} until {LastStorableTime:O}");
            }
            await _gate.WaitAsync(cancellationToken);
            try
            {
                var stored = await store.StoredIdsAsync(events.Select(e => e.Id).Where(id => !_ids.Contains(id)).ToList(), cancellationToken);
                var result = new bool[events.Count];
                for (var i = 0; i < events.Count; i++)
                {
                    var e = events[i];
                    if (stored.Contains(e.Id) || !_ids.Add(e.Id)) continue;
                    if (!_spools.TryGetValue(e.Type, out var spool))
                    {
                        await store.EnsureEventTableAsync(e.Type, cancellationToken);
                        _spools[e.Type] = spool = new EventSpool(e.Type, spoolToDisk);
                    }
                    await spool.WriteAsync(e, cancellationToken);
                    result[i] = true;
                }
                _counts = _counts.Add(result);
                return result;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
        {
            if (store.CachedSalt(day) is { } cached) return cached;
            await _gate.WaitAsync(cancellationToken);
            try
            {
                if (_newSalts.TryGetValue(day, out var made)) return made;
                if (await store.ReadSaltAsync(day, cancellationToken) is { } stored) return await store.UseSaltAsync(day, stored, cancellationToken);
                return _newSalts[day] = RandomNumberGenerator.GetBytes(32);
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>Inserts each type's events (the views record their ids and dirty days), then the new salts.</summary>
        public async Task<AppendCounts> CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            await _gate.WaitAsync(cancellationToken);
            try
            {
                foreach (var spool in _spools.Values)
                    await store.Db.InsertRawAsync(Events(spool.Type.Name), spool.Columns, spool.CopyToAsync, cancellationToken);
                await store.InsertSaltsAsync(_newSalts, cancellationToken);
                // Another process may have made a salt for the same day first; the earliest is the day's salt.
                foreach (var day in _newSalts.Keys) store.CacheSalt(day, (await store.ReadSaltAsync(day, cancellationToken))!);
                await EndAsync();
                return _counts;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_ended) await EndAsync();
        }

        private async Task EndAsync()
        {
            _ended = true;
            foreach (var spool in _spools.Values) await spool.DisposeAsync();
            store._writeLock.Release();
        }
    }

    /// <summary>One type's events of a transaction, as RowBinary rows of <see cref="Columns"/>, waiting for the commit.</summary>
    private sealed class EventSpool : IAsyncDisposable
    {
        private readonly Stream _stream;
        private readonly RowBinaryWriter _writer;

        public EventSpool(EventType type, bool onDisk)
        {
            Type = type;
            Columns = [.. Envelope, .. type.Fields.Select(f => Field(f.Name)), "extra"];
            _stream = onDisk
                ? new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous)
                : new MemoryStream();
            _writer = new RowBinaryWriter(_stream);
        }

        public EventType Type { get; }

        public IReadOnlyList<string> Columns { get; }

        public ValueTask WriteAsync(TallyEvent e, CancellationToken cancellationToken)
        {
            _writer.WriteString(e.Id);
            _writer.WriteInt64(ToMs(e.Timestamp));
            _writer.WriteBoolean(e.IsRobot);
            _writer.WriteInt64(e.VisitorId);
            _writer.WriteInt64(e.SessionId);
            foreach (var field in Type.Fields)
            {
                var value = e.Values[field.Ordinal];
                switch (field.Type)
                {
                    case FieldType.Integer: _writer.WriteNullableInt64((long?)value); break;
                    case FieldType.Number: _writer.WriteNullableFloat64((double?)value); break;
                    case FieldType.Boolean: _writer.WriteNullableBoolean((bool?)value); break;
                    default: _writer.WriteNullableString((string?)value); break;
                }
            }
            _writer.WriteNullableString(e.Extra);
            return _writer.FlushIfFullAsync(cancellationToken);
        }

        public async Task CopyToAsync(Stream target, CancellationToken cancellationToken)
        {
            await _writer.FlushAsync(cancellationToken);
            _stream.Position = 0;
            await _stream.CopyToAsync(target, cancellationToken);
        }

        public ValueTask DisposeAsync() => _stream.DisposeAsync();
    }

    // ---- salts -------------------------------------------------------------------------------

    public async ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
    {
        if (CachedSalt(day) is { } cached) return cached;
        // Under the write lock, so a salt is never made beside a transaction that may be making the same day's.
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            if (await ReadSaltAsync(day, cancellationToken) is { } salt) return await UseSaltAsync(day, salt, cancellationToken);
            await InsertSaltsAsync(new Dictionary<DateOnly, byte[]> { [day] = RandomNumberGenerator.GetBytes(32) }, cancellationToken);
            return CacheSalt(day, (await ReadSaltAsync(day, cancellationToken))!);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private byte[]? CachedSalt(DateOnly day) => _salts.Get(day);

    private byte[] CacheSalt(DateOnly day, byte[] salt) => _salts.Put(day, salt);

    /// <summary>Records today as the last use of a stored salt, and keeps it at hand for the rest of the day.</summary>
    private async Task<byte[]> UseSaltAsync(DateOnly day, byte[] salt, CancellationToken cancellationToken)
    {
        await RecordSaltUsesAsync([day], cancellationToken);
        return CacheSalt(day, salt);
    }

    private Task RecordSaltUsesAsync(IReadOnlyCollection<DateOnly> days, CancellationToken cancellationToken)
    {
        var today = SaltCache.Today;
        return Db.InsertAsync(SaltUses, ["day", "used"], days, (w, day) =>
        {
            w.WriteDate(day);
            w.WriteDate(today);
        }, cancellationToken);
    }

    /// <summary>The day's salt: of all inserted for the day, the earliest created, so every process settles on the same one.</summary>
    private async Task<byte[]?> ReadSaltAsync(DateOnly day, CancellationToken cancellationToken) =>
        (await Db.QueryListAsync($"SELECT salt FROM {Salts} WHERE day = {Quote(day)} ORDER BY created, salt LIMIT 1",
            row => Convert.FromHexString(row.GetString(0)), cancellationToken)).SingleOrDefault();

    /// <summary>Inserts salts as created and used now: a day that already has one keeps it.</summary>
    private async Task InsertSaltsAsync(IReadOnlyDictionary<DateOnly, byte[]> salts, CancellationToken cancellationToken)
    {
        if (salts.Count == 0) return;
        var created = NextVersion();
        await Db.InsertAsync(Salts, ["day", "salt", "created"], salts, (w, salt) =>
        {
            w.WriteDate(salt.Key);
            w.WriteString(Convert.ToHexString(salt.Value));
            w.WriteUInt64(created);
        }, cancellationToken);
        await RecordSaltUsesAsync(salts.Keys.ToList(), cancellationToken);
    }

    public async Task PurgeSaltsUnusedSinceAsync(DateOnly cutoff, CancellationToken cancellationToken)
    {
        var lastUsed = (await Db.QueryListAsync($"SELECT day, max(used) FROM {SaltUses} GROUP BY day",
            row => (Day: row.GetDate(0), Used: row.GetDate(1)), cancellationToken)).ToDictionary(u => u.Day, u => u.Used);
        foreach (var partition in (await _cluster.PartitionsAsync(Salts, cancellationToken)).Keys)
        {
            var salted = DateOnly.ParseExact(partition.Trim('\''), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            // Salts stored before uses were recorded count as last used on their own day.
            if (lastUsed.GetValueOrDefault(salted, salted) >= cutoff) continue;
            await _cluster.DropPartitionAsync(Salts, Quote(salted), cancellationToken);
            await _cluster.DropPartitionAsync(SaltUses, Quote(salted), cancellationToken);
        }
        _salts.Clear();
    }
}

using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using DuckDB.NET.Data;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Storage.DuckDb;

public sealed partial class DuckDbEventStore
{
    public async Task<bool[]> AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return [];
        await using var append = await BeginAsync(cancellationToken);
        var stored = append.Store(events);
        await append.CommitAsync(cancellationToken);
        return stored;
    }

    public async Task<IAppendTransaction> BeginAppendAsync(CancellationToken cancellationToken) => await BeginAsync(cancellationToken);

    /// <summary>
    /// How many events a transaction appends before it settles their claims: often enough that settling overlaps
    /// a file's reading and its claims stay small, rarely enough that the scan of the stored ids each settling
    /// makes stays a small share (measured on 1 M lines: settling every 2^20 events left 4.5 s of settling and
    /// commit after the last line was read, every 2^18 about 2 s).
    /// </summary>
    internal const int SettleEvery = 1 << 18;

    private async Task<AppendTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        await _file.WriteLock.WaitAsync(cancellationToken);
        try
        {
            return new AppendTransaction(this, _file.Writer.BeginTransaction());
        }
        catch
        {
            _file.WriteLock.Release();
            throw;
        }
    }

    /// <summary>
    /// Holds the write lock and one DuckDB transaction from begin until commit or dispose. The batches of a transaction
    /// (a file) go straight into their partitions through DuckDB's appender, each event with the next number of the
    /// store's sequence, and their ids' keys (the first 128 bits of their SHA-256) into tally_claims. Settling joins the
    /// claims with the stored ids once, deletes the events that lost by sequence number and records the winners' ids.
    /// </summary>
    /// <remarks>
    /// Settling batch by batch joined each batch with every id stored, the transaction's own included, which made a
    /// 1 M-line import spend 10 of its 15 s there, growing with the square of its size. A transaction settles every
    /// <see cref="SettleEvery"/> events, and when it commits. A single batch (a request, a copy) is stored by
    /// <see cref="Store"/> instead, which claims first.
    /// </remarks>
    private sealed class AppendTransaction(DuckDbEventStore store, DuckDBTransaction transaction) : IAppendTransaction
    {
        private readonly DuckDbFile _file = store._file;
        private readonly List<((string, DateTime) Key, string Name)> _created = [];
        /// <summary>
        /// Salts made inside this transaction, shared with the store only once committed. Read without <see cref="_gate"/>:
        /// processing asks for them on every batch, and must not wait while the writer holds the gate for a whole batch.
        /// </summary>
        private readonly ConcurrentDictionary<DateOnly, byte[]> _newSalts = [];
        /// <summary>Salts may be asked for while a batch is being written (processing runs beside writing); one connection serves both.</summary>
        private readonly Lock _gate = new();
        private UInt128[] _keys = [];
        private long _nextSeq = store._file.NextSeq;
        private long _unsettled;
        private AppendCounts _counts;
        private bool _ended;

        public Task AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            lock (_gate)
            {
                var partitions = PartitionsOf(events);
                Claim(events, Keys(events), partitions, chosen: null);
                Write(events, partitions, chosen: null);
                _unsettled += events.Count;
                if (_unsettled >= SettleEvery) Settle();
            }
            return Task.CompletedTask;
        }

        /// <summary>
        /// Stores one batch, claiming its ids before its rows are written: for the few events of a request or two this
        /// takes fewer statements than appending and settling, and statements are most of what such a write costs.
        /// Per event, true when stored and false when its id was already stored.
        /// </summary>
        public bool[] Store(IReadOnlyList<TallyEvent> events)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            lock (_gate)
            {
                // The first event with an id in the batch is the one that may be stored.
                var keys = Keys(events);
                var partitions = PartitionsOf(events);
                var first = new Dictionary<UInt128, int>(events.Count);
                var claimed = new bool[events.Count];
                for (var i = 0; i < events.Count; i++) claimed[i] = first.TryAdd(keys[i], i);
                Claim(events, keys, partitions, claimed);
                var stored = new bool[events.Count];
                using (var claim = Command(_file.Writer, "INSERT INTO tally_event_ids SELECT id, partition FROM tally_claims ANTI JOIN tally_event_ids USING (id) RETURNING id"))
                using (var reader = claim.ExecuteReader())
                {
                    while (reader.Read()) stored[first[(UInt128)reader.GetFieldValue<BigInteger>(0)]] = true;
                }
                Execute(_file.Writer, "DELETE FROM tally_claims");
                Write(events, partitions, stored);
                store.MarkDirty([.. Enumerable.Range(0, events.Count).Where(i => stored[i])
                    .Select(i => (Type: events[i].Type.Name, Day: DateOnly.FromDateTime(events[i].Timestamp))).Distinct().Select(d => (d.Type, d.Day, d.Day))]);
                _counts = _counts.Add(stored);
                return stored;
            }
        }

        /// <summary>
        /// Puts the keys of the chosen events' ids (all when <paramref name="chosen"/> is null) into tally_claims, with the
        /// sequence numbers <see cref="Write"/> gives the same events when it writes them all, by which settling finds the
        /// losers' rows (<see cref="Store"/> writes only winners and drops its claims first).
        /// </summary>
        private void Claim(IReadOnlyList<TallyEvent> events, UInt128[] keys, string[] partitions, bool[]? chosen)
        {
            using var claims = _file.Writer.CreateAppender("tally_claims");
            var seq = _nextSeq;
            for (var i = 0; i < events.Count; i++)
            {
                if (chosen is not null && !chosen[i]) continue;
                claims.CreateRow().AppendValue(keys[i]).AppendValue(partitions[i]).AppendValue(seq++).AppendValue(DateOnly.FromDateTime(events[i].Timestamp)).EndRow();
            }
        }

        /// <summary>Appends the chosen events (all when <paramref name="chosen"/> is null) to their partitions, each with the next sequence number.</summary>
        private void Write(IReadOnlyList<TallyEvent> events, string[] partitions, bool[]? chosen)
        {
            var appenders = new Dictionary<string, (DuckDBAppender Appender, ColumnSlot[] Layout)>(StringComparer.Ordinal);
            try
            {
                for (var i = 0; i < events.Count; i++)
                {
                    if (chosen is not null && !chosen[i]) continue;
                    var e = events[i];
                    var partition = partitions[i];
                    if (!appenders.TryGetValue(partition, out var target))
                        appenders[partition] = target = (_file.Writer.CreateAppender(partition), LayoutOf(partition, e.Type));
                    AppendRow(target.Appender.CreateRow(), target.Layout, e, _nextSeq++);
                }
            }
            finally
            {
                foreach (var (appender, _) in appenders.Values) appender.Dispose();
            }
        }

        /// <summary>Each event's partition, made in this transaction when it is the period's first event.</summary>
        private string[] PartitionsOf(IReadOnlyList<TallyEvent> events)
        {
            var partitions = new string[events.Count];
            for (var i = 0; i < partitions.Length; i++) partitions[i] = PartitionFor(events[i].Type, events[i].Timestamp);
            return partitions;
        }

        /// <summary>
        /// The events' id keys, in a buffer this transaction reuses (under <see cref="_gate"/>): a file's batches would
        /// otherwise each leave a large-object array behind, and those set off full garbage collections.
        /// </summary>
        private UInt128[] Keys(IReadOnlyList<TallyEvent> events)
        {
            if (_keys.Length < events.Count) _keys = new UInt128[events.Count];
            for (var i = 0; i < events.Count; i++) _keys[i] = IdKey(events[i].Id);
            return _keys;
        }

        /// <summary>The key an id is claimed by: the first 128 bits of the SHA-256 of its UTF-8.</summary>
        private static UInt128 IdKey(string id)
        {
            Span<byte> utf8 = id.Length <= 256 ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(id.Length)] : new byte[Encoding.UTF8.GetMaxByteCount(id.Length)];
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(id, utf8)], hash);
            return BinaryPrimitives.ReadUInt128BigEndian(hash);
        }

        /// <summary>
        /// Decides the claims made since the last settling. An event loses when its id was stored before, or when an
        /// earlier event of this transaction has its id; losers are deleted from their partitions. The winners' ids
        /// are recorded and their days marked for aggregation.
        /// </summary>
        private void Settle()
        {
            var writer = _file.Writer;
            // The losers are kept for the statements below and read back in the same statement (usually none).
            var losing = new Dictionary<string, long>(StringComparer.Ordinal);
            using (var command = Command(writer, """
                INSERT INTO tally_losers
                SELECT seq, partition FROM tally_claims SEMI JOIN tally_event_ids USING (id)
                UNION
                SELECT c.seq, c.partition FROM tally_claims c
                JOIN (SELECT id, min(seq) AS first FROM tally_claims GROUP BY id HAVING count(*) > 1) repeated USING (id)
                WHERE c.seq <> repeated.first
                RETURNING partition
                """))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    var partition = reader.GetString(0);
                    losing[partition] = losing.GetValueOrDefault(partition) + 1;
                }
            }
            foreach (var partition in losing.Keys)
                Execute(writer, $"DELETE FROM {partition} WHERE seq IN (SELECT seq FROM tally_losers WHERE partition = '{partition}')");
            Execute(writer, """
                INSERT INTO tally_event_ids SELECT id, partition FROM tally_claims ANTI JOIN tally_losers USING (seq);
                INSERT INTO tally_dirty (type, day, version)
                SELECT DISTINCT p.type, c.day, 1 FROM tally_claims c ANTI JOIN tally_losers USING (seq) JOIN tally_partitions p ON p.name = c.partition
                ON CONFLICT (type, day) DO UPDATE SET version = tally_dirty.version + 1;
                DELETE FROM tally_claims;
                DELETE FROM tally_losers;
                """);
            var lost = losing.Values.Sum();
            _counts = new AppendCounts(_counts.Stored + _unsettled - lost, _counts.Duplicates + lost);
            _unsettled = 0;
        }

        private static void AppendRow(IDuckDBAppenderRow row, ColumnSlot[] layout, TallyEvent e, long seq)
        {
            foreach (var slot in layout)
            {
                row = slot.Source switch
                {
                    ColumnSource.Id => row.AppendValue(e.Id),
                    ColumnSource.Time => row.AppendValue(e.Timestamp),
                    ColumnSource.Robot => row.AppendValue(e.IsRobot),
                    ColumnSource.Visitor => row.AppendValue(e.VisitorId),
                    ColumnSource.Session => row.AppendValue(e.SessionId),
                    ColumnSource.Seq => row.AppendValue(seq),
                    ColumnSource.Extra => row.AppendValue(e.Extra),
                    // The column of a field no longer configured.
                    _ when slot.Ordinal < 0 => row.AppendNullValue(),
                    _ => e.Values[slot.Ordinal] switch
                    {
                        null => row.AppendNullValue(),
                        string s => row.AppendValue(s),
                        long n => row.AppendValue(n),
                        double x => row.AppendValue(x),
                        bool b => row.AppendValue(b),
                        var other => throw new InvalidOperationException($"field '{e.Type.Fields[slot.Ordinal].Name}' holds a {other.GetType().Name}"),
                    },
                };
            }
            row.EndRow();
        }

        /// <summary>Which value fills each column of a partition, in table order (fields added by setup come after extra).</summary>
        private ColumnSlot[] LayoutOf(string partition, EventType type)
        {
            if (_file.Layouts.TryGetValue(partition, out var layout)) return layout;
            layout = [.. ColumnList(_file.Writer, partition).Select(column => column switch
            {
                "id" => new ColumnSlot(ColumnSource.Id),
                "ts" => new ColumnSlot(ColumnSource.Time),
                "robot" => new ColumnSlot(ColumnSource.Robot),
                "visitor" => new ColumnSlot(ColumnSource.Visitor),
                "session" => new ColumnSlot(ColumnSource.Session),
                "seq" => new ColumnSlot(ColumnSource.Seq),
                "extra" => new ColumnSlot(ColumnSource.Extra),
                _ => new ColumnSlot(ColumnSource.Field, type.OrdinalOf(column[2..])),
            })];
            _file.Layouts[partition] = layout;
            return layout;
        }

        private string PartitionFor(EventType type, DateTime timestamp)
        {
            var start = type.Partition.PeriodStart(timestamp);
            if (_file.Partitions.TryGetValue((type.Name, start), out var name)) return name;
            foreach (var (key, createdName) in _created)
            {
                if (key == (type.Name, start)) return createdName;
            }
            name = DuckDbNames.Partition(type, start);
            var fields = string.Concat(type.Fields.Select(f => $", {DuckDbNames.Field(f.Name)} {DuckDbNames.ColumnType(f.Type)}"));
            Execute(_file.Writer, $"CREATE TABLE IF NOT EXISTS {name} (id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, robot BOOLEAN NOT NULL, visitor BIGINT NOT NULL, session BIGINT NOT NULL, seq BIGINT{fields}, extra VARCHAR)");
            using (var register = Command(_file.Writer, "INSERT INTO tally_partitions (name, type, start_ts, end_ts) VALUES ($n, $t, $s, $e) ON CONFLICT DO NOTHING"))
            {
                Bind(register, "n", name);
                Bind(register, "t", type.Name);
                Bind(register, "s", start);
                Bind(register, "e", type.Partition.NextPeriod(start));
                register.ExecuteNonQuery();
            }
            _created.Add(((type.Name, start), name));
            return name;
        }

        public ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
        {
            if ((_file.Salts.Get(day) ?? _newSalts.GetValueOrDefault(day)) is { } known) return ValueTask.FromResult(known);
            lock (_gate)
            {
                if (!_newSalts.TryGetValue(day, out var salt)) _newSalts[day] = salt = store.SaltsOf([day])[day];
                return ValueTask.FromResult(salt);
            }
        }

        public Task<AppendCounts> CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            var reserved = _file.SeqReserved;
            lock (_gate)
            {
                if (_unsettled > 0) Settle();
                if (_nextSeq > reserved) reserved = ReserveSeq(_file.Writer, _nextSeq);
                transaction.Commit();
            }
            _file.NextSeq = _nextSeq;
            _file.SeqReserved = reserved;
            foreach (var (key, name) in _created) _file.Partitions[key] = name;
            foreach (var (day, salt) in _newSalts) _file.Salts.Put(day, salt);
            End();
            return Task.FromResult(_counts);
        }

        /// <summary>Without a commit, rolls everything back, including partitions and salts it created.</summary>
        public ValueTask DisposeAsync()
        {
            if (!_ended)
            {
                foreach (var (_, name) in _created) _file.Layouts.Remove(name);
                End();
            }
            return ValueTask.CompletedTask;
        }

        private void End()
        {
            _ended = true;
            transaction.Dispose();
            _file.WriteLock.Release();
        }
    }
}

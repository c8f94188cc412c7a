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
    /// Holds the write lock and one DuckDB transaction from begin until commit or dispose. Events go straight into
    /// their partitions through DuckDB's appender, each with the next number of the store's sequence, and their
    /// ids are claimed when the transaction settles: their keys, the first 128 bits of their SHA-256, go into tally_claims,
    /// which is joined with the stored ids once; the events that lost are deleted by sequence number and the winners' ids
    /// recorded.
    /// </summary>
    /// <remarks>
    /// Settling batch by batch joined each batch with every id stored, the transaction's own included, which made a
    /// 1 M-line import spend 10 of its 15 s there, growing with the square of its size. A transaction settles every
    /// <see cref="SettleEvery"/> events, and when it commits.
    /// </remarks>
    private sealed class AppendTransaction(DuckDbEventStore store, DuckDBTransaction transaction) : IAppendTransaction
    {
        private readonly DuckDbFile _file = store._file;
        private readonly List<((string, DateTime) Key, string Name)> _created = [];
        /// <summary>Salts made or used inside this transaction: shared with the store only once committed.</summary>
        private readonly Dictionary<DateOnly, byte[]> _newSalts = [];
        /// <summary>Salts may be asked for while a batch is being written (processing runs beside writing); one connection serves both.</summary>
        private readonly Lock _gate = new();
        private long _nextSeq = store._file.NextSeq;
        /// <summary>Partitions that took events since the last settling, and the first sequence number since then.</summary>
        private readonly HashSet<string> _unsettledPartitions = new(StringComparer.Ordinal);
        private long _settledUpTo = store._file.NextSeq;
        private long _unsettled;
        private AppendCounts _counts;
        private bool _ended;

        public Task AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            lock (_gate)
            {
                Append(events);
                if (_unsettled >= SettleEvery) Settle(listLosers: false);
            }
            return Task.CompletedTask;
        }

        /// <summary>Appends and settles one batch: per event, true when stored and false when its id was already stored.</summary>
        public bool[] Store(IReadOnlyList<TallyEvent> events)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            lock (_gate)
            {
                var first = _nextSeq;
                Append(events);
                var stored = new bool[events.Count];
                Array.Fill(stored, true);
                foreach (var seq in Settle(listLosers: true)) stored[seq - first] = false;
                return stored;
            }
        }

        private void Append(IReadOnlyList<TallyEvent> events)
        {
            var appenders = new Dictionary<string, (DuckDBAppender Appender, ColumnSlot[] Layout)>(StringComparer.Ordinal);
            try
            {
                foreach (var e in events)
                {
                    var partition = PartitionFor(e.Type, e.Timestamp);
                    if (!appenders.TryGetValue(partition, out var target))
                    {
                        appenders[partition] = target = (_file.Writer.CreateAppender(partition), LayoutOf(partition, e.Type));
                        _unsettledPartitions.Add(partition);
                    }
                    AppendRow(target.Appender.CreateRow(), target.Layout, e, _nextSeq++);
                }
            }
            finally
            {
                foreach (var (appender, _) in appenders.Values) appender.Dispose();
            }
            _unsettled += events.Count;
        }

        /// <summary>
        /// Decides the claims made since the last settling. An event loses when its id was stored before, or when an
        /// earlier event of this transaction has its id; losers are deleted from their partitions. The winners' ids
        /// are recorded and their days marked for aggregation. Returns the losers' sequence numbers when asked.
        /// </summary>
        private List<long> Settle(bool listLosers)
        {
            var writer = _file.Writer;
            // The claims come from the partitions' own rows: DuckDB hashes the ids on every core, where .NET did it on the writer's one.
            using (var claim = Command(writer, "INSERT INTO tally_claims " + string.Join(" UNION ALL ", _unsettledPartitions.Select(partition =>
                $"SELECT tally_id_key(id), '{partition}', seq, ts::DATE FROM {partition} WHERE seq >= $from"))))
            {
                Bind(claim, "from", _settledUpTo);
                claim.ExecuteNonQuery();
            }
            Execute(writer, """
                CREATE OR REPLACE TEMP TABLE tally_losers AS
                SELECT seq, partition FROM tally_claims SEMI JOIN tally_event_ids USING (id)
                UNION
                SELECT c.seq, c.partition FROM tally_claims c
                JOIN (SELECT id, min(seq) AS first FROM tally_claims GROUP BY id HAVING count(*) > 1) repeated USING (id)
                WHERE c.seq <> repeated.first
                """);
            var losing = new List<(string Partition, long Count)>();
            using (var command = Command(writer, "SELECT partition, count(*) FROM tally_losers GROUP BY partition"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read()) losing.Add((reader.GetString(0), reader.GetInt64(1)));
            }
            foreach (var (partition, _) in losing)
                Execute(writer, $"DELETE FROM {partition} WHERE seq IN (SELECT seq FROM tally_losers WHERE partition = '{partition}')");
            var losers = new List<long>();
            if (listLosers && losing.Count > 0)
            {
                using var command = Command(writer, "SELECT seq FROM tally_losers");
                using var reader = command.ExecuteReader();
                while (reader.Read()) losers.Add(reader.GetInt64(0));
            }
            Execute(writer, """
                INSERT INTO tally_event_ids SELECT id, partition FROM tally_claims ANTI JOIN tally_losers USING (seq);
                INSERT INTO tally_dirty (type, day, version)
                SELECT DISTINCT p.type, c.day, 1 FROM tally_claims c ANTI JOIN tally_losers USING (seq) JOIN tally_partitions p ON p.name = c.partition
                ON CONFLICT (type, day) DO UPDATE SET version = tally_dirty.version + 1;
                DELETE FROM tally_claims;
                """);
            var lost = losing.Sum(l => l.Count);
            _counts = new AppendCounts(_counts.Stored + _unsettled - lost, _counts.Duplicates + lost);
            _unsettled = 0;
            _unsettledPartitions.Clear();
            _settledUpTo = _nextSeq;
            return losers;
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
            if (_file.Salts.Get(day) is { } cached) return ValueTask.FromResult(cached);
            lock (_gate)
            {
                if (!_newSalts.TryGetValue(day, out var salt)) _newSalts[day] = salt = store.SaltOf(day);
                return ValueTask.FromResult(salt);
            }
        }

        public Task<AppendCounts> CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            lock (_gate)
            {
                if (_unsettled > 0) Settle(listLosers: false);
                using (var next = Command(_file.Writer, "UPDATE tally_event_seq SET next = $next"))
                {
                    Bind(next, "next", _nextSeq);
                    next.ExecuteNonQuery();
                }
                transaction.Commit();
            }
            _file.NextSeq = _nextSeq;
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

using System.Data;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. Raw events live in one table per event type and
/// period (a partition), metrics in one table per aggregation and period kind. A single writer
/// connection serialises writes; reads use pooled connections and never block it.
/// </summary>
public sealed class SqliteEventStore : IEventStore
{
    private const string Envelope = "id, ts, robot, visitor, session";
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<(string Type, DateTime Start), string> _partitions = [];
    /// <summary>Prepared inserts by partition and by which fields an event sets (see <see cref="InsertCommand"/>).</summary>
    private readonly Dictionary<(string Partition, ulong Shape), SqliteCommand> _inserts = [];
    private readonly SaltCache _salts = new();
    /// <summary>The writer's open transaction, held under the write lock.</summary>
    private SqliteTransaction? _transaction;
    private readonly SqliteMetricComputer _computer;

    private SqliteEventStore(string path, bool durable)
    {
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 60 }.ToString();
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        // WAL lets readers run beside the writer. synchronous=FULL makes each commit survive power loss,
        // which is what a 202 promises; NORMAL survives only a process crash.
        Execute(_writer, $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(durable ? "FULL" : "NORMAL")}; PRAGMA busy_timeout=60000;");
        Execute(_writer, """
            CREATE TABLE IF NOT EXISTS tally_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_types (type TEXT PRIMARY KEY, granularity TEXT NOT NULL, fields TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_partitions (name TEXT PRIMARY KEY, type TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_event_ids (id TEXT PRIMARY KEY, partition TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS tally_dirty (type TEXT NOT NULL, day INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (type, day)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS tally_salts (day INTEGER PRIMARY KEY, salt BLOB NOT NULL, last_used INTEGER);
            CREATE TABLE IF NOT EXISTS tally_aggregations (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_items (id TEXT PRIMARY KEY, updated_ms INTEGER NOT NULL, metadata TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_saved_queries (name TEXT PRIMARY KEY, definition TEXT NOT NULL, version INTEGER NOT NULL);
            """);
        // Stores made before salts recorded their last use.
        if (!Columns("tally_salts").Contains("last_used")) Execute(_writer, "ALTER TABLE tally_salts ADD COLUMN last_used INTEGER");
        foreach (var period in (MetricPeriod[])[MetricPeriod.Day, MetricPeriod.Month])
        {
            var table = CounterTable(period);
            var dimensions = string.Concat(CounterNames.Dimensions.Select(d => $", {CounterNames.Column(d)} TEXT"));
            var metrics = string.Concat(CounterNames.Metrics.Select(m => $", {CounterNames.Column(m)} INTEGER NOT NULL"));
            Execute(_writer, $"CREATE TABLE IF NOT EXISTS {table} (period INTEGER NOT NULL, month INTEGER NOT NULL{dimensions}{metrics}); " +
                $"CREATE INDEX IF NOT EXISTS ix_{table}_period ON {table} (period);");
        }
        using var command = Command(_writer, "SELECT name, type, start_ms FROM tally_partitions");
        using var reader = command.ExecuteReader();
        while (reader.Read())
            _partitions[(reader.GetString(1), FromMs(reader.GetInt64(2)))] = reader.GetString(0);
        _computer = new SqliteMetricComputer(this, _writer);
    }

    public string Path { get; private init; } = "";

    /// <summary>The store's file in its data folder.</summary>
    public const string FileName = "tally.db";

    /// <summary>Opens (creating if needed) the store file <c>tally.db</c> in <paramref name="dataDirectory"/>.</summary>
    public static SqliteEventStore Open(string dataDirectory, bool durable = true)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = System.IO.Path.Combine(dataDirectory, FileName);
        return new SqliteEventStore(path, durable) { Path = path };
    }

    // ---- schema ----------------------------------------------------------------------------

    public async Task SetupAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var transaction = Begin();
            var templates = ReadTemplates(_writer);
            var signatures = ReadAggregationSignatures(_writer);
            foreach (var type in schema.EventTypes.Values)
            {
                StorageTemplates.RequireCompatible(type, templates.GetValueOrDefault(type.Name), HasPartitions(type.Name));
                foreach (var partition in PartitionsOf(type.Name))
                {
                    var columns = Columns(partition);
                    foreach (var field in type.Fields.Where(f => !columns.Contains(SqliteNames.Field(f.Name))))
                        Execute(_writer, $"ALTER TABLE {partition} ADD COLUMN {SqliteNames.Field(field.Name)} {SqliteNames.ColumnType(field.Type)}");
                }
                using var upsert = Command(_writer, "INSERT INTO tally_types (type, granularity, fields) VALUES ($t, $g, $f) ON CONFLICT (type) DO UPDATE SET granularity = $g, fields = $f");
                upsert.Parameters.AddWithValue("$t", type.Name);
                upsert.Parameters.AddWithValue("$g", type.Partition.Name());
                upsert.Parameters.AddWithValue("$f", TypeTemplate.Of(type).FieldsJson);
                upsert.ExecuteNonQuery();
            }
            foreach (var aggregation in schema.Aggregations.Values)
            {
                var definition = StorageTemplates.AggregationSignature(aggregation);
                if (signatures.GetValueOrDefault(aggregation.Name) == definition) continue;
                // Metrics are derived data: when their shape changes, recreate them and restate from raw events.
                foreach (var period in new[] { MetricPeriod.Day, MetricPeriod.Month })
                {
                    var table = SqliteNames.Metrics(aggregation, period);
                    Execute(_writer, $"DROP TABLE IF EXISTS {table}");
                    var keys = aggregation.GroupBy.Select(f => $"{SqliteNames.Key(f.Name)} TEXT");
                    var sums = aggregation.SumFields.SelectMany(f => new[] { $"sum_{f.Name} REAL NOT NULL", $"n_{f.Name} INTEGER NOT NULL" });
                    var columns = string.Join(", ", new[] { "period INTEGER NOT NULL", "grouping_set INTEGER NOT NULL" }.Concat(keys)
                        .Concat(["count INTEGER NOT NULL", "unique_visitors INTEGER NOT NULL", "unique_sessions INTEGER NOT NULL"]).Concat(sums));
                    Execute(_writer, $"CREATE TABLE {table} ({columns}); CREATE INDEX ix_{table}_period ON {table} (grouping_set, period)");
                }
                MarkAllPartitionsDirty(aggregation.EventType);
                using var upsert = Command(_writer, "INSERT INTO tally_aggregations (name, definition) VALUES ($n, $d) ON CONFLICT (name) DO UPDATE SET definition = $d");
                upsert.Parameters.AddWithValue("$n", aggregation.Name);
                upsert.Parameters.AddWithValue("$d", definition);
                upsert.ExecuteNonQuery();
            }
            transaction.Commit();
            foreach (var insert in _inserts.Values) insert.Dispose();
            _inserts.Clear();
        }
        finally
        {
            _transaction = null;
            _writeLock.Release();
        }
    }

    public async Task<IReadOnlyList<string>> CheckAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var templates = ReadTemplates(connection);
        var differences = StorageTemplates.Differences(schema, templates, ReadAggregationSignatures(connection));
        foreach (var type in schema.EventTypes.Values.Where(t => templates.ContainsKey(t.Name)))
        {
            foreach (var partition in PartitionsOf(type.Name, connection))
            {
                var columns = Columns(partition, connection);
                foreach (var field in type.Fields.Where(f => !columns.Contains(SqliteNames.Field(f.Name))))
                    differences.Add($"partition {partition}: column for field '{field.Name}' is missing");
            }
        }
        return differences;
    }

    // ---- writing ---------------------------------------------------------------------------

    public async Task<bool[]> AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return [];
        await using var append = await BeginAsync(cancellationToken);
        var stored = append.Store(events);
        await append.CommitAsync(cancellationToken);
        return stored;
    }

    public async Task<IAppendTransaction> BeginAppendAsync(CancellationToken cancellationToken) => await BeginAsync(cancellationToken);

    private async Task<AppendTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            return new AppendTransaction(this, Begin());
        }
        catch
        {
            _transaction = null;
            _writeLock.Release();
            throw;
        }
    }

    /// <summary>Holds the write lock and one SQLite transaction from begin until commit or dispose.</summary>
    private sealed class AppendTransaction : IAppendTransaction
    {
        private readonly SqliteEventStore _store;
        private readonly SqliteTransaction _transaction;
        private readonly SqliteCommand _claimId;
        private readonly List<((string, DateTime) Key, string Name)> _created = [];
        private readonly HashSet<(string Type, int Day)> _touched = [];
        /// <summary>Salts made or used inside this transaction: shared with the store only once committed.</summary>
        private readonly Dictionary<DateOnly, byte[]> _newSalts = [];
        /// <summary>Salts may be asked for while a batch is being written (processing runs beside writing); one connection serves both.</summary>
        private readonly Lock _gate = new();
        private AppendCounts _counts;
        private bool _ended;

        public AppendTransaction(SqliteEventStore store, SqliteTransaction transaction)
        {
            _store = store;
            _transaction = transaction;
            _claimId = store.Command(store._writer, "INSERT INTO tally_event_ids (id, partition) VALUES ($id, $p) ON CONFLICT (id) DO NOTHING", transaction);
            _claimId.Parameters.Add("$id", SqliteType.Text);
            _claimId.Parameters.Add("$p", SqliteType.Text);
        }

        public Task AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            Store(events);
            return Task.CompletedTask;
        }

        /// <summary>Per event, true when stored and false when its id was already stored, here or before.</summary>
        public bool[] Store(IReadOnlyList<TallyEvent> events)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            lock (_gate)
            {
                var stored = Append(events);
                _counts = _counts.Add(stored);
                return stored;
            }
        }

        private bool[] Append(IReadOnlyList<TallyEvent> events)
        {
            var stored = new bool[events.Count];
            var idParameter = _claimId.Parameters[0];
            var partitionParameter = _claimId.Parameters[1];
            for (var i = 0; i < events.Count; i++)
            {
                var e = events[i];
                var partition = _store.PartitionFor(e.Type, e.Timestamp, _created, _transaction);
                idParameter.Value = e.Id;
                partitionParameter.Value = partition;
                if (_claimId.ExecuteNonQuery() == 0) continue;
                var shape = ShapeOf(e);
                var insert = _store.InsertCommand(partition, e.Type, shape, _transaction);
                var p = insert.Parameters;
                p[0].Value = e.Id;
                p[1].Value = ToMs(e.Timestamp);
                p[2].Value = e.IsRobot ? 1 : 0;
                p[3].Value = e.VisitorId;
                p[4].Value = e.SessionId;
                var next = 5;
                for (var f = 0; f < e.Values.Length; f++)
                {
                    if (Sets(shape, f)) p[next++].Value = ToDb(e.Values[f]);
                }
                p[next].Value = (object?)e.Extra ?? DBNull.Value;
                insert.ExecuteNonQuery();
                stored[i] = true;
                _touched.Add((e.Type.Name, DateOnly.FromDateTime(e.Timestamp).DayNumber));
            }
            return stored;
        }

        public ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
        {
            if (_store._salts.Get(day) is { } cached) return ValueTask.FromResult(cached);
            lock (_gate)
            {
                if (!_newSalts.TryGetValue(day, out var salt)) _newSalts[day] = salt = _store.SaltOf(day, _transaction);
                return ValueTask.FromResult(salt);
            }
        }

        public Task<AppendCounts> CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            using (var mark = _store.Command(_store._writer, "INSERT INTO tally_dirty (type, day, version) VALUES ($t, $d, 1) ON CONFLICT (type, day) DO UPDATE SET version = version + 1", _transaction))
            {
                var typeParameter = mark.Parameters.Add("$t", SqliteType.Text);
                var dayParameter = mark.Parameters.Add("$d", SqliteType.Integer);
                foreach (var (type, day) in _touched)
                {
                    typeParameter.Value = type;
                    dayParameter.Value = day;
                    mark.ExecuteNonQuery();
                }
            }
            _transaction.Commit();
            foreach (var (key, name) in _created) _store._partitions[key] = name;
            foreach (var (day, salt) in _newSalts) _store._salts.Put(day, salt);
            End();
            return Task.FromResult(_counts);
        }

        /// <summary>Without a commit, rolls everything back, including partitions and salts it created.</summary>
        public ValueTask DisposeAsync()
        {
            if (!_ended)
            {
                foreach (var (_, name) in _created) _store.DropCachedInsert(name);
                End();
            }
            return ValueTask.CompletedTask;
        }

        private void End()
        {
            _ended = true;
            _claimId.Dispose();
            _transaction.Dispose();
            _store._transaction = null;
            _store._writeLock.Release();
        }
    }

    private string PartitionFor(EventType type, DateTime timestamp, List<((string, DateTime), string)> created, SqliteTransaction transaction)
    {
        var start = type.Partition.PeriodStart(timestamp);
        if (_partitions.TryGetValue((type.Name, start), out var name)) return name;
        name = SqliteNames.Partition(type, start);
        foreach (var (key, createdName) in created)
        {
            if (key == (type.Name, start)) return createdName;
        }
        var fields = string.Concat(type.Fields.Select(f => $", {SqliteNames.Field(f.Name)} {SqliteNames.ColumnType(f.Type)}"));
        Execute(_writer, $"""
            CREATE TABLE IF NOT EXISTS {name} (id TEXT NOT NULL, ts INTEGER NOT NULL, robot INTEGER NOT NULL, visitor INTEGER NOT NULL, session INTEGER NOT NULL{fields}, extra TEXT);
            CREATE INDEX IF NOT EXISTS ix_{name}_ts ON {name} (ts);
            INSERT INTO tally_partitions (name, type, start_ms, end_ms) VALUES ('{name}', '{type.Name}', {ToMs(start)}, {ToMs(type.Partition.NextPeriod(start))}) ON CONFLICT DO NOTHING;
            """, transaction);
        created.Add(((type.Name, start), name));
        return name;
    }

    /// <summary>
    /// Which fields an event sets, one bit per field: an insert binds only those, as most events leave
    /// most of a type's fields empty and binding costs more than the row itself. Types with more than
    /// 64 fields use one insert that binds every field.
    /// </summary>
    private static ulong ShapeOf(TallyEvent e)
    {
        if (e.Values.Length > 64) return ulong.MaxValue;
        var shape = 0UL;
        for (var f = 0; f < e.Values.Length; f++)
        {
            if (e.Values[f] is not null) shape |= 1UL << f;
        }
        return shape;
    }

    private static bool Sets(ulong shape, int field) => shape == ulong.MaxValue || (shape & (1UL << field)) != 0;

    private SqliteCommand InsertCommand(string partition, EventType type, ulong shape, SqliteTransaction transaction)
    {
        if (!_inserts.TryGetValue((partition, shape), out var insert))
        {
            var fields = type.Fields.Where(f => Sets(shape, f.Ordinal)).ToList();
            var columns = string.Concat(fields.Select(f => $", {SqliteNames.Field(f.Name)}"));
            var values = string.Concat(fields.Select(f => $", $f{f.Ordinal}"));
            insert = Command(_writer, $"INSERT INTO {partition} ({Envelope}{columns}, extra) VALUES ($id, $ts, $robot, $visitor, $session{values}, $extra)");
            foreach (var name in new[] { "$id", "$ts", "$robot", "$visitor", "$session" }.Concat(fields.Select(f => $"$f{f.Ordinal}")).Append("$extra"))
                insert.Parameters.Add(new SqliteParameter { ParameterName = name });
            insert.Prepare();
            _inserts[(partition, shape)] = insert;
        }
        insert.Transaction = transaction;
        return insert;
    }

    private void DropCachedInsert(string partition)
    {
        foreach (var key in _inserts.Keys.Where(k => k.Partition == partition).ToList())
        {
            if (_inserts.Remove(key, out var command)) command.Dispose();
        }
    }

    // ---- reading raw events ----------------------------------------------------------------

    public async IAsyncEnumerable<TallyEvent> ScanAsync(
        EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var columns = string.Concat(fields.Select(f => $", {SqliteNames.Field(f.Name)}")) + (withExtra ? ", extra" : "");
        foreach (var partition in PartitionsOverlapping(connection, [type], from, to))
        {
            using var command = Command(connection, $"SELECT {Envelope}{columns} FROM {partition.Name} WHERE ts >= $from AND ts < $to");
            command.Parameters.AddWithValue("$from", ToMs(from));
            command.Parameters.AddWithValue("$to", ToMs(to));
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var values = new object?[type.Fields.Count];
                for (var f = 0; f < fields.Count; f++) values[fields[f].Ordinal] = FromDb(reader, 5 + f, fields[f].Type);
                var extra = withExtra && !reader.IsDBNull(5 + fields.Count) ? reader.GetString(5 + fields.Count) : null;
                yield return ReadEnvelope(reader, type, values, extra);
            }
        }
    }

    private const int CompoundLimit = 400;

    public async Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var command = Command(connection, "");
        await using var _ = command;
        command.Parameters.AddWithValue("$from", ToMs(query.Start));
        command.Parameters.AddWithValue("$to", ToMs(query.End));
        var partitions = PartitionsOverlapping(connection, query.Types, query.Start, query.End);
        if (RawKeysSql(command, query, partitions, after: null) is not { } union) return new RawEventPage([], 0);

        command.CommandText = $"SELECT count(*) FROM ({union})";
        var total = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        command.CommandText = $"{OrderedKeys(union, query)} OFFSET {(long)(query.Page - 1) * query.RowsPerPage}";
        return new RawEventPage(await ReadRawEventsAsync(connection, await ReadKeysAsync(command, cancellationToken), partitions, cancellationToken), total);
    }

    public async IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // What is left to read is [from, to), resuming after the last row read, if any.
        var (from, to) = (ToMs(query.Start), ToMs(query.End));
        RawKey? last = null;
        while (from < to)
        {
            List<TallyEvent> batch;
            await using (var connection = await OpenReaderAsync(cancellationToken))
            {
                var partitions = PartitionsOverlapping(connection, query.Types, FromMs(from), FromMs(to));
                if (partitions.Count == 0) yield break;
                // The stretch at the near end of what is left that only the nearest partition of each type can hold:
                // a batch reads at most one partition per type, however many hours or days the window spans.
                var (slabFrom, slabTo) = query.Descending
                    ? (Math.Max(from, partitions.Max(p => p.StartMs)), to)
                    : (from, Math.Min(to, partitions.Min(p => p.EndMs)));
                var slab = partitions.Where(p => p.StartMs < slabTo && p.EndMs > slabFrom).ToList();
                using var command = Command(connection, "");
                command.Parameters.AddWithValue("$from", slabFrom);
                command.Parameters.AddWithValue("$to", slabTo);
                var keys = new List<RawKey>();
                if (RawKeysSql(command, query, slab, last) is { } union)
                {
                    command.CommandText = OrderedKeys(union, query);
                    keys = await ReadKeysAsync(command, cancellationToken);
                }
                batch = await ReadRawEventsAsync(connection, keys, slab, cancellationToken);
                if (keys.Count == query.RowsPerPage) last = keys[^1];
                else
                {
                    last = null;
                    if (query.Descending) to = slabFrom;
                    else from = slabTo;
                }
            }
            // Yielded with the connection closed: a slow consumer holds no read transaction open.
            foreach (var e in batch) yield return e;
        }
    }

    /// <summary>A raw row's place in <see cref="RawEventOrder"/>: its time, its partition and its rowid there.</summary>
    private readonly record struct RawKey(long Ms, string Part, long RowId);

    /// <summary>
    /// One UNION ALL of the keys (part, rid, ts) of the rows of <paramref name="partitions"/> in [$from, $to) that pass
    /// the query; null when no partition can hold a match. After a row read (keyset paging), each partition gives
    /// only its first RowsPerPage rows beyond it, which its index on ts (and rowid) finds without sorting.
    /// </summary>
    private static string? RawKeysSql(SqliteCommand command, RawEventQuery query, IEnumerable<RawPartitionSpan> partitions, RawKey? after)
    {
        var order = query.Descending ? "DESC" : "ASC";
        if (after is { } key)
        {
            command.Parameters.AddWithValue("$lts", key.Ms);
            command.Parameters.AddWithValue("$lrid", key.RowId);
        }
        var selects = new List<string>();
        foreach (var partition in partitions)
        {
            var where = FilterSql(partition.Type, query, command);
            if (where is null) continue;
            var select = $"SELECT '{partition.Name}' AS part, rowid AS rid, ts FROM {partition.Name} WHERE ts >= $from AND ts < $to{where}";
            selects.Add(after is { } last
                ? $"SELECT * FROM ({select} AND {RawEventOrder.After(string.CompareOrdinal(partition.Name, last.Part), query.Descending, "ts", "rowid", "$lts", "$lrid")} " +
                  $"ORDER BY ts {order}, rowid {order} LIMIT {query.RowsPerPage})"
                : select);
        }
        if (selects.Count == 0) return null;
        // SQLite allows 500 terms per compound SELECT; hour partitions over a long window can need more, so they nest in groups.
        return selects.Count <= CompoundLimit
            ? string.Join(" UNION ALL ", selects)
            : string.Join(" UNION ALL ", selects.Chunk(CompoundLimit).Select(group => $"SELECT * FROM ({string.Join(" UNION ALL ", group)})"));
    }

    /// <summary>The first RowsPerPage keys of a <see cref="RawKeysSql"/> union in <see cref="RawEventOrder"/>.</summary>
    private static string OrderedKeys(string union, RawEventQuery query)
    {
        var order = query.Descending ? "DESC" : "ASC";
        return $"SELECT part, rid, ts FROM ({union}) ORDER BY ts {order}, part {order}, rid {order} LIMIT {query.RowsPerPage}";
    }

    private static async Task<List<RawKey>> ReadKeysAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var keys = new List<RawKey>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) keys.Add(new RawKey(reader.GetInt64(2), reader.GetString(0), reader.GetInt64(1)));
        return keys;
    }

    /// <summary>The events at these keys, in the keys' order: one read per partition.</summary>
    private async Task<List<TallyEvent>> ReadRawEventsAsync(
        SqliteConnection connection, IReadOnlyList<RawKey> keys, IReadOnlyList<RawPartitionSpan> partitions, CancellationToken cancellationToken)
    {
        var found = new Dictionary<(string Part, long RowId), TallyEvent>();
        foreach (var group in keys.GroupBy(k => k.Part))
        {
            var type = partitions.First(p => p.Name == group.Key).Type;
            var columns = string.Concat(type.Fields.Select(f => $", {SqliteNames.Field(f.Name)}"));
            var extraAt = 5 + type.Fields.Count;
            using var fetch = Command(connection, $"SELECT {Envelope}{columns}, extra, rowid FROM {group.Key} WHERE rowid IN ({string.Join(", ", group.Select(k => k.RowId))})");
            using var reader = await fetch.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var values = new object?[type.Fields.Count];
                foreach (var f in type.Fields) values[f.Ordinal] = FromDb(reader, 5 + f.Ordinal, f.Type);
                found[(group.Key, reader.GetInt64(extraAt + 1))] = ReadEnvelope(reader, type, values, reader.IsDBNull(extraAt) ? null : reader.GetString(extraAt));
            }
        }
        return [.. keys.Select(k => found.GetValueOrDefault((k.Part, k.RowId))).OfType<TallyEvent>()];
    }

    /// <summary>The WHERE clause for the robot flag and field filters, or null when a positive filter names a field the type lacks.</summary>
    private static string? FilterSql(EventType type, RawEventQuery query, SqliteCommand command)
    {
        var sql = new StringBuilder();
        if (query.Robot is { } robot) sql.Append(robot ? " AND robot = 1" : " AND robot = 0");
        foreach (var filter in query.Filters)
        {
            var field = type.Field(filter.Field);
            if (field is null)
            {
                if (filter.Negated) continue;
                return null;
            }
            var names = new List<string>();
            foreach (var value in filter.Values)
            {
                var name = $"$v{command.Parameters.Count}";
                // Booleans are stored as 0/1 but named true/false in filters, as events show them.
                command.Parameters.AddWithValue(name, field.Type == FieldType.Boolean ? value switch { "true" => 1L, "false" => 0L, _ => value } : value);
                names.Add(name);
            }
            var column = SqliteNames.Field(field.Name);
            var list = string.Join(", ", names);
            sql.Append(filter.Negated ? $" AND ({column} IS NULL OR {column} NOT IN ({list}))" : $" AND {column} IN ({list})");
        }
        return sql.ToString();
    }

    private static TallyEvent ReadEnvelope(SqliteDataReader reader, EventType type, object?[] values, string? extra) =>
        new(type, reader.GetString(0), FromMs(reader.GetInt64(1)), values, extra)
        {
            IsRobot = reader.GetInt64(2) != 0,
            VisitorId = reader.GetInt64(3),
            SessionId = reader.GetInt64(4),
        };

    // ---- aggregation state -----------------------------------------------------------------

    public async Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT type, day, version FROM tally_dirty ORDER BY day, type");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var days = new List<DirtyDay>();
        while (await reader.ReadAsync(cancellationToken))
            days.Add(new DirtyDay(reader.GetString(0), DateOnly.FromDayNumber(reader.GetInt32(1)), reader.GetInt64(2)));
        return days;
    }

    public async Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        await WriteAsync(transaction =>
        {
            foreach (var (name, start, end) in PartitionSpans(type.Name))
            {
                var first = DateOnly.FromDateTime(start);
                var last = DateOnly.FromDateTime(end.AddTicks(-1));
                for (var day = first < from ? from : first; day <= last && day <= to; day = day.AddDays(1))
                    MarkDirty(type.Name, day, transaction);
            }
        }, cancellationToken);
    }

    private void MarkAllPartitionsDirty(EventType type)
    {
        foreach (var (_, start, end) in PartitionSpans(type.Name))
        {
            for (var day = DateOnly.FromDateTime(start); day <= DateOnly.FromDateTime(end.AddTicks(-1)); day = day.AddDays(1))
                MarkDirty(type.Name, day, null);
        }
    }

    private void MarkDirty(string type, DateOnly day, SqliteTransaction? transaction)
    {
        using var mark = Command(_writer, "INSERT INTO tally_dirty (type, day, version) VALUES ($t, $d, 1) ON CONFLICT (type, day) DO UPDATE SET version = version + 1", transaction);
        mark.Parameters.AddWithValue("$t", type);
        mark.Parameters.AddWithValue("$d", day.DayNumber);
        mark.ExecuteNonQuery();
    }

    public Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken) =>
        WriteAsync(transaction =>
        {
            using var delete = Command(_writer, "DELETE FROM tally_dirty WHERE type = $t AND day = $d AND version = $v", transaction);
            var t = delete.Parameters.Add("$t", SqliteType.Text);
            var d = delete.Parameters.Add("$d", SqliteType.Integer);
            var v = delete.Parameters.Add("$v", SqliteType.Integer);
            foreach (var day in days)
            {
                t.Value = day.EventType;
                d.Value = day.Day.DayNumber;
                v.Value = day.Version;
                delete.ExecuteNonQuery();
            }
        }, cancellationToken);

    public Task ReplaceMetricsAsync(AggregationDefinition aggregation, MetricPeriod period, DateOnly start, IReadOnlyList<MetricRow> rows, CancellationToken cancellationToken) =>
        WriteAsync(transaction =>
        {
            var table = SqliteNames.Metrics(aggregation, period);
            using (var delete = Command(_writer, $"DELETE FROM {table} WHERE period = $p", transaction))
            {
                delete.Parameters.AddWithValue("$p", start.DayNumber);
                delete.ExecuteNonQuery();
            }
            var columns = aggregation.GroupBy.Select(f => SqliteNames.Key(f.Name))
                .Concat(["count", "unique_visitors", "unique_sessions"])
                .Concat(aggregation.SumFields.SelectMany(f => new[] { $"sum_{f.Name}", $"n_{f.Name}" })).ToList();
            using var insert = Command(_writer,
                $"INSERT INTO {table} (period, grouping_set, {string.Join(", ", columns)}) VALUES ($p, $g{string.Concat(columns.Select((_, i) => $", $c{i}"))})", transaction);
            insert.Parameters.AddWithValue("$p", start.DayNumber);
            var grouping = insert.Parameters.Add("$g", SqliteType.Integer);
            for (var i = 0; i < columns.Count; i++) insert.Parameters.Add(new SqliteParameter { ParameterName = $"$c{i}" });
            foreach (var row in rows)
            {
                grouping.Value = row.Grouping;
                var c = 2;
                foreach (var key in row.Keys) insert.Parameters[c++].Value = (object?)key ?? DBNull.Value;
                insert.Parameters[c++].Value = row.Count;
                insert.Parameters[c++].Value = row.UniqueVisitors;
                insert.Parameters[c++].Value = row.UniqueSessions;
                for (var s = 0; s < row.Sums.Length; s++)
                {
                    insert.Parameters[c++].Value = row.Sums[s];
                    insert.Parameters[c++].Value = row.SumCounts[s];
                }
                insert.ExecuteNonQuery();
            }
        }, cancellationToken);

    public async Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await SqliteMetricComputer.Statements.ReadMetricsAsync(connection, query, cancellationToken);
    }

    public async Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await SqliteMetricComputer.Statements.RankMetricsAsync(connection, parts, metric, offset, count, cancellationToken);
    }

    // ---- COUNTER metrics and item metadata ---------------------------------------------------

    internal static string CounterTable(MetricPeriod period) => period == MetricPeriod.Day ? "counter_day" : "counter_month";

    public Task ReplaceCounterMetricsAsync(MetricPeriod period, DateOnly start, IReadOnlyList<CounterRow> rows, CancellationToken cancellationToken) =>
        WriteAsync(transaction =>
        {
            var table = CounterTable(period);
            using (var delete = Command(_writer, $"DELETE FROM {table} WHERE period = $p", transaction))
            {
                delete.Parameters.AddWithValue("$p", start.DayNumber);
                delete.ExecuteNonQuery();
            }
            var columns = CounterNames.Dimensions.Select(CounterNames.Column).Concat(CounterNames.Metrics.Select(CounterNames.Column)).ToList();
            using var insert = Command(_writer,
                $"INSERT INTO {table} (period, month, {string.Join(", ", columns)}) VALUES ($p, $m{string.Concat(columns.Select((_, i) => $", $c{i}"))})", transaction);
            insert.Parameters.AddWithValue("$p", start.DayNumber);
            insert.Parameters.AddWithValue("$m", new DateOnly(start.Year, start.Month, 1).DayNumber);
            for (var i = 0; i < columns.Count; i++) insert.Parameters.Add(new SqliteParameter { ParameterName = $"$c{i}" });
            foreach (var row in rows)
            {
                var c = 2;
                foreach (var key in row.Keys) insert.Parameters[c++].Value = (object?)key ?? DBNull.Value;
                foreach (var value in row.Values) insert.Parameters[c++].Value = value;
                insert.ExecuteNonQuery();
            }
        }, cancellationToken);

    public async Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await SqliteMetricComputer.Statements.ReadCounterMetricsAsync(connection, query, cancellationToken);
    }

    public IMetricComputer Computer => _computer;

    public Task<(DateOnly First, DateOnly Last)?> GetCounterMonthsAsync(CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(CounterTable(MetricPeriod.Month), cancellationToken);

    /// <summary>The grouping that keeps no field has a row for each day with data, and (grouping_set, period) is indexed.</summary>
    public Task<(DateOnly First, DateOnly Last)?> GetMetricDaysAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(SqliteNames.Metrics(aggregation, MetricPeriod.Day), cancellationToken, " WHERE grouping_set = 0");

    /// <summary>min and max of an indexed period column: two index lookups, whatever the table's size.</summary>
    private async Task<(DateOnly First, DateOnly Last)?> FirstAndLastPeriodAsync(string table, CancellationToken cancellationToken, string where = "")
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, $"SELECT min(period), max(period) FROM {table}{where}");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0)
            ? (DateOnly.FromDayNumber(reader.GetInt32(0)), DateOnly.FromDayNumber(reader.GetInt32(1)))
            : null;
    }

    public async Task<IReadOnlyDictionary<string, ItemMetadata>> GetItemsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        await using var connection = await OpenReaderAsync(cancellationToken);
        // In chunks, to stay under SQLite's limit on bound parameters.
        foreach (var chunk in ids.Distinct().Chunk(500))
        {
            await using var command = Command(connection, "");
            command.CommandText = $"SELECT id, updated_ms, metadata FROM tally_items WHERE id IN ({string.Join(", ", chunk.Select((id, i) =>
            {
                command.Parameters.AddWithValue($"$i{i}", id);
                return $"$i{i}";
            }))})";
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var item = ReadItem(reader);
                result[item.Id] = item;
            }
        }
        return result;
    }

    /// <summary>An item from a row of (id, updated_ms, metadata).</summary>
    private static ItemMetadata ReadItem(SqliteDataReader reader) =>
        JsonSerializer.Deserialize(reader.GetString(2), ItemMetadataJson.Default.ItemMetadata)! with { Id = reader.GetString(0), UpdatedAt = FromMs(reader.GetInt64(1)) };

    public Task PutItemsAsync(IReadOnlyList<ItemMetadata> items, CancellationToken cancellationToken) =>
        WriteAsync(transaction =>
        {
            using var upsert = Command(_writer,
                "INSERT INTO tally_items (id, updated_ms, metadata) VALUES ($id, $u, $m) ON CONFLICT (id) DO UPDATE SET updated_ms = $u, metadata = $m", transaction);
            var (id, updated, metadata) = (upsert.Parameters.Add("$id", SqliteType.Text), upsert.Parameters.Add("$u", SqliteType.Integer), upsert.Parameters.Add("$m", SqliteType.Text));
            foreach (var item in items)
            {
                id.Value = item.Id;
                updated.Value = ToMs(item.UpdatedAt);
                metadata.Value = JsonSerializer.Serialize(item, ItemMetadataJson.Default.ItemMetadata);
                upsert.ExecuteNonQuery();
            }
        }, cancellationToken);

    // ---- retention, salts, settings ----------------------------------------------------------

    public async Task<IReadOnlyList<string>> DropPartitionsBeforeAsync(EventType type, DateTime cutoff, CancellationToken cancellationToken)
    {
        var dropped = new List<string>();
        await WriteAsync(transaction =>
        {
            foreach (var (name, start, end) in PartitionSpans(type.Name).Where(p => p.End <= cutoff).ToList())
            {
                Execute(_writer, $"""
                    DELETE FROM tally_event_ids WHERE id IN (SELECT id FROM {name});
                    DROP TABLE {name};
                    DELETE FROM tally_partitions WHERE name = '{name}';
                    """, transaction);
                dropped.Add(name);
            }
        }, cancellationToken);
        foreach (var name in dropped)
        {
            _partitions.Remove(_partitions.First(p => p.Value == name).Key);
            DropCachedInsert(name);
        }
        return dropped;
    }

    public async ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
    {
        if (_salts.Get(day) is { } cached) return cached;
        byte[]? salt = null;
        await WriteAsync(transaction => salt = SaltOf(day, transaction), cancellationToken);
        return _salts.Put(day, salt!);
    }

    /// <summary>
    /// Insert-if-absent then read, so concurrent processes sharing the file agree on one salt; either
    /// way the salt is recorded as used today.
    /// </summary>
    private byte[] SaltOf(DateOnly day, SqliteTransaction transaction)
    {
        StoreSalt(day, RandomNumberGenerator.GetBytes(32), transaction);
        using var select = Command(_writer, "SELECT salt FROM tally_salts WHERE day = $d", transaction);
        select.Parameters.AddWithValue("$d", day.DayNumber);
        return (byte[])select.ExecuteScalar()!;
    }

    /// <summary>
    /// Keeps <paramref name="salt"/> for a day that has none; a day that has one keeps it. Either way the day's
    /// salt counts as used today, so a salt copied in (tally migrate) does not have its life cut short.
    /// </summary>
    private void StoreSalt(DateOnly day, byte[] salt, SqliteTransaction transaction)
    {
        using var insert = Command(_writer, "INSERT INTO tally_salts (day, salt, last_used) VALUES ($d, $s, $u) ON CONFLICT (day) DO UPDATE SET last_used = excluded.last_used", transaction);
        insert.Parameters.AddWithValue("$d", day.DayNumber);
        insert.Parameters.AddWithValue("$s", salt);
        insert.Parameters.AddWithValue("$u", SaltCache.Today.DayNumber);
        insert.ExecuteNonQuery();
    }

    public async Task PurgeSaltsUnusedSinceAsync(DateOnly cutoff, CancellationToken cancellationToken)
    {
        // Salts stored before uses were recorded count as last used on their own day.
        await WriteAsync(transaction =>
        {
            using var delete = Command(_writer, "DELETE FROM tally_salts WHERE coalesce(last_used, day) < $d", transaction);
            delete.Parameters.AddWithValue("$d", cutoff.DayNumber);
            delete.ExecuteNonQuery();
        }, cancellationToken);
        _salts.Clear();
    }

    public async Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT value FROM tally_settings WHERE key = $k");
        command.Parameters.AddWithValue("$k", key);
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    public Task SetSettingAsync(string key, string value, CancellationToken cancellationToken) =>
        WriteAsync(transaction => PutSetting(key, value, transaction), cancellationToken);

    private void PutSetting(string key, string value, SqliteTransaction transaction)
    {
        using var command = Command(_writer, "INSERT INTO tally_settings (key, value) VALUES ($k, $v) ON CONFLICT (key) DO UPDATE SET value = $v", transaction);
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$v", value);
        command.ExecuteNonQuery();
    }

    public Task RemoveSettingAsync(string key, CancellationToken cancellationToken) =>
        WriteAsync(transaction =>
        {
            using var command = Command(_writer, "DELETE FROM tally_settings WHERE key = $k", transaction);
            command.Parameters.AddWithValue("$k", key);
            command.ExecuteNonQuery();
        }, cancellationToken);

    // ---- saved queries -----------------------------------------------------------------------

    public async Task<IReadOnlyList<StoredQuery>> ListSavedQueriesAsync(CancellationToken cancellationToken) =>
        await ReadSavedQueriesAsync(null, cancellationToken);

    public async Task<StoredQuery?> GetSavedQueryAsync(string name, CancellationToken cancellationToken) =>
        (await ReadSavedQueriesAsync(name, cancellationToken)).SingleOrDefault();

    private async Task<List<StoredQuery>> ReadSavedQueriesAsync(string? name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT name, definition, version FROM tally_saved_queries WHERE $n IS NULL OR name = $n ORDER BY name");
        command.Parameters.AddWithValue("$n", (object?)name ?? DBNull.Value);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var queries = new List<StoredQuery>();
        while (await reader.ReadAsync(cancellationToken)) queries.Add(new StoredQuery(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return queries;
    }

    public Task<bool> PutSavedQueryAsync(string name, string definition, long expectedVersion, CancellationToken cancellationToken) =>
        ChangeSavedQueryAsync(RelationalSavedQueries.Put(expectedVersion), name, definition, expectedVersion, cancellationToken);

    public Task<bool> DeleteSavedQueryAsync(string name, long expectedVersion, CancellationToken cancellationToken) =>
        ChangeSavedQueryAsync(RelationalSavedQueries.Delete, name, "", expectedVersion, cancellationToken);

    /// <summary>Runs a statement that changes one saved query only if it is still at the version read; true when it did.</summary>
    private async Task<bool> ChangeSavedQueryAsync(string sql, string name, string definition, long expectedVersion, CancellationToken cancellationToken)
    {
        var changed = 0;
        await WriteAsync(transaction =>
        {
            using var command = Command(_writer, sql, transaction);
            command.Parameters.AddWithValue("@n", name);
            command.Parameters.AddWithValue("@d", definition);
            command.Parameters.AddWithValue("@v", expectedVersion);
            changed = command.ExecuteNonQuery();
        }, cancellationToken);
        return changed == 1;
    }

    // ---- copying between stores --------------------------------------------------------------

    public async Task<IReadOnlyList<RawPartition>> ListPartitionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var spans = new List<(string Name, string Type, DateTime Start, DateTime End)>();
        using (var command = Command(connection, "SELECT name, type, start_ms, end_ms FROM tally_partitions ORDER BY type, start_ms"))
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                spans.Add((reader.GetString(0), reader.GetString(1), FromMs(reader.GetInt64(2)), FromMs(reader.GetInt64(3))));
        }
        var partitions = new List<RawPartition>(spans.Count);
        foreach (var (name, type, start, end) in spans)
        {
            using var count = Command(connection, $"SELECT count(*) FROM {name}");
            partitions.Add(new RawPartition(type, start, end, (long)(await count.ExecuteScalarAsync(cancellationToken))!));
        }
        return partitions;
    }

    public async IAsyncEnumerable<ItemMetadata> ScanItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT id, updated_ms, metadata FROM tally_items");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            yield return ReadItem(reader);
    }

    public async Task<StoreState> ReadStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var command = Command(connection, "SELECT key, value FROM tally_settings"))
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) settings[reader.GetString(0)] = reader.GetString(1);
        }
        var salts = new Dictionary<DateOnly, byte[]>();
        using (var command = Command(connection, "SELECT day, salt FROM tally_salts"))
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) salts[DateOnly.FromDayNumber(reader.GetInt32(0))] = (byte[])reader.GetValue(1);
        }
        return new StoreState(settings, salts);
    }

    public Task WriteStateAsync(StoreState state, CancellationToken cancellationToken) =>
        WriteAsync(transaction =>
        {
            foreach (var (key, value) in state.Settings) PutSetting(key, value, transaction);
            foreach (var (day, salt) in state.Salts) StoreSalt(day, salt, transaction);
        }, cancellationToken);

    // ---- helpers -----------------------------------------------------------------------------

    internal async Task WriteAsync(Action<SqliteTransaction> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var transaction = Begin();
            work(transaction);
            transaction.Commit();
        }
        finally
        {
            _transaction = null;
            _writeLock.Release();
        }
    }

    private SqliteTransaction Begin() => _transaction = _writer.BeginTransaction();

    internal async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private List<(string Name, DateTime Start, DateTime End)> PartitionSpans(string type, SqliteConnection? connection = null)
    {
        using var command = Command(connection ?? _writer, "SELECT name, start_ms, end_ms FROM tally_partitions WHERE type = $t ORDER BY start_ms");
        command.Parameters.AddWithValue("$t", type);
        using var reader = command.ExecuteReader();
        var spans = new List<(string, DateTime, DateTime)>();
        while (reader.Read()) spans.Add((reader.GetString(0), FromMs(reader.GetInt64(1)), FromMs(reader.GetInt64(2))));
        return spans;
    }

    private IEnumerable<string> PartitionsOf(string type, SqliteConnection? connection = null) =>
        PartitionSpans(type, connection).Select(p => p.Name);

    private bool HasPartitions(string type) => PartitionSpans(type).Count > 0;

    /// <summary>A raw partition of one of the types asked for, and the times it holds, [StartMs, EndMs).</summary>
    internal sealed record RawPartitionSpan(string Name, EventType Type, long StartMs, long EndMs);

    internal List<RawPartitionSpan> PartitionsOverlapping(SqliteConnection connection, IReadOnlyList<EventType> types, DateTime from, DateTime to)
    {
        using var command = Command(connection, "SELECT name, type, start_ms, end_ms FROM tally_partitions WHERE start_ms < $to AND end_ms > $from ORDER BY start_ms");
        command.Parameters.AddWithValue("$from", ToMs(from));
        command.Parameters.AddWithValue("$to", ToMs(to));
        using var reader = command.ExecuteReader();
        var result = new List<RawPartitionSpan>();
        while (reader.Read())
        {
            var type = types.FirstOrDefault(t => t.Name == reader.GetString(1));
            if (type is not null) result.Add(new RawPartitionSpan(reader.GetString(0), type, reader.GetInt64(2), reader.GetInt64(3)));
        }
        return result;
    }

    private HashSet<string> Columns(string table, SqliteConnection? connection = null)
    {
        using var command = Command(connection ?? _writer, $"SELECT name FROM pragma_table_info('{table}')");
        using var reader = command.ExecuteReader();
        var columns = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read()) columns.Add(reader.GetString(0));
        return columns;
    }

    private Dictionary<string, TypeTemplate> ReadTemplates(SqliteConnection connection)
    {
        using var command = Command(connection, "SELECT type, granularity, fields FROM tally_types");
        using var reader = command.ExecuteReader();
        var templates = new Dictionary<string, TypeTemplate>(StringComparer.Ordinal);
        while (reader.Read()) templates[reader.GetString(0)] = TypeTemplate.Read(reader.GetString(1), reader.GetString(2));
        return templates;
    }

    private Dictionary<string, string> ReadAggregationSignatures(SqliteConnection connection)
    {
        using var command = Command(connection, "SELECT name, definition FROM tally_aggregations");
        using var reader = command.ExecuteReader();
        var signatures = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read()) signatures[reader.GetString(0)] = reader.GetString(1);
        return signatures;
    }

    /// <summary>A command; on the writer it joins the open write transaction, as Microsoft.Data.Sqlite requires.</summary>
    internal SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction ?? (ReferenceEquals(connection, _writer) ? _transaction : null);
        return command;
    }

    internal void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = Command(connection, sql, transaction);
        command.ExecuteNonQuery();
    }

    private static object ToDb(object? value) => value switch
    {
        null => DBNull.Value,
        bool b => b ? 1L : 0L,
        _ => value,
    };

    internal static object? FromDb(SqliteDataReader reader, int ordinal, FieldType type)
    {
        if (reader.IsDBNull(ordinal)) return null;
        return type switch
        {
            FieldType.Integer => reader.GetInt64(ordinal),
            FieldType.Number => reader.GetDouble(ordinal),
            FieldType.Boolean => reader.GetInt64(ordinal) != 0,
            _ => reader.GetString(ordinal),
        };
    }

    internal static long ToMs(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;

    internal static DateTime FromMs(long ms) => DateTime.UnixEpoch.AddMilliseconds(ms);

    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync();
        foreach (var insert in _inserts.Values) insert.Dispose();
        _inserts.Clear();
        await _writer.DisposeAsync();
        _writeLock.Dispose();
    }
}

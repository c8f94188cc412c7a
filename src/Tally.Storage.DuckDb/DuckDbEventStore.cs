using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using DuckDB.NET.Data;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Storage.DuckDb;

/// <summary>
/// The columnar embedded store: one DuckDB file in the data folder, opened by one process at a time.
/// Raw events live in one table per event type and period (a partition), each field a typed column;
/// metrics in one table per aggregation and period kind. One writer connection serialises writes;
/// reads use connections of their own and see only committed data.
/// </summary>
/// <remarks>
/// DuckDB has no table partitions, so a partition is a table of its own, listed in tally_partitions:
/// retention drops a whole period with one DROP TABLE, which frees its storage at once, and counting a
/// period reads one table. One table per type with a period column would instead DELETE a period's
/// rows, which DuckDB only marks deleted until a checkpoint rewrites their row groups.
/// </remarks>
public sealed partial class DuckDbEventStore : IEventStore
{
    private const string Envelope = "id, ts, robot, visitor, session";
    private readonly DuckDbFile _file;

    private DuckDbEventStore(DuckDbFile file)
    {
        _file = file;
        Computer = new DuckDbMetricComputer(this, file);
    }

    public IMetricComputer Computer { get; }

    /// <summary>The store's file in its data folder.</summary>
    public const string FileName = "tally.duckdb";

    /// <summary>The store file, <c>tally.duckdb</c> in the data folder.</summary>
    public string Path => _file.Path;

    /// <summary>
    /// Opens (creating if needed) the store file <c>tally.duckdb</c> in <paramref name="dataDirectory"/>, with DuckDB's
    /// memory_limit set to <paramref name="memoryLimit"/> (empty: <see cref="DefaultMemoryLimit"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another process has the file open.</exception>
    /// <exception cref="ConfigurationException">DuckDB does not take <paramref name="memoryLimit"/> as a size.</exception>
    public static DuckDbEventStore Open(string dataDirectory, string memoryLimit = "")
    {
        Directory.CreateDirectory(dataDirectory);
        var file = DuckDbFile.Acquire(System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, FileName)));
        try
        {
            file.WriteLock.Wait();
            try
            {
                if (!file.Prepared) Prepare(file);
                LimitMemory(file, memoryLimit);
            }
            finally
            {
                file.WriteLock.Release();
            }
            return new DuckDbEventStore(file);
        }
        catch
        {
            file.ReleaseAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>Creates the tables every store has and loads the partition registry.</summary>
    private static void Prepare(DuckDbFile file)
    {
        var writer = file.Writer;
        Execute(writer, """
            CREATE TABLE IF NOT EXISTS tally_settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_types (type VARCHAR PRIMARY KEY, granularity VARCHAR NOT NULL, fields VARCHAR NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_partitions (name VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, start_ts TIMESTAMP NOT NULL, end_ts TIMESTAMP NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_event_ids (id UHUGEINT NOT NULL, partition VARCHAR NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_dirty (type VARCHAR NOT NULL, day DATE NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (type, day));
            CREATE TABLE IF NOT EXISTS tally_salts (day DATE PRIMARY KEY, salt BLOB NOT NULL, last_used DATE NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_aggregations (name VARCHAR PRIMARY KEY, definition VARCHAR NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_items (id VARCHAR PRIMARY KEY, updated TIMESTAMP NOT NULL, metadata VARCHAR NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_saved_queries (name VARCHAR PRIMARY KEY, definition VARCHAR NOT NULL, version BIGINT NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_event_seq (next BIGINT NOT NULL);
            INSERT INTO tally_event_seq SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM tally_event_seq);
            CREATE TEMP TABLE IF NOT EXISTS tally_claims (id UHUGEINT NOT NULL, partition VARCHAR NOT NULL, seq BIGINT NOT NULL, day DATE NOT NULL);
            CREATE TEMP TABLE IF NOT EXISTS tally_losers (seq BIGINT NOT NULL, partition VARCHAR NOT NULL);
            CREATE TEMP TABLE IF NOT EXISTS tally_item_batch (id VARCHAR NOT NULL, updated TIMESTAMP NOT NULL, metadata VARCHAR NOT NULL);
            CREATE TEMP TABLE IF NOT EXISTS tally_dirty_batch (type VARCHAR NOT NULL, day DATE NOT NULL, version BIGINT NOT NULL);
            CREATE TEMP TABLE IF NOT EXISTS tally_salt_batch (day DATE NOT NULL, salt BLOB NOT NULL);
            """);
        foreach (var period in (MetricPeriod[])[MetricPeriod.Day, MetricPeriod.Month])
        {
            var dimensions = string.Concat(CounterNames.Dimensions.Select(d => $", {CounterNames.Column(d)} VARCHAR"));
            var metrics = string.Concat(CounterNames.Metrics.Select(m => $", {CounterNames.Column(m)} BIGINT NOT NULL"));
            Execute(writer, $"CREATE TABLE IF NOT EXISTS {DuckDbNames.Counter(period)} (period DATE NOT NULL, month DATE NOT NULL{dimensions}{metrics})");
        }
        writer.RegisterScalarFunction<double, string>(DuckDbMetricComputer.NumberTextFunction, (readers, result, rows) =>
        {
            for (ulong row = 0; row < rows; row++)
            {
                if (readers[0].IsValid(row)) result.WriteValue(readers[0].GetValue<double>(row).ToString(CultureInfo.InvariantCulture), row);
                else result.WriteNull(row);
            }
        });
        var unnumbered = new List<string>();
        using (var command = Command(writer, "SELECT name, type, start_ts, 'seq' IN (SELECT column_name FROM duckdb_columns() c WHERE c.table_name = name) FROM tally_partitions"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                file.Partitions[(reader.GetString(1), Utc(reader.GetDateTime(2)))] = reader.GetString(0);
                if (!reader.GetBoolean(3)) unnumbered.Add(reader.GetString(0));
            }
        }
        // Partitions from before events had sequence numbers get the column; their events keep none.
        foreach (var partition in unnumbered) Execute(writer, $"ALTER TABLE {partition} ADD COLUMN seq BIGINT");
        using (var command = Command(writer, "SELECT next FROM tally_event_seq"))
            file.NextSeq = (long)command.ExecuteScalar()!;
        file.SeqReserved = ReserveSeq(writer, file.NextSeq);
        file.Prepared = true;
    }

    /// <summary>
    /// How many sequence numbers a process takes at once. The stored counter is moved ahead by this much when the file
    /// is opened and whenever the numbers run out, not at every write: a one-row UPDATE at each commit of a request
    /// or two cost as much as the rest of the commit. Numbers a process leaves unused are skipped, never reused.
    /// </summary>
    private const long SeqReservation = 1L << 32;

    /// <summary>Records that numbers below <paramref name="from"/> + <see cref="SeqReservation"/> are taken, and returns that bound.</summary>
    private static long ReserveSeq(DuckDBConnection writer, long from)
    {
        using var reserve = Command(writer, "UPDATE tally_event_seq SET next = $next");
        Bind(reserve, "next", from + SeqReservation);
        reserve.ExecuteNonQuery();
        return from + SeqReservation;
    }

    // ---- schema ----------------------------------------------------------------------------

    public Task SetupAsync(TallySchema schema, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            var writer = _file.Writer;
            var templates = ReadTemplates(writer);
            var signatures = ReadAggregationSignatures(writer);
            foreach (var type in schema.EventTypes.Values)
            {
                StorageTemplates.RequireCompatible(type, templates.GetValueOrDefault(type.Name), PartitionSpans(writer, type.Name).Count > 0);
                foreach (var (partition, _, _) in PartitionSpans(writer, type.Name))
                {
                    var columns = Columns(writer, partition);
                    foreach (var field in type.Fields.Where(f => !columns.Contains(DuckDbNames.Field(f.Name))))
                        Execute(writer, $"ALTER TABLE {partition} ADD COLUMN {DuckDbNames.Field(field.Name)} {DuckDbNames.ColumnType(field.Type)}");
                }
                using var upsert = Command(writer, "INSERT INTO tally_types (type, granularity, fields) VALUES ($t, $g, $f) ON CONFLICT (type) DO UPDATE SET granularity = excluded.granularity, fields = excluded.fields");
                Bind(upsert, "t", type.Name);
                Bind(upsert, "g", type.Partition.Name());
                Bind(upsert, "f", TypeTemplate.Of(type).FieldsJson);
                upsert.ExecuteNonQuery();
            }
            foreach (var aggregation in schema.Aggregations.Values)
            {
                var definition = StorageTemplates.AggregationSignature(aggregation);
                if (signatures.GetValueOrDefault(aggregation.Name) == definition) continue;
                // Metrics are derived data: when their shape changes, recreate them and restate from raw events.
                foreach (var period in new[] { MetricPeriod.Day, MetricPeriod.Month })
                {
                    var table = DuckDbNames.Metrics(aggregation, period);
                    var keys = aggregation.GroupBy.Select(f => $"{DuckDbNames.Key(f.Name)} VARCHAR");
                    var sums = aggregation.SumFields.SelectMany(f => new[] { $"sum_{f.Name} DOUBLE NOT NULL", $"n_{f.Name} BIGINT NOT NULL" });
                    var columns = string.Join(", ", new[] { "period DATE NOT NULL", "grouping_set INTEGER NOT NULL" }.Concat(keys)
                        .Concat(["count BIGINT NOT NULL", "unique_visitors BIGINT NOT NULL", "unique_sessions BIGINT NOT NULL"]).Concat(sums));
                    Execute(writer, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({columns})");
                }
                foreach (var (_, start, end) in PartitionSpans(writer, aggregation.EventType.Name))
                    MarkDirty(aggregation.EventType.Name, DateOnly.FromDateTime(start), DateOnly.FromDateTime(end.AddTicks(-1)));
                using var upsert = Command(writer, "INSERT INTO tally_aggregations (name, definition) VALUES ($n, $d) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition");
                Bind(upsert, "n", aggregation.Name);
                Bind(upsert, "d", definition);
                upsert.ExecuteNonQuery();
            }
        }, cancellationToken, afterCommit: _file.Layouts.Clear);

    public async Task<IReadOnlyList<string>> CheckAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var templates = ReadTemplates(connection);
        var differences = StorageTemplates.Differences(schema, templates, ReadAggregationSignatures(connection));
        foreach (var type in schema.EventTypes.Values.Where(t => templates.ContainsKey(t.Name)))
        {
            foreach (var (partition, _, _) in PartitionSpans(connection, type.Name))
            {
                var columns = Columns(connection, partition);
                foreach (var field in type.Fields.Where(f => !columns.Contains(DuckDbNames.Field(f.Name))))
                    differences.Add($"partition {partition}: column for field '{field.Name}' is missing");
            }
        }
        return differences;
    }

    // ---- aggregation state -----------------------------------------------------------------

    public async Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT type, day, version FROM tally_dirty ORDER BY day, type");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var days = new List<DirtyDay>();
        while (await reader.ReadAsync(cancellationToken))
            days.Add(new DirtyDay(reader.GetString(0), reader.GetFieldValue<DateOnly>(1), reader.GetInt64(2)));
        return days;
    }

    public Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            foreach (var (_, start, end) in PartitionSpans(_file.Writer, type.Name))
            {
                var first = DateOnly.FromDateTime(start);
                var last = DateOnly.FromDateTime(end.AddTicks(-1));
                MarkDirty(type.Name, first < from ? from : first, last < to ? last : to);
            }
        }, cancellationToken);

    /// <summary>Marks every day in [from, to] of a type (none when from is after to), bumping the version of marks already there.</summary>
    private void MarkDirty(string type, DateOnly from, DateOnly to) => MarkDirty([(type, from, to)]);

    /// <summary>Marks the days of every span at once: one upsert costs about what each of them would.</summary>
    private void MarkDirty(IReadOnlyList<(string Type, DateOnly From, DateOnly To)> spans)
    {
        var open = spans.Where(s => s.From <= s.To).ToList();
        if (open.Count == 0) return;
        using var mark = Command(_file.Writer, "");
        var values = string.Join(", ", open.Select((span, i) => $"({Bind(mark, $"t{i}", span.Type)}, {Bind(mark, $"f{i}", span.From)}::DATE, {Bind(mark, $"e{i}", span.To)}::DATE)"));
        mark.CommandText = $"""
            INSERT INTO tally_dirty (type, day, version)
            SELECT type, unnest(range(first, last + 1, INTERVAL 1 DAY))::DATE, 1 FROM (VALUES {values}) AS spans(type, first, last)
            ON CONFLICT (type, day) DO UPDATE SET version = tally_dirty.version + 1
            """;
        mark.ExecuteNonQuery();
    }

    // DuckDB runs each statement on all cores but pays for every one: many rows go in through a staging table and one statement.
    public Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            using (var appender = _file.Writer.CreateAppender("tally_dirty_batch"))
            {
                foreach (var day in days) appender.CreateRow().AppendValue(day.EventType).AppendValue(day.Day).AppendValue(day.Version).EndRow();
            }
            Execute(_file.Writer, """
                DELETE FROM tally_dirty d USING tally_dirty_batch b WHERE d.type = b.type AND d.day = b.day AND d.version = b.version;
                DELETE FROM tally_dirty_batch;
                """);
        }, cancellationToken);

    // ---- items -------------------------------------------------------------------------------

    public async Task<IReadOnlyDictionary<string, ItemMetadata>> GetItemsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        await using var connection = await OpenReaderAsync(cancellationToken);
        // The ids go in through a temporary table of this connection and one join: a report asks for tens of thousands.
        Execute(connection, "CREATE OR REPLACE TEMP TABLE wanted_items (id VARCHAR NOT NULL)");
        using (var appender = connection.CreateAppender("wanted_items"))
        {
            foreach (var id in ids.Distinct()) appender.CreateRow().AppendValue(id).EndRow();
        }
        using var command = Command(connection, "SELECT id, updated, metadata FROM tally_items SEMI JOIN wanted_items USING (id)");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var item = ReadItem(reader);
            result[item.Id] = item;
        }
        return result;
    }

    /// <summary>An item from a row of (id, updated, metadata).</summary>
    private static ItemMetadata ReadItem(DbDataReader reader) =>
        JsonSerializer.Deserialize(reader.GetString(2), ItemMetadataJson.Default.ItemMetadata)! with { Id = reader.GetString(0), UpdatedAt = Utc(reader.GetDateTime(1)) };

    public Task PutItemsAsync(IReadOnlyList<ItemMetadata> items, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            // One statement may not update a row twice: the last of an id's items wins, as one upsert after another would.
            var latest = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
            foreach (var item in items) latest[item.Id] = item;
            using (var appender = _file.Writer.CreateAppender("tally_item_batch"))
            {
                foreach (var item in latest.Values)
                    appender.CreateRow().AppendValue(item.Id).AppendValue(item.UpdatedAt).AppendValue(JsonSerializer.Serialize(item, ItemMetadataJson.Default.ItemMetadata)).EndRow();
            }
            Execute(_file.Writer, """
                INSERT INTO tally_items (id, updated, metadata) SELECT id, updated, metadata FROM tally_item_batch
                ON CONFLICT (id) DO UPDATE SET updated = excluded.updated, metadata = excluded.metadata;
                DELETE FROM tally_item_batch;
                """);
        }, cancellationToken);

    public async IAsyncEnumerable<ItemMetadata> ScanItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT id, updated, metadata FROM tally_items");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            yield return ReadItem(reader);
    }

    // ---- retention, salts, settings ----------------------------------------------------------

    public async Task<IReadOnlyList<string>> DropPartitionsBeforeAsync(EventType type, DateTime cutoff, CancellationToken cancellationToken)
    {
        var dropped = new List<(string Name, DateTime Start)>();
        await WriteAsync(() =>
        {
            foreach (var (name, start, end) in PartitionSpans(_file.Writer, type.Name).Where(p => p.End <= cutoff))
            {
                Execute(_file.Writer, $"""
                    DELETE FROM tally_event_ids WHERE partition = '{name}';
                    DROP TABLE {name};
                    DELETE FROM tally_partitions WHERE name = '{name}';
                    """);
                dropped.Add((name, start));
            }
        }, cancellationToken, afterCommit: () =>
        {
            foreach (var (name, start) in dropped)
            {
                _file.Partitions.Remove((type.Name, start));
                _file.Layouts.Remove(name);
            }
        });
        return [.. dropped.Select(d => d.Name)];
    }

    public async ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken) =>
        (await GetSaltsAsync([day], cancellationToken))[day];

    /// <summary>The days' salts, those not handed out today made or read, and recorded as used, in one write.</summary>
    public async ValueTask<IReadOnlyDictionary<DateOnly, byte[]>> GetSaltsAsync(IReadOnlyCollection<DateOnly> days, CancellationToken cancellationToken)
    {
        var salts = new Dictionary<DateOnly, byte[]>(days.Count);
        var missing = new List<DateOnly>();
        foreach (var day in days)
        {
            if (_file.Salts.Get(day) is { } cached) salts[day] = cached;
            else missing.Add(day);
        }
        if (missing.Count == 0) return salts;
        IReadOnlyDictionary<DateOnly, byte[]> stored = salts;
        await WriteAsync(() => stored = SaltsOf(missing), cancellationToken);
        // Cached once committed, as a salt whose write rolled back must not be handed out.
        foreach (var (day, salt) in stored) salts[day] = _file.Salts.Put(day, salt);
        return salts;
    }

    /// <summary>
    /// In the writer's transaction: new salts for the days that have none, each day's salt read back and recorded as used
    /// today. An appender, one upsert and one read, however many days.
    /// </summary>
    private Dictionary<DateOnly, byte[]> SaltsOf(List<DateOnly> days)
    {
        using (var appender = _file.Writer.CreateAppender("tally_salt_batch"))
        {
            foreach (var day in days) appender.CreateRow().AppendValue(day).AppendValue(RandomNumberGenerator.GetBytes(32)).EndRow();
        }
        using (var upsert = Command(_file.Writer, """
            INSERT INTO tally_salts (day, salt, last_used) SELECT day, salt, $u FROM tally_salt_batch
            ON CONFLICT (day) DO UPDATE SET last_used = excluded.last_used
            """))
        {
            Bind(upsert, "u", SaltCache.Today);
            upsert.ExecuteNonQuery();
        }
        var salts = new Dictionary<DateOnly, byte[]>(days.Count);
        using (var select = Command(_file.Writer, "SELECT day, salt FROM tally_salts SEMI JOIN tally_salt_batch USING (day)"))
        using (var reader = select.ExecuteReader())
        {
            while (reader.Read()) salts[reader.GetFieldValue<DateOnly>(0)] = Blob(reader, 1);
        }
        Execute(_file.Writer, "DELETE FROM tally_salt_batch");
        return salts;
    }

    /// <summary>
    /// Keeps <paramref name="salt"/> for a day that has none; a day that has one keeps it. Either way the day's
    /// salt counts as used today, so a salt copied in (tally migrate) does not have its life cut short.
    /// </summary>
    private void StoreSalt(DateOnly day, byte[] salt)
    {
        using var insert = Command(_file.Writer, "INSERT INTO tally_salts (day, salt, last_used) VALUES ($d, $s, $u) ON CONFLICT (day) DO UPDATE SET last_used = excluded.last_used");
        Bind(insert, "d", day);
        Bind(insert, "s", salt);
        Bind(insert, "u", SaltCache.Today);
        insert.ExecuteNonQuery();
    }

    public async Task PurgeSaltsUnusedSinceAsync(DateOnly cutoff, CancellationToken cancellationToken)
    {
        await WriteAsync(() =>
        {
            using var delete = Command(_file.Writer, "DELETE FROM tally_salts WHERE last_used < $d");
            Bind(delete, "d", cutoff);
            delete.ExecuteNonQuery();
        }, cancellationToken);
        _file.Salts.Clear();
    }

    public async Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, "SELECT value FROM tally_settings WHERE key = $k");
        Bind(command, "k", key);
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    public Task SetSettingAsync(string key, string value, CancellationToken cancellationToken) =>
        WriteAsync(() => PutSetting(key, value), cancellationToken);

    private void PutSetting(string key, string value)
    {
        using var command = Command(_file.Writer, "INSERT INTO tally_settings (key, value) VALUES ($k, $v) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        Bind(command, "k", key);
        Bind(command, "v", value);
        command.ExecuteNonQuery();
    }

    public Task RemoveSettingAsync(string key, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            using var command = Command(_file.Writer, "DELETE FROM tally_settings WHERE key = $k");
            Bind(command, "k", key);
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
        using var command = Command(connection, "SELECT name, definition, version FROM tally_saved_queries WHERE $n::VARCHAR IS NULL OR name = $n ORDER BY name");
        Bind(command, "n", name);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var queries = new List<StoredQuery>();
        while (await reader.ReadAsync(cancellationToken)) queries.Add(new StoredQuery(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return queries;
    }

    public Task<bool> PutSavedQueryAsync(string name, string definition, long expectedVersion, CancellationToken cancellationToken) =>
        ChangeSavedQueryAsync(RelationalSavedQueries.Put(expectedVersion), name, definition, expectedVersion, cancellationToken);

    public Task<bool> DeleteSavedQueryAsync(string name, long expectedVersion, CancellationToken cancellationToken) =>
        ChangeSavedQueryAsync(RelationalSavedQueries.Delete, name, "", expectedVersion, cancellationToken);

    /// <summary>
    /// Runs one of <see cref="RelationalSavedQueries"/>' statements, binding the parameters it names (DuckDB writes $n
    /// where they write @n, and refuses values it has no place for); true when it changed the query.
    /// </summary>
    private async Task<bool> ChangeSavedQueryAsync(string sql, string name, string definition, long expectedVersion, CancellationToken cancellationToken)
    {
        var changed = 0;
        await WriteAsync(() =>
        {
            using var command = Command(_file.Writer, sql.Replace('@', '$'));
            foreach (var (parameter, value) in new (string, object)[] { ("n", name), ("d", definition), ("v", expectedVersion) })
            {
                if (sql.Contains("@" + parameter, StringComparison.Ordinal)) Bind(command, parameter, value);
            }
            changed = command.ExecuteNonQuery();
        }, cancellationToken);
        return changed == 1;
    }

    // ---- copying between stores --------------------------------------------------------------

    public async Task<IReadOnlyList<RawPartition>> ListPartitionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var spans = new List<(string Name, string Type, DateTime Start, DateTime End)>();
        using (var command = Command(connection, "SELECT name, type, start_ts, end_ts FROM tally_partitions ORDER BY type, start_ts"))
        using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                spans.Add((reader.GetString(0), reader.GetString(1), Utc(reader.GetDateTime(2)), Utc(reader.GetDateTime(3))));
        }
        var partitions = new List<RawPartition>(spans.Count);
        foreach (var (name, type, start, end) in spans)
        {
            using var count = Command(connection, $"SELECT count(*) FROM {name}");
            partitions.Add(new RawPartition(type, start, end, Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken))));
        }
        return partitions;
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
            while (await reader.ReadAsync(cancellationToken)) salts[reader.GetFieldValue<DateOnly>(0)] = Blob(reader, 1);
        }
        return new StoreState(settings, salts);
    }

    public Task WriteStateAsync(StoreState state, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            foreach (var (key, value) in state.Settings) PutSetting(key, value);
            foreach (var (day, salt) in state.Salts) StoreSalt(day, salt);
        }, cancellationToken);

    // ---- helpers -----------------------------------------------------------------------------

    /// <summary>Runs <paramref name="work"/> in one transaction of the writer, then <paramref name="afterCommit"/> still under the write lock.</summary>
    internal async Task WriteAsync(Action work, CancellationToken cancellationToken, Action? afterCommit = null)
    {
        await _file.WriteLock.WaitAsync(cancellationToken);
        try
        {
            using (var transaction = _file.Writer.BeginTransaction())
            {
                work();
                transaction.Commit();
            }
            afterCommit?.Invoke();
        }
        finally
        {
            _file.WriteLock.Release();
        }
    }

    internal async Task<DuckDBConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new DuckDBConnection(_file.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static List<(string Name, DateTime Start, DateTime End)> PartitionSpans(DuckDBConnection connection, string type)
    {
        using var command = Command(connection, "SELECT name, start_ts, end_ts FROM tally_partitions WHERE type = $t ORDER BY start_ts");
        Bind(command, "t", type);
        using var reader = command.ExecuteReader();
        var spans = new List<(string, DateTime, DateTime)>();
        while (reader.Read()) spans.Add((reader.GetString(0), Utc(reader.GetDateTime(1)), Utc(reader.GetDateTime(2))));
        return spans;
    }

    /// <summary>The table's columns in table order.</summary>
    private static List<string> ColumnList(DuckDBConnection connection, string table)
    {
        using var command = Command(connection, "SELECT column_name FROM duckdb_columns() WHERE table_name = $t AND NOT internal ORDER BY column_index");
        Bind(command, "t", table);
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read()) columns.Add(reader.GetString(0));
        return columns;
    }

    private static HashSet<string> Columns(DuckDBConnection connection, string table) => new(ColumnList(connection, table), StringComparer.Ordinal);

    private static Dictionary<string, TypeTemplate> ReadTemplates(DuckDBConnection connection)
    {
        using var command = Command(connection, "SELECT type, granularity, fields FROM tally_types");
        using var reader = command.ExecuteReader();
        var templates = new Dictionary<string, TypeTemplate>(StringComparer.Ordinal);
        while (reader.Read()) templates[reader.GetString(0)] = TypeTemplate.Read(reader.GetString(1), reader.GetString(2));
        return templates;
    }

    private static Dictionary<string, string> ReadAggregationSignatures(DuckDBConnection connection)
    {
        using var command = Command(connection, "SELECT name, definition FROM tally_aggregations");
        using var reader = command.ExecuteReader();
        var signatures = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read()) signatures[reader.GetString(0)] = reader.GetString(1);
        return signatures;
    }

    /// <summary>
    /// The memory DuckDB keeps when storage.memoryLimit is not set: 1 GiB, or half of what this process may use if that is
    /// less. DuckDB's own default, 80 % of the machine, let a 10 M-line import reach 3 GB and a rebuild 2.5 GB, holding pages
    /// it had written; at 1 GiB the rebuild of 10 M events took as long (docs/benchmarks.md, "2026-12-07 15:30–16:45").
    /// </summary>
    private static string DefaultMemoryLimit()
    {
        var half = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        return string.Create(CultureInfo.InvariantCulture, $"{Math.Min(1L << 30, half) >> 20}MiB");
    }

    private static void LimitMemory(DuckDbFile file, string memoryLimit)
    {
        if (memoryLimit.Length == 0) memoryLimit = DefaultMemoryLimit();
        try
        {
            Execute(file.Writer, $"SET memory_limit = '{memoryLimit.Replace("'", "''", StringComparison.Ordinal)}'");
        }
        catch (DuckDBException e)
        {
            throw new ConfigurationException("storage.memoryLimit", $"'{memoryLimit}' is not a size DuckDB takes, such as 512MB or 2GB ({e.Message})");
        }
    }

    internal static DuckDBCommand Command(DuckDBConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    internal static void Execute(DuckDBConnection connection, string sql)
    {
        using var command = Command(connection, sql);
        command.ExecuteNonQuery();
    }

    /// <summary>Binds $<paramref name="name"/> (null as SQL NULL) and returns how SQL refers to it.</summary>
    private static string Bind(DuckDBCommand command, string name, object? value)
    {
        command.Parameters.Add(new DuckDBParameter(name, value ?? DBNull.Value));
        return "$" + name;
    }

    private static byte[] Blob(DbDataReader reader, int ordinal)
    {
        using var stream = reader.GetStream(ordinal);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>DuckDB's TIMESTAMP has no zone; Tally's are all UTC.</summary>
    internal static DateTime Utc(DateTime timestamp) => DateTime.SpecifyKind(timestamp, DateTimeKind.Utc);

    public ValueTask DisposeAsync() => _file.ReleaseAsync();
}

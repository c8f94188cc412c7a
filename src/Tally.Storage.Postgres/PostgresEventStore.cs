using System.Data;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.Postgres.PostgresNames;

namespace Tally.Storage.Postgres;

/// <summary>
/// The scaled-out relational store. Raw events of a type live in one table partitioned by range of
/// timestamp, one native partition per period; metrics in one table per aggregation and period kind.
/// Several processes may write to one store at once: PostgreSQL's locks keep ids unique and
/// partitions single, while within one instance writes queue as the contract asks.
/// </summary>
public sealed partial class PostgresEventStore : IEventStore
{
    private const string Envelope = "id, ts, robot, visitor, session";
    private readonly NpgsqlDataSource _dataSource;
    /// <summary>The store's schema, which also names its advisory lock.</summary>
    private readonly string _schema;
    private readonly SaltCache _salts = new();
    private readonly PostgresMetricComputer _computer;

    private PostgresEventStore(NpgsqlDataSource dataSource, string schema)
    {
        _dataSource = dataSource;
        _schema = schema;
        _computer = new PostgresMetricComputer(dataSource, schema);
    }

    /// <summary>
    /// Opens (creating the bookkeeping tables if needed) the store in the database and schema the
    /// connection string names (Npgsql connection string; the first schema of its Search Path, created if
    /// missing, so that one database can hold several stores in different schemas).
    /// </summary>
    public static async Task<PostgresEventStore> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var schema = NamedSchema(new NpgsqlConnectionStringBuilder(connectionString).SearchPath)
                ?? await ScalarAsync<string>(Sql(connection, null, "SELECT current_schema()"), cancellationToken)
                ?? throw new InvalidOperationException("No schema on the connection's search path exists; name one with Search Path.");
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // Processes opening a new store at once would race to create the same tables.
            await LockStoreAsync(connection, transaction, schema, cancellationToken);
            if (!await ScalarAsync<bool>(Sql(connection, transaction, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = @s)", ("s", schema)), cancellationToken))
                await RunAsync(Sql(connection, transaction, $"CREATE SCHEMA {Quote(schema)}"), cancellationToken);
            await RunAsync(Sql(connection, transaction, BookkeepingSql()), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return new PostgresEventStore(dataSource, schema);
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }
    }

    /// <summary>The schema a Search Path names first, or null when it names none (or "$user").</summary>
    private static string? NamedSchema(string? searchPath)
    {
        var first = searchPath?.Split(',')[0].Trim() ?? "";
        var name = first.Length > 1 && first[0] == '"' && first[^1] == '"'
            ? first[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal)
            : first.ToLowerInvariant(); // as PostgreSQL folds an unquoted name
        return name is "" or "$user" ? null : name;
    }

    private static string BookkeepingSql()
    {
        var sql = new StringBuilder("""
            CREATE TABLE IF NOT EXISTS tally_settings (key text PRIMARY KEY, value text NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_types (type text PRIMARY KEY, granularity text NOT NULL, fields text NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_partitions (name text PRIMARY KEY, type text NOT NULL, start_ts timestamptz NOT NULL, end_ts timestamptz NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_event_ids (id text COLLATE "C" PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS tally_dirty (type text NOT NULL, day date NOT NULL, version bigint NOT NULL, PRIMARY KEY (type, day));
            CREATE TABLE IF NOT EXISTS tally_salts (day date PRIMARY KEY, salt bytea NOT NULL, last_used date);
            ALTER TABLE tally_salts ADD COLUMN IF NOT EXISTS last_used date;
            CREATE TABLE IF NOT EXISTS tally_aggregations (name text PRIMARY KEY, definition text NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_items (id text PRIMARY KEY, updated timestamptz NOT NULL, metadata text NOT NULL);
            CREATE TABLE IF NOT EXISTS tally_saved_queries (name text COLLATE "C" PRIMARY KEY, definition text NOT NULL, version bigint NOT NULL);

            """);
        foreach (var period in (MetricPeriod[])[MetricPeriod.Day, MetricPeriod.Month])
        {
            var table = Quote(Counter(period));
            var dimensions = string.Concat(CounterNames.Dimensions.Select(d => $", {Quote(CounterNames.Column(d))} text"));
            var metrics = string.Concat(CounterNames.Metrics.Select(m => $", {Quote(CounterNames.Column(m))} bigint NOT NULL"));
            sql.AppendLine($"CREATE TABLE IF NOT EXISTS {table} (period date NOT NULL, month date NOT NULL{dimensions}{metrics});")
                .AppendLine($"CREATE INDEX IF NOT EXISTS {Quote(Counter(period) + "_period")} ON {table} (period);");
        }
        return sql.ToString();
    }

    // ---- schema ----------------------------------------------------------------------------

    public async Task SetupAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockStoreAsync(connection, transaction, _schema, cancellationToken);
        var templates = await ReadTemplatesAsync(connection, transaction, cancellationToken);
        var signatures = await ReadAggregationSignaturesAsync(connection, transaction, cancellationToken);
        foreach (var type in schema.EventTypes.Values)
        {
            StorageTemplates.RequireCompatible(type, templates.GetValueOrDefault(type.Name),
                (await PartitionSpansAsync(connection, transaction, type.Name, cancellationToken)).Count > 0);
            var columns = await ColumnsAsync(connection, transaction, Events(type), cancellationToken);
            if (columns.Count == 0)
            {
                await CreateEventTableAsync(connection, transaction, type, cancellationToken);
            }
            else
            {
                // On the partitioned table: PostgreSQL adds the column to every partition.
                var missing = type.Fields.Where(f => !columns.Contains(Field(f.Name))).Select(f => $"ADD COLUMN {Quote(Field(f.Name))} {ColumnType(f.Type)}").ToList();
                if (missing.Count > 0)
                    await RunAsync(Sql(connection, transaction, $"ALTER TABLE {Quote(Events(type))} {string.Join(", ", missing)}"), cancellationToken);
            }
            await RunAsync(Sql(connection, transaction,
                "INSERT INTO tally_types (type, granularity, fields) VALUES (@t, @g, @f) ON CONFLICT (type) DO UPDATE SET granularity = @g, fields = @f",
                ("t", type.Name), ("g", type.Partition.Name()), ("f", TypeTemplate.Of(type).FieldsJson)), cancellationToken);
        }
        foreach (var aggregation in schema.Aggregations.Values)
        {
            var definition = StorageTemplates.AggregationSignature(aggregation);
            if (signatures.GetValueOrDefault(aggregation.Name) == definition) continue;
            // Metrics are derived data: when their shape changes, recreate them and restate from raw events.
            foreach (var period in new[] { MetricPeriod.Day, MetricPeriod.Month })
            {
                var table = Quote(Metrics(aggregation, period));
                var keys = aggregation.GroupBy.Select(f => $"{Quote(Key(f.Name))} text");
                var sums = aggregation.SumFields.SelectMany(f => new[] { $"{Quote(Sum(f.Name))} double precision NOT NULL", $"{Quote(SumCount(f.Name))} bigint NOT NULL" });
                var columns = string.Join(", ", new[] { "period date NOT NULL", "grouping_set integer NOT NULL" }.Concat(keys)
                    .Concat(["count bigint NOT NULL", "unique_visitors bigint NOT NULL", "unique_sessions bigint NOT NULL"]).Concat(sums));
                await RunAsync(Sql(connection, transaction, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({columns}); CREATE INDEX ON {table} (grouping_set, period)"), cancellationToken);
            }
            var days = new List<(string, DateOnly)>();
            foreach (var (_, start, end) in await PartitionSpansAsync(connection, transaction, aggregation.EventType.Name, cancellationToken))
                days.AddRange(Days(start, end).Select(day => (aggregation.EventType.Name, day)));
            await MarkDirtyAsync(connection, transaction, days, cancellationToken);
            await RunAsync(Sql(connection, transaction,
                "INSERT INTO tally_aggregations (name, definition) VALUES (@n, @d) ON CONFLICT (name) DO UPDATE SET definition = @d",
                ("n", aggregation.Name), ("d", definition)), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<string>> CheckAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var templates = await ReadTemplatesAsync(connection, null, cancellationToken);
        var differences = StorageTemplates.Differences(schema, templates, await ReadAggregationSignaturesAsync(connection, null, cancellationToken));
        foreach (var type in schema.EventTypes.Values.Where(t => templates.ContainsKey(t.Name)))
        {
            // Partitions share their table's columns, so the table stands for all of them.
            var columns = await ColumnsAsync(connection, null, Events(type), cancellationToken);
            if (columns.Count == 0)
            {
                differences.Add($"event type '{type.Name}': table {Events(type)} is missing");
                continue;
            }
            foreach (var field in type.Fields.Where(f => !columns.Contains(Field(f.Name))))
                differences.Add($"table {Events(type)}: column for field '{field.Name}' is missing");
        }
        return differences;
    }

    /// <summary>A type's events table, partitioned by range of ts; callers hold the store lock and have seen it missing.</summary>
    private static async Task CreateEventTableAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EventType type, CancellationToken cancellationToken)
    {
        var table = Quote(Events(type));
        var fields = string.Concat(type.Fields.Select(f => $", {Quote(Field(f.Name))} {ColumnType(f.Type)}"));
        await RunAsync(Sql(connection, transaction, $"""
            CREATE TABLE {table} (id text NOT NULL, ts timestamptz NOT NULL, robot boolean NOT NULL, visitor bigint NOT NULL, session bigint NOT NULL{fields}, extra text)
                PARTITION BY RANGE (ts);
            CREATE INDEX ON {table} (ts);
            """), cancellationToken);
    }

    /// <summary>The columns of a table, or none when it does not exist.</summary>
    private static async Task<HashSet<string>> ColumnsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, CancellationToken cancellationToken) =>
        [.. await ReadAllAsync(Sql(connection, transaction,
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(@t) AND attnum > 0 AND NOT attisdropped", ("t", Quote(table))),
            r => r.GetString(0), cancellationToken)];

    private static async Task<Dictionary<string, TypeTemplate>> ReadTemplatesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        (await ReadAllAsync(Sql(connection, transaction, "SELECT type, granularity, fields FROM tally_types"),
            r => (Type: r.GetString(0), Template: TypeTemplate.Read(r.GetString(1), r.GetString(2))), cancellationToken))
        .ToDictionary(t => t.Type, t => t.Template, StringComparer.Ordinal);

    private static async Task<Dictionary<string, string>> ReadAggregationSignaturesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        (await ReadAllAsync(Sql(connection, transaction, "SELECT name, definition FROM tally_aggregations"), r => (Name: r.GetString(0), Definition: r.GetString(1)), cancellationToken))
        .ToDictionary(a => a.Name, a => a.Definition, StringComparer.Ordinal);

    /// <summary>Serialises creating tables among processes that share the store, until the transaction ends.</summary>
    private static Task LockStoreAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, CancellationToken cancellationToken) =>
        RunAsync(Sql(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended(@k, 0))", ("k", $"tally:{schema}")), cancellationToken);

    // ---- reading raw events ----------------------------------------------------------------

    public async IAsyncEnumerable<TallyEvent> ScanAsync(
        EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // A type without partitions in the range may have no table at all (never set up).
        if ((await TypesWithPartitionsAsync(connection, null, [type], from, to, cancellationToken)).Count == 0) yield break;
        var columns = string.Concat(fields.Select(f => $", {Quote(Field(f.Name))}")) + (withExtra ? ", extra" : "");
        // The range on ts lets PostgreSQL prune the scan to the partitions it overlaps.
        await using var command = Sql(connection, null, $"SELECT {Envelope}{columns} FROM {Quote(Events(type))} WHERE ts >= @from AND ts < @to",
            ("from", Utc(from)), ("to", Utc(to)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var values = new object?[type.Fields.Count];
            for (var f = 0; f < fields.Count; f++) values[fields[f].Ordinal] = FromDb(reader, 5 + f, fields[f].Type);
            var extra = withExtra && !reader.IsDBNull(5 + fields.Count) ? reader.GetString(5 + fields.Count) : null;
            yield return ReadEnvelope(reader, 0, type, values, extra);
        }
    }

    public async Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for the total, the page and its rows.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var types = await RawTypesAsync(connection, transaction, query, cancellationToken);
        await using var command = Sql(connection, transaction, "", ("from", Utc(query.Start)), ("to", Utc(query.End)));
        if (RawKeysSql(command, types, query, after: null) is not { } union) return new RawEventPage([], 0);

        command.CommandText = $"SELECT count(*) FROM ({union}) u";
        var total = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        command.CommandText = $"{OrderedKeys(union, query)} OFFSET {(long)(query.Page - 1) * query.RowsPerPage}";
        var page = await ReadAllAsync(command, ReadKey, cancellationToken);
        return new RawEventPage(await ReadRawEventsAsync(connection, transaction, types, page, cancellationToken), total);
    }

    public async IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        List<EventType> types;
        await using (var connection = await _dataSource.OpenConnectionAsync(cancellationToken))
            types = await RawTypesAsync(connection, null, query, cancellationToken);
        RawKey? last = null;
        while (true)
        {
            List<RawKey> keys = [];
            List<TallyEvent> batch = [];
            await using (var connection = await _dataSource.OpenConnectionAsync(cancellationToken))
            {
                // One snapshot for a batch's keys and rows; none between batches.
                await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
                await using var command = Sql(connection, transaction, "", ("from", Utc(query.Start)), ("to", Utc(query.End)));
                if (RawKeysSql(command, types, query, last) is { } union)
                {
                    command.CommandText = OrderedKeys(union, query);
                    keys = await ReadAllAsync(command, ReadKey, cancellationToken);
                    batch = await ReadRawEventsAsync(connection, transaction, types, keys, cancellationToken);
                }
            }
            // Yielded with the connection back in the pool: a slow consumer holds nothing open.
            foreach (var e in batch) yield return e;
            if (keys.Count < query.RowsPerPage) yield break;
            last = keys[^1];
        }
    }

    /// <summary>A raw row's place in <see cref="RawEventOrder"/>: its time, its type (by index in the ordered types), its partition and its ctid there.</summary>
    private readonly record struct RawKey(DateTime Ts, int Type, string Part, string Row);

    private static RawKey ReadKey(NpgsqlDataReader reader) => new(reader.GetFieldValue<DateTime>(3), reader.GetInt32(0), reader.GetString(1), reader.GetString(2));

    /// <summary>The query's types that have partitions in its window, in ordinal order of their names: the index of each is its place among ties in time.</summary>
    private static async Task<List<EventType>> RawTypesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, RawEventQuery query, CancellationToken cancellationToken) =>
        [.. (await TypesWithPartitionsAsync(connection, transaction, query.Types, query.Start, query.End, cancellationToken)).OrderBy(t => t.Name, StringComparer.Ordinal)];

    /// <summary>
    /// One UNION ALL of the keys (t, part, rid, ts) of the rows of <paramref name="types"/> in [@from, @to) that pass the
    /// query; null when no type can hold a match. After a row read (keyset paging), each type gives only its first
    /// RowsPerPage rows beyond it, which PostgreSQL finds through the index on ts in the partitions it does not prune.
    /// </summary>
    private static string? RawKeysSql(NpgsqlCommand command, List<EventType> types, RawEventQuery query, RawKey? after)
    {
        var order = query.Descending ? "DESC" : "ASC";
        var (lastTs, lastRow) = after is { } key ? (AddParameter(command, key.Ts), $"{AddParameter(command, key.Row)}::tid") : ("", "");
        var selects = new List<string>();
        for (var t = 0; t < types.Count; t++)
        {
            var where = FilterSql(types[t], query, command);
            if (where is null) continue;
            var select = $"SELECT {t} AS t, tableoid AS part, ctid AS rid, ts FROM {Quote(Events(types[t]))} WHERE ts >= @from AND ts < @to{where}";
            selects.Add(after is { } last
                ? $"({select} AND {RawEventOrder.After(string.CompareOrdinal(types[t].Name, types[last.Type].Name), query.Descending, "ts", "ctid", lastTs, lastRow)} " +
                  $"ORDER BY ts {order}, ctid {order} LIMIT {query.RowsPerPage})"
                : select);
        }
        return selects.Count == 0 ? null : string.Join(" UNION ALL ", selects);
    }

    /// <summary>
    /// The first RowsPerPage keys of a <see cref="RawKeysSql"/> union in <see cref="RawEventOrder"/>: ties in time go by
    /// type, then by position in the partition (the order of arrival), as SQLite orders them.
    /// </summary>
    private static string OrderedKeys(string union, RawEventQuery query)
    {
        var order = query.Descending ? "DESC" : "ASC";
        return $"SELECT t, part::regclass::text, rid::text, ts FROM ({union}) u ORDER BY ts {order}, t {order}, rid {order} LIMIT {query.RowsPerPage}";
    }

    /// <summary>The events at these keys, in the keys' order: one read per partition.</summary>
    private static async Task<List<TallyEvent>> ReadRawEventsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, List<EventType> types, IReadOnlyList<RawKey> keys, CancellationToken cancellationToken)
    {
        var events = new Dictionary<(string Part, string Row), TallyEvent>();
        foreach (var partition in keys.GroupBy(p => (p.Type, p.Part)))
        {
            var type = types[partition.Key.Type];
            var columns = string.Concat(type.Fields.Select(f => $", {Quote(Field(f.Name))}"));
            // The partition's name as PostgreSQL printed it, quoted where needed.
            await using var fetch = Sql(connection, transaction, $"SELECT ctid::text, {Envelope}{columns}, extra FROM {partition.Key.Part} WHERE ctid = ANY(@rows::tid[])",
                ("rows", partition.Select(p => p.Row).ToArray()));
            await using var reader = await fetch.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var values = new object?[type.Fields.Count];
                foreach (var f in type.Fields) values[f.Ordinal] = FromDb(reader, 6 + f.Ordinal, f.Type);
                var extra = reader.IsDBNull(6 + type.Fields.Count) ? null : reader.GetString(6 + type.Fields.Count);
                events[(partition.Key.Part, reader.GetString(0))] = ReadEnvelope(reader, 1, type, values, extra);
            }
        }
        return [.. keys.Select(p => events[(p.Part, p.Row)])];
    }

    /// <summary>Those of <paramref name="types"/> with a partition overlapping [from, to).</summary>
    internal static async Task<List<EventType>> TypesWithPartitionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<EventType> types, DateTime from, DateTime to, CancellationToken cancellationToken)
    {
        var names = await ReadAllAsync(Sql(connection, transaction,
            "SELECT DISTINCT type FROM tally_partitions WHERE type = ANY(@types) AND start_ts < @to AND end_ts > @from",
            ("types", types.Select(t => t.Name).ToArray()), ("from", Utc(from)), ("to", Utc(to))), r => r.GetString(0), cancellationToken);
        return [.. names.Select(name => types.First(t => t.Name == name))];
    }

    /// <summary>The WHERE clause for the robot flag and field filters, or null when a positive filter names a field the type lacks.</summary>
    private static string? FilterSql(EventType type, RawEventQuery query, NpgsqlCommand command)
    {
        var sql = new StringBuilder();
        if (query.Robot is { } robot) sql.Append(robot ? " AND robot" : " AND NOT robot");
        foreach (var filter in query.Filters)
        {
            var field = type.Field(filter.Field);
            if (field is null)
            {
                if (filter.Negated) continue;
                return null;
            }
            var values = AddParameter(command, FilterValues(field.Type, filter.Values));
            sql.Append(InList(Quote(Field(field.Name)), values, filter.Negated));
        }
        return sql.ToString();
    }

    /// <summary>
    /// Filter values, given as text, typed as the column: numbers match by value and "true"/"false" name
    /// booleans, as SQLite compares them; a value that cannot be of the column's type matches nothing.
    /// </summary>
    private static Array FilterValues(FieldType type, IReadOnlyList<string> values) => type switch
    {
        FieldType.Integer => values.Select(AsInteger).OfType<long>().ToArray(),
        FieldType.Number => values.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : (double?)null).OfType<double>().ToArray(),
        FieldType.Boolean => values.Select(v => v switch { "true" => true, "false" => false, _ => AsInteger(v) switch { 1 => true, 0 => false, _ => (bool?)null } }).OfType<bool>().ToArray(),
        _ => values.ToArray(),
    };

    private static long? AsInteger(string value) =>
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer) ? integer
        : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && real == Math.Round(real) && Math.Abs(real) < 9.2e18 ? (long)real
        : null;

    /// <summary>" AND column is one of the array", or none of it (null included) when negated.</summary>
    private static string InList(string column, string parameter, bool negated) =>
        negated ? $" AND ({column} IS NULL OR {column} <> ALL({parameter}))" : $" AND {column} = ANY({parameter})";

    private static TallyEvent ReadEnvelope(NpgsqlDataReader reader, int at, EventType type, object?[] values, string? extra) =>
        new(type, reader.GetString(at), reader.GetFieldValue<DateTime>(at + 1), values, extra)
        {
            IsRobot = reader.GetBoolean(at + 2),
            VisitorId = reader.GetInt64(at + 3),
            SessionId = reader.GetInt64(at + 4),
        };

    // ---- aggregation state -----------------------------------------------------------------

    public async Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await ReadAllAsync(Sql(connection, null, "SELECT type, day, version FROM tally_dirty ORDER BY day, type COLLATE \"C\""),
            r => new DirtyDay(r.GetString(0), r.GetFieldValue<DateOnly>(1), r.GetInt64(2)), cancellationToken);
    }

    public Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var days = new List<(string, DateOnly)>();
            foreach (var (_, start, end) in await PartitionSpansAsync(connection, transaction, type.Name, cancellationToken))
                days.AddRange(Days(start, end).Where(day => day >= from && day <= to).Select(day => (type.Name, day)));
            await MarkDirtyAsync(connection, transaction, days, cancellationToken);
        }, cancellationToken);

    /// <summary>The days a partition [start, end) covers.</summary>
    private static IEnumerable<DateOnly> Days(DateTime start, DateTime end)
    {
        for (var day = DateOnly.FromDateTime(start); day <= DateOnly.FromDateTime(end.AddTicks(-1)); day = day.AddDays(1))
            yield return day;
    }

    /// <summary>
    /// Marks days (or bumps their version). Every writer marks and clears in the same order, by day
    /// then type, so that two transactions touching the same days cannot deadlock.
    /// </summary>
    private static async Task MarkDirtyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<(string Type, DateOnly Day)> days, CancellationToken cancellationToken)
    {
        var sorted = days.Distinct().OrderBy(d => d.Day).ThenBy(d => d.Type, StringComparer.Ordinal).ToList();
        if (sorted.Count == 0) return;
        await RunAsync(Sql(connection, transaction, """
            INSERT INTO tally_dirty (type, day, version)
            SELECT type, day, 1 FROM unnest(@types, @days) WITH ORDINALITY AS m(type, day, n) ORDER BY n
            ON CONFLICT (type, day) DO UPDATE SET version = tally_dirty.version + 1
            """, ("types", sorted.Select(d => d.Type).ToArray()), ("days", sorted.Select(d => d.Day).ToArray())), cancellationToken);
    }

    public Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            if (days.Count == 0) return;
            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var day in days.OrderBy(d => d.Day).ThenBy(d => d.EventType, StringComparer.Ordinal))
            {
                var delete = new NpgsqlBatchCommand("DELETE FROM tally_dirty WHERE type = $1 AND day = $2 AND version = $3");
                delete.Parameters.Add(new NpgsqlParameter { Value = day.EventType });
                delete.Parameters.Add(new NpgsqlParameter { Value = day.Day });
                delete.Parameters.Add(new NpgsqlParameter { Value = day.Version });
                batch.BatchCommands.Add(delete);
            }
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public Task ReplaceMetricsAsync(AggregationDefinition aggregation, MetricPeriod period, DateOnly start, IReadOnlyList<MetricRow> rows, CancellationToken cancellationToken)
    {
        var columns = new[] { "grouping_set" }.Concat(aggregation.GroupBy.Select(f => Quote(Key(f.Name))))
            .Concat(["count", "unique_visitors", "unique_sessions"])
            .Concat(aggregation.SumFields.SelectMany(f => new[] { Quote(Sum(f.Name)), Quote(SumCount(f.Name)) }));
        return ReplacePeriodAsync(Metrics(aggregation, period), start, columns, rows, async (row, importer) =>
        {
            await importer.WriteAsync(row.Grouping, NpgsqlDbType.Integer, cancellationToken);
            foreach (var key in row.Keys) await WriteTextAsync(importer, key, cancellationToken);
            await importer.WriteAsync(row.Count, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(row.UniqueVisitors, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(row.UniqueSessions, NpgsqlDbType.Bigint, cancellationToken);
            for (var s = 0; s < row.Sums.Length; s++)
            {
                await importer.WriteAsync(row.Sums[s], NpgsqlDbType.Double, cancellationToken);
                await importer.WriteAsync(row.SumCounts[s], NpgsqlDbType.Bigint, cancellationToken);
            }
        }, cancellationToken);
    }

    /// <summary>
    /// Deletes a period's rows and copies the new ones in (<paramref name="write"/> writes the <paramref name="columns"/>
    /// after period), in one transaction. Replacements of one table
    /// and period queue on an advisory lock: two at once would each delete only what it saw and both insert.
    /// </summary>
    private Task ReplacePeriodAsync<TRow>(
        string table, DateOnly start, IEnumerable<string> columns, IReadOnlyList<TRow> rows, Func<TRow, NpgsqlBinaryImporter, Task> write, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            await LockPeriodAsync(connection, transaction, _schema, table, start, cancellationToken);
            await RunAsync(Sql(connection, transaction, $"DELETE FROM {Quote(table)} WHERE period = @p", ("p", start)), cancellationToken);
            if (rows.Count == 0) return;
            await using var importer = await connection.BeginBinaryImportAsync(
                $"COPY {Quote(table)} (period, {string.Join(", ", columns)}) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var row in rows)
            {
                await importer.StartRowAsync(cancellationToken);
                await importer.WriteAsync(start, NpgsqlDbType.Date, cancellationToken);
                await write(row, importer);
            }
            await importer.CompleteAsync(cancellationToken);
        }, cancellationToken);

    /// <summary>Queues replacements of one table's period until the transaction ends; lock tables, then periods, in order, to take several.</summary>
    internal static Task LockPeriodAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string table, DateOnly period, CancellationToken cancellationToken) =>
        RunAsync(Sql(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext(@t), @d)", ("t", $"{schema}.{table}"), ("d", period.DayNumber)), cancellationToken);

    public async Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await PostgresMetricComputer.Statements.RankMetricsAsync(connection, parts, metric, offset, count, cancellationToken);
    }

    public async Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await PostgresMetricComputer.Statements.ReadMetricsAsync(connection, query, cancellationToken);
    }

    // ---- COUNTER metrics and item metadata ---------------------------------------------------

    public Task ReplaceCounterMetricsAsync(MetricPeriod period, DateOnly start, IReadOnlyList<CounterRow> rows, CancellationToken cancellationToken)
    {
        var month = new DateOnly(start.Year, start.Month, 1);
        var columns = new[] { "month" }.Concat(CounterNames.Dimensions.Select(d => Quote(CounterNames.Column(d))))
            .Concat(CounterNames.Metrics.Select(m => Quote(CounterNames.Column(m))));
        return ReplacePeriodAsync(Counter(period), start, columns, rows, async (row, importer) =>
        {
            await importer.WriteAsync(month, NpgsqlDbType.Date, cancellationToken);
            foreach (var key in row.Keys) await WriteTextAsync(importer, key, cancellationToken);
            foreach (var value in row.Values) await importer.WriteAsync(value, NpgsqlDbType.Bigint, cancellationToken);
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await PostgresMetricComputer.Statements.ReadCounterMetricsAsync(connection, query, cancellationToken);
    }

    public IMetricComputer Computer => _computer;

    public Task<(DateOnly First, DateOnly Last)?> GetCounterMonthsAsync(CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(Counter(MetricPeriod.Month), cancellationToken);

    /// <summary>The grouping that keeps no field has a row for each day with data, and (grouping_set, period) is indexed.</summary>
    public Task<(DateOnly First, DateOnly Last)?> GetMetricDaysAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(Metrics(aggregation, MetricPeriod.Day), cancellationToken, " WHERE grouping_set = 0");

    private async Task<(DateOnly First, DateOnly Last)?> FirstAndLastPeriodAsync(string table, CancellationToken cancellationToken, string where = "")
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await ReadAllAsync(Sql(connection, null, $"SELECT min(period), max(period) FROM {Quote(table)}{where} HAVING count(*) > 0"),
            r => (r.GetFieldValue<DateOnly>(0), r.GetFieldValue<DateOnly>(1)), cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyDictionary<string, ItemMetadata>> GetItemsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var items = await ReadAllAsync(Sql(connection, null, "SELECT id, updated, metadata FROM tally_items WHERE id = ANY(@ids)", ("ids", ids.Distinct().ToArray())),
            ReadItem, cancellationToken);
        return items.ToDictionary(i => i.Id, StringComparer.Ordinal);
    }

    /// <summary>An item from a row of (id, updated, metadata).</summary>
    private static ItemMetadata ReadItem(NpgsqlDataReader reader) =>
        JsonSerializer.Deserialize(reader.GetString(2), ItemMetadataJson.Default.ItemMetadata)! with { Id = reader.GetString(0), UpdatedAt = reader.GetFieldValue<DateTime>(1) };

    public Task PutItemsAsync(IReadOnlyList<ItemMetadata> items, CancellationToken cancellationToken)
    {
        // The last statement of an id wins, as one upsert after another would; in id order, so concurrent writers cannot deadlock.
        var latest = items.GroupBy(i => i.Id, StringComparer.Ordinal).Select(g => g.Last()).OrderBy(i => i.Id, StringComparer.Ordinal).ToList();
        return WriteAsync((connection, transaction) => RunAsync(Sql(connection, transaction, """
            INSERT INTO tally_items (id, updated, metadata)
            SELECT id, updated, metadata FROM unnest(@ids, @updated, @metadata) WITH ORDINALITY AS i(id, updated, metadata, n) ORDER BY n
            ON CONFLICT (id) DO UPDATE SET updated = excluded.updated, metadata = excluded.metadata
            """,
            ("ids", latest.Select(i => i.Id).ToArray()),
            ("updated", latest.Select(i => Utc(i.UpdatedAt)).ToArray()),
            ("metadata", latest.Select(i => JsonSerializer.Serialize(i, ItemMetadataJson.Default.ItemMetadata)).ToArray())), cancellationToken), cancellationToken);
    }

    public async IAsyncEnumerable<ItemMetadata> ScanItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Sql(connection, null, "SELECT id, updated, metadata FROM tally_items");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            yield return ReadItem(reader);
    }

    // ---- salts and settings --------------------------------------------------------------------

    public async ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
    {
        if (_salts.Get(day) is { } cached) return cached;
        if (await UseSaltAsync(day, cancellationToken) is { } used) return _salts.Put(day, used);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return _salts.Put(day, await SaltOfAsync(connection, null, day, cancellationToken));
    }

    /// <summary>
    /// Records today as the last use of the day's salt and returns it; null when the day has none yet.
    /// It commits on its own, so a long transaction (a log file) never holds the salt's row locked.
    /// </summary>
    private async Task<byte[]?> UseSaltAsync(DateOnly day, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await ScalarAsync<byte[]>(Sql(connection, null, "UPDATE tally_salts SET last_used = @u WHERE day = @d RETURNING salt", ("d", day), ("u", SaltCache.Today)), cancellationToken);
    }

    /// <summary>Insert-if-absent then read, so concurrent processes sharing the store agree on one salt.</summary>
    private static async Task<byte[]> SaltOfAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, DateOnly day, CancellationToken cancellationToken)
    {
        await InsertSaltIfAbsentAsync(connection, transaction, day, RandomNumberGenerator.GetBytes(32), cancellationToken);
        return (await ScalarAsync<byte[]>(Sql(connection, transaction, "SELECT salt FROM tally_salts WHERE day = @d", ("d", day)), cancellationToken))!;
    }

    private static Task InsertSaltIfAbsentAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, DateOnly day, byte[] salt, CancellationToken cancellationToken) =>
        RunAsync(Sql(connection, transaction, "INSERT INTO tally_salts (day, salt, last_used) VALUES (@d, @s, @u) ON CONFLICT DO NOTHING",
            ("d", day), ("s", salt), ("u", SaltCache.Today)), cancellationToken);

    public async Task PurgeSaltsUnusedSinceAsync(DateOnly cutoff, CancellationToken cancellationToken)
    {
        // Salts stored before uses were recorded count as last used on their own day.
        await WriteAsync((connection, transaction) =>
            RunAsync(Sql(connection, transaction, "DELETE FROM tally_salts WHERE coalesce(last_used, day) < @d", ("d", cutoff)), cancellationToken), cancellationToken);
        _salts.Clear();
    }

    public async Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await ScalarAsync<string>(Sql(connection, null, "SELECT value FROM tally_settings WHERE key = @k", ("k", key)), cancellationToken);
    }

    public Task SetSettingAsync(string key, string value, CancellationToken cancellationToken) =>
        WriteAsync((connection, transaction) => PutSettingAsync(connection, transaction, key, value, cancellationToken), cancellationToken);

    private static Task PutSettingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string key, string value, CancellationToken cancellationToken) =>
        RunAsync(Sql(connection, transaction, "INSERT INTO tally_settings (key, value) VALUES (@k, @v) ON CONFLICT (key) DO UPDATE SET value = @v",
            ("k", key), ("v", value)), cancellationToken);

    public Task RemoveSettingAsync(string key, CancellationToken cancellationToken) =>
        WriteAsync((connection, transaction) => RunAsync(Sql(connection, transaction, "DELETE FROM tally_settings WHERE key = @k", ("k", key)), cancellationToken), cancellationToken);

    // ---- saved queries -----------------------------------------------------------------------

    public async Task<IReadOnlyList<StoredQuery>> ListSavedQueriesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await ReadAllAsync(Sql(connection, null, "SELECT name, definition, version FROM tally_saved_queries ORDER BY name"), ReadSavedQuery, cancellationToken);
    }

    public async Task<StoredQuery?> GetSavedQueryAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return (await ReadAllAsync(Sql(connection, null, "SELECT name, definition, version FROM tally_saved_queries WHERE name = @n", ("n", name)),
            ReadSavedQuery, cancellationToken)).SingleOrDefault();
    }

    private static StoredQuery ReadSavedQuery(NpgsqlDataReader reader) => new(reader.GetString(0), reader.GetString(1), reader.GetInt64(2));

    public Task<bool> PutSavedQueryAsync(string name, string definition, long expectedVersion, CancellationToken cancellationToken) =>
        ChangeSavedQueryAsync(RelationalSavedQueries.Put(expectedVersion), name, definition, expectedVersion, cancellationToken);

    public Task<bool> DeleteSavedQueryAsync(string name, long expectedVersion, CancellationToken cancellationToken) =>
        ChangeSavedQueryAsync(RelationalSavedQueries.Delete, name, "", expectedVersion, cancellationToken);

    /// <summary>Runs a statement that changes one saved query only if it is still at the version read; true when it did.</summary>
    private async Task<bool> ChangeSavedQueryAsync(string sql, string name, string definition, long expectedVersion, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Sql(connection, null, sql, ("n", name), ("d", definition), ("v", expectedVersion));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    // ---- copying between stores --------------------------------------------------------------

    public async Task<IReadOnlyList<RawPartition>> ListPartitionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var spans = await ReadAllAsync(Sql(connection, null, "SELECT name, type, start_ts, end_ts FROM tally_partitions ORDER BY type COLLATE \"C\", start_ts"),
            r => (Name: r.GetString(0), Type: r.GetString(1), Start: r.GetFieldValue<DateTime>(2), End: r.GetFieldValue<DateTime>(3)), cancellationToken);
        var partitions = new List<RawPartition>(spans.Count);
        foreach (var (name, type, start, end) in spans)
            partitions.Add(new RawPartition(type, start, end, await ScalarAsync<long>(Sql(connection, null, $"SELECT count(*) FROM {Quote(name)}"), cancellationToken)));
        return partitions;
    }

    public async Task<StoreState> ReadStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var settings = await ReadAllAsync(Sql(connection, null, "SELECT key, value FROM tally_settings"), r => (r.GetString(0), r.GetString(1)), cancellationToken);
        var salts = await ReadAllAsync(Sql(connection, null, "SELECT day, salt FROM tally_salts"), r => (r.GetFieldValue<DateOnly>(0), r.GetFieldValue<byte[]>(1)), cancellationToken);
        return new StoreState(settings.ToDictionary(s => s.Item1, s => s.Item2, StringComparer.Ordinal), salts.ToDictionary(s => s.Item1, s => s.Item2));
    }

    public Task WriteStateAsync(StoreState state, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            foreach (var (key, value) in state.Settings.OrderBy(s => s.Key, StringComparer.Ordinal)) await PutSettingAsync(connection, transaction, key, value, cancellationToken);
            foreach (var (day, salt) in state.Salts.OrderBy(s => s.Key)) await InsertSaltIfAbsentAsync(connection, transaction, day, salt, cancellationToken);
        }, cancellationToken);

    // ---- helpers -----------------------------------------------------------------------------

    /// <summary>Runs <paramref name="work"/> in a transaction of its own, committed when it returns.</summary>
    private async Task WriteAsync(Func<NpgsqlConnection, NpgsqlTransaction, Task> work, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    internal static NpgsqlCommand Sql(NpgsqlConnection connection, NpgsqlTransaction? transaction, string text, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(text, connection, transaction);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return command;
    }

    /// <summary>Adds a parameter named after its position and returns its placeholder.</summary>
    private static string AddParameter(NpgsqlCommand command, object value)
    {
        var name = $"p{command.Parameters.Count}";
        command.Parameters.AddWithValue(name, value);
        return $"@{name}";
    }

    internal static async Task RunAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using (command) await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row, or default when there is none or it is null.</summary>
    internal static async Task<T?> ScalarAsync<T>(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using (command) return await command.ExecuteScalarAsync(cancellationToken) is T value ? value : default;
    }

    /// <summary>Every row, read by <paramref name="read"/>; disposes the command.</summary>
    internal static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using (command)
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = new List<T>();
            while (await reader.ReadAsync(cancellationToken)) rows.Add(read(reader));
            return rows;
        }
    }

    private static Task WriteTextAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    internal static object? FromDb(NpgsqlDataReader reader, int ordinal, FieldType type) =>
        reader.IsDBNull(ordinal) ? null : type switch
        {
            FieldType.Integer => reader.GetInt64(ordinal),
            FieldType.Number => reader.GetDouble(ordinal),
            FieldType.Boolean => reader.GetBoolean(ordinal),
            _ => reader.GetString(ordinal),
        };

    /// <summary>Times as SQLite keeps them: UTC whatever the Kind says, in whole milliseconds.</summary>
    internal static DateTime Utc(DateTime value) => new(value.Ticks - value.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);

    public async ValueTask DisposeAsync()
    {
        // An open append transaction holds the gate until it ends.
        await _appendGate.WaitAsync();
        await _dataSource.DisposeAsync();
        _appendGate.Dispose();
    }
}

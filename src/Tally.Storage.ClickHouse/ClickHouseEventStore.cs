using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.ClickHouse.ClickHouseNames;
using static Tally.Storage.ClickHouse.ClickHouseSql;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// The distributed store: ClickHouse over its HTTP interface, one node or a cluster of shards.
/// <list type="bullet">
/// <item>Raw events: one MergeTree table per event type, partitioned by the type's period and ordered
/// by time; in a cluster, local tables on every shard behind a Distributed table sharded by session,
/// so a session's events stay on one shard.</item>
/// <item>Exactly-once ids: ClickHouse has no unique constraints or transactions. A materialized view
/// on each raw table records every stored event's id in tally_event_ids, on the same shard, in the
/// same INSERT; appends look ids up there first, and one write lock per store makes that
/// check-then-insert atomic within this process. Two processes appending the same id at the same
/// moment, or a crash between an event's insert and its view's, can still store it twice, so every
/// read of raw events keeps one row per id (LIMIT 1 BY id): counts stay exact.</item>
/// <item>Dirty days: a second view adds each insert's events per day to a SummingMergeTree; that
/// running count is the day's version. Clearing records the version that was read, and a day is dirty
/// while its count is above what was cleared. Insert-only, so concurrent writers never lose a mark,
/// and no clock decides anything.</item>
/// <item>Metrics: a period's rows are replaced with one INSERT of the new rows under a new version,
/// followed by a marker row that makes that version the period's; reads keep each period's latest
/// marked version. One insert into one partition (and, in a cluster, one shard: they are sharded by
/// period) is atomic, so readers see the old rows or the new, never neither, and no lock or mutation
/// is needed. ReplacingMergeTree folds the rows a newer version replaced into it as parts merge.</item>
/// <item>Settings, templates and items: ReplacingMergeTree rows with a version, read with argMax.
/// Salts: insert-if-absent, the earliest created salt of a day wins; each use adds a row to the salt uses.</item>
/// <item>Saved queries: every write a row of its own, checked after it is written (see <see cref="WriteSavedQueryAsync"/>).</item>
/// </list>
/// Everything runs on ClickHouse 18.16 (Debian's): no DateTime64, CTEs, query parameters, TTL or
/// mutations_sync are used.
/// </summary>
public sealed partial class ClickHouseEventStore : IEventStore
{
    /// <summary>The temporary table of ids that id lookups send along (see <see cref="IdTable"/>).</summary>
    private const string IdList = "_ids";
    private readonly ClickHouseCluster _cluster;
    /// <summary>Held by appends from check to insert, by schema changes, retention and new salts.</summary>
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    /// <summary>Raw tables this process created (with their views) or saw exist; value true once created here.</summary>
    private readonly ConcurrentDictionary<string, bool> _eventTables = new(StringComparer.Ordinal);
    private readonly SaltCache _salts = new();
    /// <summary>The microsecond of the last version this store object gave.</summary>
    private long _lastVersionMicroseconds;
    /// <summary>The low bits of every version this store object gives, so two processes writing in the same microsecond still differ.</summary>
    private readonly ulong _writerBits = (ulong)Random.Shared.Next(1 << VersionWriterBits);

    private ClickHouseEventStore(ClickHouseCluster cluster)
    {
        _cluster = cluster;
        Computer = new ClickHouseMetricComputer(this, Db);
    }

    private ClickHouseHttpClient Db => _cluster.Main;

    /// <summary>Connects, creating the database and the store's own tables on every shard if needed.</summary>
    public static async Task<ClickHouseEventStore> OpenAsync(ClickHouseStoreOptions options, CancellationToken cancellationToken)
    {
        var cluster = new ClickHouseCluster(options);
        try
        {
            await cluster.CreateDatabaseAsync(cancellationToken);
            await Task.WhenAll(StoreTables().Select(t => cluster.CreateTableAsync(t.Name, t.Columns, t.Engine, t.ShardingKey, cancellationToken)));
            return new ClickHouseEventStore(cluster);
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>The tables every store has, with the sharding keys that keep rows of one key on one shard.</summary>
    private static IEnumerable<(string Name, string Columns, string Engine, string ShardingKey)> StoreTables()
    {
        yield return (Types, "type String, granularity String, fields String, version UInt64", "ReplacingMergeTree(version) ORDER BY type", "cityHash64(type)");
        yield return (Aggregations, "name String, definition String, version UInt64", "ReplacingMergeTree(version) ORDER BY name", "cityHash64(name)");
        yield return (Settings, "key String, value String, version UInt64", "ReplacingMergeTree(version) ORDER BY key", "cityHash64(key)");
        // One partition per day, so purging old salts drops them for good at once.
        yield return (Salts, "day Date, salt String, created UInt64", "MergeTree PARTITION BY day ORDER BY day", "cityHash64(day)");
        // When each day's salt was last used (the latest row of a day wins), partitioned to go with its salt.
        yield return (SaltUses, "day Date, used Date", "ReplacingMergeTree(used) PARTITION BY day ORDER BY day", "cityHash64(day)");
        // Never folded: the rows of one version are how writers of a name find which of them came first.
        yield return (SavedQueries, "name String, version UInt64, writer String, definition String, deleted UInt8", "MergeTree ORDER BY (name, version, writer)", "cityHash64(name)");
        yield return (Items, "id String, updated_ms Int64, metadata String, version UInt64", "ReplacingMergeTree(version) ORDER BY id", "cityHash64(id)");
        // Partitioned like the raw tables, so retention drops a partition's ids with it.
        yield return (EventIds, "id String, type String, part UInt64", "ReplacingMergeTree PARTITION BY (type, part) ORDER BY id", "cityHash64(id)");
        yield return (Dirty, "type String, day Date, marks UInt64", "SummingMergeTree ORDER BY (type, day)", "cityHash64(type, day)");
        yield return (DirtyClears, "type String, day Date, version UInt64", "ReplacingMergeTree(version) ORDER BY (type, day)", "cityHash64(type, day)");
        var dimensions = CounterNames.Dimensions.Select(CounterNames.Column).ToList();
        var counterColumns = MetricColumns(["month Date", .. dimensions.Select(d => $"{d} Nullable(String)"), .. CounterNames.Metrics.Select(m => $"{CounterNames.Column(m)} Int64")]);
        foreach (var period in (MetricPeriod[])[MetricPeriod.Day, MetricPeriod.Month])
            yield return (Counter(period), counterColumns, MetricsEngine(dimensions), "cityHash64(period)");
    }

    /// <summary>A metric table's columns: the period, the version of its rows, whether a row is the version's marker, then <paramref name="columns"/>.</summary>
    private static string MetricColumns(IEnumerable<string> columns) =>
        string.Join(", ", new[] { "period Date", "version UInt64", "marker UInt8" }.Concat(columns));

    /// <summary>
    /// Rows of a period sort by <paramref name="leading"/> columns and their nullable keys (as key columns cannot
    /// be Nullable on 18.16, by whether each is null and its value), so a merge keeps only the latest version of each.
    /// </summary>
    private static string MetricsEngine(IEnumerable<string> keys, params string[] leading) =>
        $"ReplacingMergeTree(version) PARTITION BY toYYYYMM(period) ORDER BY (period, marker{string.Concat(leading.Select(c => $", {c}"))}{string.Concat(keys.Select(k => $", isNull({k}), ifNull({k}, '')"))})";

    // ---- schema ----------------------------------------------------------------------------

    public async Task SetupAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var templates = await ReadTemplatesAsync(cancellationToken);
            var stored = await StoredPartitionsAsync(cancellationToken);
            // ClickHouse cannot roll DDL back, so every refusal comes before any change.
            foreach (var type in schema.EventTypes.Values)
                StorageTemplates.RequireCompatible(type, templates.GetValueOrDefault(type.Name), stored.Any(p => p.Type == type.Name));
            foreach (var type in schema.EventTypes.Values)
            {
                // A table partitions by one period for good; without data it is simply made again.
                if (templates.GetValueOrDefault(type.Name) is { } template && template.Granularity != type.Partition.Name())
                    await DropEventTableAsync(type.Name, cancellationToken);
                await EnsureEventTableAsync(type, cancellationToken);
                await _cluster.AddColumnsAsync(Events(type.Name), type.Fields.Select(f => (Field(f.Name), ColumnType(f.Type))).ToList(), cancellationToken);
            }
            var version = NextVersion();
            await Db.InsertAsync(Types, ["type", "granularity", "fields", "version"], schema.EventTypes.Values, (w, type) =>
            {
                w.WriteString(type.Name);
                w.WriteString(type.Partition.Name());
                w.WriteString(TypeTemplate.Of(type).FieldsJson);
                w.WriteUInt64(version);
            }, cancellationToken);

            var signatures = await ReadAggregationSignaturesAsync(cancellationToken);
            var changed = schema.Aggregations.Values.Where(a => signatures.GetValueOrDefault(a.Name) != StorageTemplates.AggregationSignature(a)).ToList();
            foreach (var aggregation in changed)
            {
                // Metrics are derived data: when their shape changes, recreate them and restate from raw events.
                var tables = new[] { MetricPeriod.Day, MetricPeriod.Month }.Select(p => Metrics(aggregation, p)).ToList();
                await _cluster.DropTablesAsync(tables, cancellationToken);
                var keys = aggregation.GroupBy.Select(f => Key(f.Name)).ToList();
                var columns = MetricColumns(["grouping_set UInt8", .. keys.Select(k => $"{k} Nullable(String)"), "count Int64", "unique_visitors Int64", "unique_sessions Int64",
                    .. aggregation.SumFields.SelectMany(f => new[] { $"sum_{f.Name} Float64", $"n_{f.Name} Int64" })]);
                await Task.WhenAll(tables.Select(t => _cluster.CreateTableAsync(t, columns, MetricsEngine(keys, "grouping_set"), "cityHash64(period)", cancellationToken)));
                await MarkDirtyAsync(aggregation.EventType.Name, DateOnly.MinValue, DateOnly.MaxValue, cancellationToken);
            }
            await Db.InsertAsync(Aggregations, ["name", "definition", "version"], changed, (w, aggregation) =>
            {
                w.WriteString(aggregation.Name);
                w.WriteString(StorageTemplates.AggregationSignature(aggregation));
                w.WriteUInt64(version);
            }, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<IReadOnlyList<string>> CheckAsync(TallySchema schema, CancellationToken cancellationToken)
    {
        var templates = await ReadTemplatesAsync(cancellationToken);
        var differences = StorageTemplates.Differences(schema, templates, await ReadAggregationSignaturesAsync(cancellationToken));
        foreach (var type in schema.EventTypes.Values.Where(t => templates.ContainsKey(t.Name)))
            differences.AddRange(await MissingColumnsAsync(type, cancellationToken));
        return differences;
    }

    /// <summary>One line per table, on any shard, that lacks a configured field's column.</summary>
    private async Task<List<string>> MissingColumnsAsync(EventType type, CancellationToken cancellationToken)
    {
        var table = Events(type.Name);
        var perShard = await Task.WhenAll(_cluster.Shards.Select(async shard =>
        {
            var lines = new List<string>();
            foreach (var name in _cluster.IsCluster ? [_cluster.Local(table), table] : new[] { table })
            {
                var where = _cluster.IsCluster ? $"table {name} on {shard.Endpoint.Authority}" : $"table {name}";
                var columns = await ClickHouseCluster.ColumnsAsync(shard, name, cancellationToken);
                if (columns.Count == 0) lines.Add($"{where} for event type '{type.Name}' is missing");
                else lines.AddRange(type.Fields.Where(f => !columns.Contains(Field(f.Name))).Select(f => $"{where}: column for field '{f.Name}' is missing"));
            }
            return lines;
        }));
        return perShard.SelectMany(l => l).ToList();
    }

    private async Task<Dictionary<string, TypeTemplate>> ReadTemplatesAsync(CancellationToken cancellationToken) =>
        (await Db.QueryListAsync($"SELECT type, argMax(granularity, version), argMax(fields, version) FROM {Types} GROUP BY type",
            row => (Type: row.GetString(0), Template: TypeTemplate.Read(row.GetString(1), row.GetString(2))),
            cancellationToken)).ToDictionary(t => t.Type, t => t.Template, StringComparer.Ordinal);

    private async Task<Dictionary<string, string>> ReadAggregationSignaturesAsync(CancellationToken cancellationToken) =>
        (await Db.QueryListAsync($"SELECT name, argMax(definition, version) FROM {Aggregations} GROUP BY name",
            row => (Name: row.GetString(0), Definition: row.GetString(1)), cancellationToken)).ToDictionary(a => a.Name, a => a.Definition, StringComparer.Ordinal);

    /// <summary>
    /// Creates a type's raw table with the views that record its ids and dirty days, unless this process
    /// already did. The views come before the Distributed table, so nothing is inserted without them.
    /// </summary>
    private async Task EnsureEventTableAsync(EventType type, CancellationToken cancellationToken)
    {
        var table = Events(type.Name);
        if (_eventTables.GetValueOrDefault(table)) return;
        var columns = string.Join(", ", new[] { "id String", "ts Int64", "robot UInt8", "visitor Int64", "session Int64" }
            .Concat(type.Fields.Select(f => $"{Field(f.Name)} {ColumnType(f.Type)}")).Append("extra Nullable(String)"));
        var local = _cluster.Local(table);
        var name = Quote(type.Name);
        List<string> statements =
        [
            $"CREATE TABLE IF NOT EXISTS {local} ({columns}) ENGINE = MergeTree PARTITION BY {PeriodKey(type.Partition)} ORDER BY ts",
            $"CREATE MATERIALIZED VIEW IF NOT EXISTS {IdsView(type.Name)} TO {_cluster.Local(EventIds)} AS " +
                $"SELECT id, {name} AS type, toUInt64({PeriodKey(type.Partition)}) AS part FROM {local}",
            $"CREATE MATERIALIZED VIEW IF NOT EXISTS {DirtyView(type.Name)} TO {_cluster.Local(Dirty)} AS " +
                $"SELECT {name} AS type, {Day} AS day, count() AS marks FROM {local} GROUP BY day",
        ];
        if (_cluster.IsCluster) statements.Add(_cluster.DistributedStatement(table, "intHash64(session)"));
        await _cluster.OnEveryShardAsync(statements, cancellationToken);
        _eventTables[table] = true;
    }

    private async Task DropEventTableAsync(string type, CancellationToken cancellationToken)
    {
        // The views live on each shard only, beside the local table they read.
        await _cluster.OnEveryShardAsync([$"DROP TABLE IF EXISTS {IdsView(type)}", $"DROP TABLE IF EXISTS {DirtyView(type)}"], cancellationToken);
        await _cluster.DropTablesAsync([Events(type)], cancellationToken);
        _eventTables.TryRemove(Events(type), out _);
    }

    /// <summary>Whether a type's raw table exists; reads of a type that never had one find nothing.</summary>
    internal async Task<bool> EventTableExistsAsync(string type, CancellationToken cancellationToken)
    {
        var table = Events(type);
        if (_eventTables.ContainsKey(table)) return true;
        var exists = (await Db.QueryListAsync($"EXISTS TABLE {table}", row => row.GetInt64(0), cancellationToken)).Single() == 1;
        if (exists) _eventTables.TryAdd(table, false);
        return exists;
    }

    // ---- raw partitions ----------------------------------------------------------------------

    /// <summary>A raw partition, as the id table's partitions (one per type and period) record it.</summary>
    private sealed record StoredPartition(string Type, string Key, DateTime Start, DateTime End, long Events);

    /// <summary>Every raw partition on any shard, by type then start; the counts come from ClickHouse's part metadata.</summary>
    private async Task<List<StoredPartition>> StoredPartitionsAsync(CancellationToken cancellationToken)
    {
        var partitions = new List<StoredPartition>();
        foreach (var (partition, rows) in await _cluster.PartitionsAsync(EventIds, cancellationToken))
        {
            if (!ClickHouseCluster.TryParseIdPartition(partition, out var type, out var key)) continue;
            var (start, granularity) = ParsePeriodKey(key);
            partitions.Add(new StoredPartition(type, key, start, granularity.NextPeriod(start), rows));
        }
        return partitions.OrderBy(p => p.Type, StringComparer.Ordinal).ThenBy(p => p.Start).ToList();
    }

    public async Task<IReadOnlyList<RawPartition>> ListPartitionsAsync(CancellationToken cancellationToken) =>
        (await StoredPartitionsAsync(cancellationToken)).Select(p => new RawPartition(p.Type, p.Start, p.End, p.Events)).ToList();

    public async Task<IReadOnlyList<string>> DropPartitionsBeforeAsync(EventType type, DateTime cutoff, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var dropped = new List<string>();
            foreach (var partition in (await StoredPartitionsAsync(cancellationToken)).Where(p => p.Type == type.Name && p.End <= cutoff))
            {
                // Events first: should this stop halfway, the ids still list the partition, and the next run drops it again.
                await _cluster.OnEveryShardAsync(
                [
                    $"ALTER TABLE {_cluster.Local(Events(type.Name))} DROP PARTITION {partition.Key}",
                    $"ALTER TABLE {_cluster.Local(EventIds)} DROP PARTITION ({Quote(type.Name)}, {partition.Key})",
                ], cancellationToken);
                dropped.Add(Partition(type.Name, partition.Key));
            }
            return dropped;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // ---- reading raw events ----------------------------------------------------------------

    public async IAsyncEnumerable<TallyEvent> ScanAsync(
        EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!await EventTableExistsAsync(type.Name, cancellationToken)) yield break;
        var sql = $"SELECT {RawColumns(fields, withExtra)} FROM {Events(type.Name)} WHERE ts >= {Number(ToMs(from))} AND ts < {Number(ToMs(to))} LIMIT 1 BY id";
        await foreach (var row in Db.QueryAsync(sql, cancellationToken))
            yield return ReadEvent(row, type, fields, withExtra);
    }

    private static string RawColumns(IReadOnlyList<FieldDefinition> fields, bool withExtra) =>
        string.Join(", ", Envelope.Concat(fields.Select(f => Field(f.Name))).Concat(withExtra ? ["extra"] : []));

    public async Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken)
    {
        var types = await RawTypesAsync(query, cancellationToken);
        if (RawKeysSql(types, query, after: null) is not { } union) return new RawEventPage([], 0);
        var total = (await Db.QueryListAsync($"SELECT count() FROM ({union})", row => row.GetInt64(0), cancellationToken)).Single();
        var page = await Db.QueryListAsync(OrderedKeys(union, query, (long)(query.Page - 1) * query.RowsPerPage), ReadKey, cancellationToken);
        return new RawEventPage(await ReadRawEventsAsync(types, page, cancellationToken), total);
    }

    public async IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var types = await RawTypesAsync(query, cancellationToken);
        RawKey? last = null;
        while (RawKeysSql(types, query, last) is { } union)
        {
            var keys = await Db.QueryListAsync(OrderedKeys(union, query, skip: 0), ReadKey, cancellationToken);
            foreach (var e in await ReadRawEventsAsync(types, keys, cancellationToken)) yield return e;
            if (keys.Count < query.RowsPerPage) yield break;
            last = keys[^1];
        }
    }

    /// <summary>A raw row's place in <see cref="RawEventOrder"/>: its time, its type and its id.</summary>
    private readonly record struct RawKey(long Ms, string Type, string Id);

    private static RawKey ReadKey(ClickHouseRow row) => new(row.GetInt64(2), row.GetString(0), row.GetString(1));

    /// <summary>The query's types that have a raw table.</summary>
    private async Task<List<EventType>> RawTypesAsync(RawEventQuery query, CancellationToken cancellationToken)
    {
        var types = new List<EventType>();
        foreach (var type in query.Types)
        {
            if (await EventTableExistsAsync(type.Name, cancellationToken)) types.Add(type);
        }
        return types;
    }

    /// <summary>
    /// One UNION ALL of the keys (type, id, ts) of the rows of <paramref name="types"/> in the query's window that pass it,
    /// each id once; null when no type can hold a match. After a row read (keyset paging), each type gives only its
    /// first RowsPerPage rows beyond it, which its table's order by ts lets ClickHouse read without sorting it all.
    /// </summary>
    private static string? RawKeysSql(List<EventType> types, RawEventQuery query, RawKey? after)
    {
        var order = query.Descending ? "DESC" : "ASC";
        var selects = new List<string>();
        foreach (var type in types)
        {
            if (FilterSql(type, query) is not { } where) continue;
            var select = $"SELECT {Quote(type.Name)} AS type, id, ts FROM {Events(type.Name)} WHERE ts >= {Number(ToMs(query.Start))} AND ts < {Number(ToMs(query.End))}{where}";
            selects.Add(after is { } last
                ? $"SELECT * FROM ({select} AND {RawEventOrder.After(string.CompareOrdinal(type.Name, last.Type), query.Descending, "ts", "id", Number(last.Ms), Quote(last.Id))} " +
                  $"ORDER BY ts {order}, id {order} LIMIT 1 BY id LIMIT {Number(query.RowsPerPage)})"
                : $"{select} LIMIT 1 BY id");
        }
        return selects.Count == 0 ? null : string.Join(" UNION ALL ", selects);
    }

    /// <summary>RowsPerPage keys of a <see cref="RawKeysSql"/> union in <see cref="RawEventOrder"/>, after the first <paramref name="skip"/>.</summary>
    private static string OrderedKeys(string union, RawEventQuery query, long skip)
    {
        var order = query.Descending ? "DESC" : "ASC";
        return $"SELECT type, id, ts FROM ({union}) ORDER BY ts {order}, type {order}, id {order} LIMIT {Number(skip)}, {Number(query.RowsPerPage)}";
    }

    /// <summary>The events at these keys in full, in the keys' order: one query per type, bounded by their times so only their partitions are read.</summary>
    private async Task<List<TallyEvent>> ReadRawEventsAsync(List<EventType> types, IReadOnlyList<RawKey> keys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<(string Type, string Id), TallyEvent>();
        foreach (var group in keys.GroupBy(p => p.Type))
        {
            var type = types.First(t => t.Name == group.Key);
            var sql = $"SELECT {RawColumns(type.Fields, withExtra: true)} FROM {Events(type.Name)} " +
                $"WHERE ts >= {Number(group.Min(p => p.Ms))} AND ts <= {Number(group.Max(p => p.Ms))} AND id IN ({List(group.Select(p => p.Id))}) LIMIT 1 BY id";
            await foreach (var row in Db.QueryAsync(sql, cancellationToken))
            {
                var e = ReadEvent(row, type, type.Fields, withExtra: true);
                found[(type.Name, e.Id)] = e;
            }
        }
        return [.. keys.Select(p => found.GetValueOrDefault((p.Type, p.Id))).OfType<TallyEvent>()];
    }

    /// <summary>The WHERE clause for the robot flag and field filters, or null when a positive filter names a field the type lacks.</summary>
    private static string? FilterSql(EventType type, RawEventQuery query)
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
            // A value that cannot be of the field's type equals nothing stored.
            var values = filter.Values.Select(v => Literal(field.Type, v)).OfType<string>().ToList();
            var column = Field(field.Name);
            var list = string.Join(", ", values);
            if (!filter.Negated) sql.Append(values.Count == 0 ? " AND 0" : $" AND {column} IN ({list})");
            else if (values.Count > 0) sql.Append(CultureInfo.InvariantCulture, $" AND ({column} IS NULL OR {column} NOT IN ({list}))");
        }
        return sql.ToString();
    }

    /// <summary>A filter value as a literal of the field's type: booleans are stored as 0/1 but named true/false in filters, as events show them.</summary>
    private static string? Literal(FieldType type, string value) => type switch
    {
        FieldType.Integer => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? Number(n) : null,
        FieldType.Number => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) ? Number(x) : null,
        FieldType.Boolean => value switch { "true" or "1" => "1", "false" or "0" => "0", _ => null },
        _ => Quote(value),
    };

    /// <summary>An event from a row of <see cref="RawColumns"/>.</summary>
    internal static TallyEvent ReadEvent(ClickHouseRow row, EventType type, IReadOnlyList<FieldDefinition> fields, bool withExtra)
    {
        var envelope = Envelope.Length;
        var values = new object?[type.Fields.Count];
        for (var f = 0; f < fields.Count; f++)
        {
            var column = envelope + f;
            values[fields[f].Ordinal] = row.IsNull(column) ? null : fields[f].Type switch
            {
                FieldType.Integer => row.GetInt64(column),
                FieldType.Number => row.GetDouble(column),
                FieldType.Boolean => row.GetInt64(column) != 0,
                _ => row.GetString(column),
            };
        }
        var extra = withExtra ? row.GetNullableString(envelope + fields.Count) : null;
        return new TallyEvent(type, row.GetString(0), FromMs(row.GetInt64(1)), values, extra)
        {
            IsRobot = row.GetInt64(2) != 0,
            VisitorId = row.GetInt64(3),
            SessionId = row.GetInt64(4),
        };
    }

    // ---- aggregation state -----------------------------------------------------------------

    public async Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken) =>
        await Db.QueryListAsync(
            "SELECT type, day, marks FROM (SELECT type, day, sumIf(v, clear = 0) AS marks, maxIf(v, clear = 1) AS cleared FROM (" +
            $"SELECT type, day, marks AS v, 0 AS clear FROM {Dirty} UNION ALL SELECT type, day, version AS v, 1 AS clear FROM {DirtyClears}" +
            ") GROUP BY type, day) WHERE marks > cleared ORDER BY day, type",
            row => new DirtyDay(row.GetString(0), row.GetDate(1), row.GetInt64(2)), cancellationToken);

    public Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken) =>
        MarkDirtyAsync(type.Name, from, to, cancellationToken);

    /// <summary>Adds a mark to every day in [from, to] that lies in one of the type's partitions.</summary>
    private async Task MarkDirtyAsync(string type, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var days = new List<DateOnly>();
        foreach (var partition in (await StoredPartitionsAsync(cancellationToken)).Where(p => p.Type == type))
        {
            var first = DateOnly.FromDateTime(partition.Start);
            var last = DateOnly.FromDateTime(partition.End.AddTicks(-1));
            for (var day = first < from ? from : first; day <= last && day <= to; day = day.AddDays(1)) days.Add(day);
        }
        await Db.InsertAsync(Dirty, ["type", "day", "marks"], days, (w, day) =>
        {
            w.WriteString(type);
            w.WriteDate(day);
            w.WriteUInt64(1);
        }, cancellationToken);
    }

    public Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken) =>
        Db.InsertAsync(DirtyClears, ["type", "day", "version"], days, (w, day) =>
        {
            w.WriteString(day.EventType);
            w.WriteDate(day.Day);
            w.WriteUInt64((ulong)day.Version);
        }, cancellationToken);

    // ---- metrics ---------------------------------------------------------------------------

    public Task ReplaceMetricsAsync(AggregationDefinition aggregation, MetricPeriod period, DateOnly start, IReadOnlyList<MetricRow> rows, CancellationToken cancellationToken)
    {
        var columns = new[] { "grouping_set" }.Concat(aggregation.GroupBy.Select(f => Key(f.Name))).Concat(["count", "unique_visitors", "unique_sessions"])
            .Concat(aggregation.SumFields.SelectMany(f => new[] { $"sum_{f.Name}", $"n_{f.Name}" })).ToList();
        return ReplacePeriodAsync(Metrics(aggregation, period), start, columns, rows, (w, row) =>
        {
            w.WriteUInt8((byte)(row?.Grouping ?? 0));
            for (var k = 0; k < aggregation.GroupBy.Count; k++) w.WriteNullableString(row?.Keys[k]);
            w.WriteInt64(row?.Count ?? 0);
            w.WriteInt64(row?.UniqueVisitors ?? 0);
            w.WriteInt64(row?.UniqueSessions ?? 0);
            for (var s = 0; s < aggregation.SumFields.Count; s++)
            {
                w.WriteFloat64(row?.Sums[s] ?? 0);
                w.WriteInt64(row?.SumCounts[s] ?? 0);
            }
        }, cancellationToken);
    }

    public Task ReplaceCounterMetricsAsync(MetricPeriod period, DateOnly start, IReadOnlyList<CounterRow> rows, CancellationToken cancellationToken)
    {
        var columns = new[] { "month" }.Concat(CounterNames.Dimensions.Select(CounterNames.Column)).Concat(CounterNames.Metrics.Select(CounterNames.Column)).ToList();
        var month = new DateOnly(start.Year, start.Month, 1);
        return ReplacePeriodAsync(Counter(period), start, columns, rows, (w, row) =>
        {
            w.WriteDate(month);
            for (var d = 0; d < CounterNames.Dimensions.Length; d++) w.WriteNullableString(row?.Keys[d]);
            for (var m = 0; m < CounterNames.Metrics.Length; m++) w.WriteInt64(row?.Values[m] ?? 0);
        }, cancellationToken);
    }

    /// <summary>
    /// Inserts a period's rows under a new version and then the version's marker, whose values
    /// <paramref name="writeValues"/> writes from a null row: null keys and zeros. Rows inserted before a
    /// failure stay invisible, as their marker never came; the day stays dirty and the next run replaces it again.
    /// </summary>
    private Task ReplacePeriodAsync<T>(string table, DateOnly period, IReadOnlyList<string> columns, IReadOnlyList<T> rows, Action<RowBinaryWriter, T?> writeValues,
        CancellationToken cancellationToken) where T : class
    {
        var version = NextVersion();
        return Db.InsertAsync(table, ["period", "version", "marker", .. columns], rows.Append(null), (w, row) =>
        {
            w.WriteDate(period);
            w.WriteUInt64(version);
            w.WriteBoolean(row is null);
            writeValues(w, row);
        }, cancellationToken);
    }

    /// <summary>The condition that keeps the rows of each period's latest version between <paramref name="from"/> and <paramref name="to"/>.</summary>
    internal static string CurrentRows(string table, DateOnly from, DateOnly to)
    {
        var periods = $"period BETWEEN {Quote(from)} AND {Quote(to)}";
        // GLOBAL: in a cluster the versions are found once, across the shards, and sent to each.
        return $"marker = 0 AND {periods} AND (period, version) GLOBAL IN (SELECT period, max(version) FROM {table} WHERE marker = 1 AND {periods} GROUP BY period)";
    }

    /// <summary>
    /// Ranked in .NET from the rows ReadMetricsAsync sums on the server. Ranking in ClickHouse's SQL needs a second query
    /// to count the groups (18.16 has no window functions), and on the two-shard cluster that made the 12 top-10s slower
    /// (p95 119–121 ms against 104–107 at 100,000 events; docs/benchmarks.md).
    /// </summary>
    public Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken) =>
        RankedMetrics.RankAsync(this, parts, metric, offset, count, cancellationToken);

    public async Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var aggregation = query.Aggregation;
        var table = Metrics(aggregation, query.Source);
        var where = new StringBuilder(CurrentRows(table, query.From, query.To)).Append($" AND grouping_set = {query.Grouping}");
        foreach (var filter in query.Filters)
        {
            var column = Key(filter.Field);
            var list = List(filter.Values);
            where.Append(filter.Values.Count == 0 ? (filter.Negated ? "" : " AND 0")
                : filter.Negated ? $" AND ({column} IS NULL OR {column} NOT IN ({list}))" : $" AND {column} IN ({list})");
        }
        var keys = query.GroupBy.Select(f => Key(f.Name)).ToList();
        var groups = (query.ByPeriod ? ["period"] : Array.Empty<string>()).Concat(keys).ToList();
        var select = string.Join(", ", new[] { query.ByPeriod ? "period" : "0" }.Concat(keys)
            .Concat(["sum(count)", "sum(unique_visitors)", "sum(unique_sessions)"])
            .Concat(aggregation.SumFields.SelectMany(f => new[] { $"sum(sum_{f.Name})", $"sum(n_{f.Name})" })));
        var sql = $"SELECT {select} FROM {table} WHERE {where}" +
            (groups.Count > 0 ? $" GROUP BY {string.Join(", ", groups)}" : "") + " HAVING count() > 0";
        return await Db.QueryListAsync(sql, row =>
        {
            var keyValues = new string?[keys.Count];
            for (var k = 0; k < keyValues.Length; k++) keyValues[k] = row.GetNullableString(1 + k);
            return MetricRow.FromMeasures(row, 1 + keyValues.Length, query.ByPeriod ? row.GetDate(0) : default, keyValues, aggregation.SumFields.Count);
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken)
    {
        var table = Counter(query.Source);
        var where = new StringBuilder(CurrentRows(table, query.From, query.To));
        foreach (var (dimension, values) in query.Filters)
        {
            var column = CounterNames.Column(dimension);
            var tests = values.Select(value => value is null ? $"{column} IS NULL" : $"{column} = {Quote(value)}").DefaultIfEmpty("0");
            where.Append(CultureInfo.InvariantCulture, $" AND ({string.Join(" OR ", tests)})");
        }
        var keys = query.GroupBy.Select(CounterNames.Column).ToList();
        var groups = (query.ByMonth ? ["month"] : Array.Empty<string>()).Concat(keys).ToList();
        var select = string.Join(", ", new[] { query.ByMonth ? "month" : "0" }.Concat(keys)
            .Concat(CounterNames.Metrics.Select(m => $"sum({CounterNames.Column(m)})")));
        var sql = $"SELECT {select} FROM {table} WHERE {where}" +
            (groups.Count > 0 ? $" GROUP BY {string.Join(", ", groups)}" : "") + " HAVING count() > 0";
        return await Db.QueryListAsync(sql, row =>
        {
            var keyValues = new string?[keys.Count];
            for (var k = 0; k < keyValues.Length; k++) keyValues[k] = row.GetNullableString(1 + k);
            var counter = new CounterRow(query.ByMonth ? row.GetDate(0) : default, keyValues);
            for (var m = 0; m < counter.Values.Length; m++) counter.Values[m] = row.GetInt64(1 + keyValues.Length + m);
            return counter;
        }, cancellationToken);
    }

    public IMetricComputer Computer { get; }

    public Task<(DateOnly First, DateOnly Last)?> GetCounterMonthsAsync(CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(Counter(MetricPeriod.Month), cancellationToken);

    /// <summary>The grouping that keeps no field has a row for each day with data, the fewest rows to read.</summary>
    public Task<(DateOnly First, DateOnly Last)?> GetMetricDaysAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(Metrics(aggregation, MetricPeriod.Day), cancellationToken, " AND grouping_set = 0");

    /// <summary>The first and last periods whose current version has rows.</summary>
    private async Task<(DateOnly First, DateOnly Last)?> FirstAndLastPeriodAsync(string table, CancellationToken cancellationToken, string and = "")
    {
        // Without HAVING, no rows would still give one row, of 0000-00-00.
        var periods = await Db.QueryListAsync($"SELECT min(period), max(period) FROM {table} WHERE {CurrentRows(table, DateOnly.MinValue, DateOnly.MaxValue)}{and} HAVING count() > 0",
            row => (row.GetDate(0), row.GetDate(1)), cancellationToken);
        return periods.Count == 0 ? null : periods[0];
    }

    // ---- item metadata -----------------------------------------------------------------------

    public async Task<IReadOnlyDictionary<string, ItemMetadata>> GetItemsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        await foreach (var item in ReadItemsAsync($"WHERE id IN {IdList}", IdTable(ids), cancellationToken))
            result[item.Id] = item;
        return result;
    }

    public IAsyncEnumerable<ItemMetadata> ScanItemsAsync(CancellationToken cancellationToken) => ReadItemsAsync("", null, cancellationToken);

    private async IAsyncEnumerable<ItemMetadata> ReadItemsAsync(string where, ClickHouseExternalTable? ids, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sql = $"SELECT id, argMax(updated_ms, version), argMax(metadata, version) FROM {Items} {where} GROUP BY id";
        await foreach (var row in Db.QueryAsync(sql, ids, cancellationToken))
        {
            yield return JsonSerializer.Deserialize(row.GetString(2), ItemMetadataJson.Default.ItemMetadata)! with
            {
                Id = row.GetString(0),
                UpdatedAt = FromMs(row.GetInt64(1)),
            };
        }
    }

    public Task PutItemsAsync(IReadOnlyList<ItemMetadata> items, CancellationToken cancellationToken)
    {
        var version = NextVersion();
        return Db.InsertAsync(Items, ["id", "updated_ms", "metadata", "version"], items, (w, item) =>
        {
            w.WriteString(item.Id);
            w.WriteInt64(ToMs(item.UpdatedAt));
            w.WriteString(JsonSerializer.Serialize(item, ItemMetadataJson.Default.ItemMetadata));
            w.WriteUInt64(version);
        }, cancellationToken);
    }

    // ---- settings and state ------------------------------------------------------------------

    public async Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken) =>
        (await Db.QueryListAsync($"SELECT argMax(value, version) FROM {Settings} WHERE key = {Quote(key)} GROUP BY key",
            row => row.GetString(0), cancellationToken)).SingleOrDefault();

    public Task SetSettingAsync(string key, string value, CancellationToken cancellationToken) =>
        PutSettingsAsync([new(key, value)], cancellationToken);

    private Task PutSettingsAsync(IEnumerable<KeyValuePair<string, string>> settings, CancellationToken cancellationToken)
    {
        var version = NextVersion();
        return Db.InsertAsync(Settings, ["key", "value", "version"], settings, (w, setting) =>
        {
            w.WriteString(setting.Key);
            w.WriteString(setting.Value);
            w.WriteUInt64(version);
        }, cancellationToken);
    }

    /// <summary>A mutation, since settings rows carry no mark of removal; waits until every shard has applied it.</summary>
    public async Task RemoveSettingAsync(string key, CancellationToken cancellationToken)
    {
        var table = _cluster.Local(Settings);
        await _cluster.OnEveryShardAsync([$"ALTER TABLE {table} DELETE WHERE key = {Quote(key)}"], cancellationToken);
        foreach (var shard in _cluster.Shards)
        {
            while ((await shard.QueryListAsync($"SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = {Quote(table)} AND is_done = 0",
                       row => row.GetInt64(0), cancellationToken)).Single() > 0)
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }

    public async Task<StoreState> ReadStateAsync(CancellationToken cancellationToken)
    {
        var settings = (await Db.QueryListAsync($"SELECT key, argMax(value, version) FROM {Settings} GROUP BY key",
            row => (Key: row.GetString(0), Value: row.GetString(1)), cancellationToken)).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal);
        var salts = (await Db.QueryListAsync($"SELECT day, argMin(salt, (created, salt)) FROM {Salts} GROUP BY day",
            row => (Day: row.GetDate(0), Salt: Convert.FromHexString(row.GetString(1))), cancellationToken)).ToDictionary(s => s.Day, s => s.Salt);
        return new StoreState(settings, salts);
    }

    /// <summary>Settings replace what is stored under their keys; salts join as later-created, so a day's salt already in use stays.</summary>
    public async Task WriteStateAsync(StoreState state, CancellationToken cancellationToken)
    {
        await PutSettingsAsync(state.Settings, cancellationToken);
        await InsertSaltsAsync(state.Salts, cancellationToken);
    }

    private const int VersionWriterBits = 12;

    /// <summary>
    /// Versions for last-writer-wins rows: microseconds since the epoch, strictly increasing within this store object,
    /// shifted left past the writer's random bits. Across processes the clocks decide, which is what last-writer-wins
    /// means there; the writer bits keep two processes that write in the same microsecond from giving the same version,
    /// which would leave both copies of a period current. Versions written before the bits existed are smaller than any now.
    /// </summary>
    internal ulong NextVersion()
    {
        var now = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
        while (true)
        {
            var last = Interlocked.Read(ref _lastVersionMicroseconds);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref _lastVersionMicroseconds, next, last) == last) return (ulong)next << VersionWriterBits | _writerBits;
        }
    }

    /// <summary>Ids to look up, sent as a temporary table rather than as literals, which 18.16 is slow to parse by the thousand.</summary>
    private static ClickHouseExternalTable IdTable(IEnumerable<string> ids) => new(IdList, "id String", w =>
    {
        foreach (var id in ids.Distinct(StringComparer.Ordinal)) w.WriteString(id);
    });

    private static long ToMs(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;

    private static DateTime FromMs(long ms) => DateTime.UnixEpoch.AddMilliseconds(ms);

    public async ValueTask DisposeAsync()
    {
        // Waits for a transaction that is still open, as SQLite's store does.
        await _writeLock.WaitAsync();
        _cluster.Dispose();
        _writeLock.Dispose();
    }
}

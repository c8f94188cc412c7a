using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using DuckDB.NET.Data;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Storage.DuckDb;

public sealed partial class DuckDbEventStore
{
    public async IAsyncEnumerable<TallyEvent> ScanAsync(
        EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var columns = string.Concat(fields.Select(f => $", {DuckDbNames.Field(f.Name)}")) + (withExtra ? ", extra" : "");
        var extraAt = 5 + fields.Count;
        foreach (var partition in PartitionsOverlapping(connection, [type], from, to))
        {
            using var command = Command(connection, $"SELECT {Envelope}{columns} FROM {partition.Name} WHERE ts >= $from AND ts < $to");
            Bind(command, "from", from);
            Bind(command, "to", to);
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            // One array of values and one event per row, nothing else: the typed getters read without boxing through object.
            while (await reader.ReadAsync(cancellationToken))
            {
                var values = new object?[type.Fields.Count];
                for (var f = 0; f < fields.Count; f++) values[fields[f].Ordinal] = FromDb(reader, 5 + f, fields[f].Type);
                yield return ReadEnvelope(reader, type, values, withExtra && !reader.IsDBNull(extraAt) ? reader.GetString(extraAt) : null);
            }
        }
    }

    public async Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = Command(connection, "");
        var partitions = PartitionsOverlapping(connection, query.Types, query.Start, query.End);
        if (RawKeysSql(command, query, partitions, query.Start, query.End, after: null) is not { } union) return new RawEventPage([], 0);

        command.CommandText = $"SELECT count(*) FROM ({union})";
        var total = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken));
        command.CommandText = $"{OrderedKeys(union, query)} OFFSET {(long)(query.Page - 1) * query.RowsPerPage}";
        return new RawEventPage(await ReadRawEventsAsync(connection, await ReadKeysAsync(command, cancellationToken), partitions, cancellationToken), total);
    }

    public async IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // What is left to read is [from, to), resuming after the last row read, if any.
        var (from, to) = (query.Start, query.End);
        RawKey? last = null;
        while (from < to)
        {
            List<TallyEvent> batch;
            await using (var connection = await OpenReaderAsync(cancellationToken))
            {
                var partitions = PartitionsOverlapping(connection, query.Types, from, to);
                if (partitions.Count == 0) yield break;
                // The stretch at the near end of what is left that only the nearest partition of each type can hold:
                // a batch reads at most one partition per type, however many hours or days the window spans.
                var (slabFrom, slabTo) = query.Descending
                    ? (Max(from, partitions.Max(p => p.Start)), to)
                    : (from, Min(to, partitions.Min(p => p.End)));
                var slab = partitions.Where(p => p.Start < slabTo && p.End > slabFrom).ToList();
                await using var command = Command(connection, "");
                var keys = new List<RawKey>();
                if (RawKeysSql(command, query, slab, slabFrom, slabTo, last) is { } union)
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

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;

    /// <summary>A raw row's place in <see cref="RawEventOrder"/>: its time, its partition and its rowid there (partitions are only appended to, so rowids stay).</summary>
    private readonly record struct RawKey(DateTime Time, string Part, long RowId);

    /// <summary>A raw partition of one of the types asked for, and the times it holds, [Start, End).</summary>
    internal sealed record RawPartitionSpan(string Name, EventType Type, DateTime Start, DateTime End);

    internal static List<RawPartitionSpan> PartitionsOverlapping(DuckDBConnection connection, IReadOnlyList<EventType> types, DateTime from, DateTime to)
    {
        using var command = Command(connection, "SELECT name, type, start_ts, end_ts FROM tally_partitions WHERE start_ts < $to AND end_ts > $from ORDER BY start_ts");
        Bind(command, "from", from);
        Bind(command, "to", to);
        using var reader = command.ExecuteReader();
        var result = new List<RawPartitionSpan>();
        while (reader.Read())
        {
            var type = types.FirstOrDefault(t => t.Name == reader.GetString(1));
            if (type is not null) result.Add(new RawPartitionSpan(reader.GetString(0), type, Utc(reader.GetDateTime(2)), Utc(reader.GetDateTime(3))));
        }
        return result;
    }

    /// <summary>
    /// One UNION ALL of the keys (part, rid, ts) of the rows of <paramref name="partitions"/> in [from, to) that pass
    /// the query; null when no partition can hold a match. After a row read (keyset paging), each partition gives
    /// only its first RowsPerPage rows beyond it.
    /// </summary>
    private static string? RawKeysSql(DuckDBCommand command, RawEventQuery query, IEnumerable<RawPartitionSpan> partitions, DateTime from, DateTime to, RawKey? after)
    {
        var order = query.Descending ? "DESC" : "ASC";
        var selects = new List<string>();
        foreach (var partition in partitions)
        {
            var where = FilterSql(partition.Type, query, command);
            if (where is null) continue;
            var select = $"SELECT '{partition.Name}' AS part, rowid AS rid, ts FROM {partition.Name} WHERE ts >= {Literal(from)} AND ts < {Literal(to)}{where}";
            selects.Add(after is { } last
                ? $"SELECT * FROM ({select} AND {RawEventOrder.After(string.CompareOrdinal(partition.Name, last.Part), query.Descending, "ts", "rowid", Literal(last.Time), last.RowId.ToString(CultureInfo.InvariantCulture))} " +
                  $"ORDER BY ts {order}, rowid {order} LIMIT {query.RowsPerPage})"
                : select);
        }
        return selects.Count == 0 ? null : string.Join(" UNION ALL ", selects);
    }

    /// <summary>A timestamp as SQL: keys and bounds are written into the text, as each partition's select uses only some of them and DuckDB refuses unused parameters.</summary>
    internal static string Literal(DateTime utc) => $"TIMESTAMP '{utc.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)}'";

    /// <summary>The first RowsPerPage keys of a <see cref="RawKeysSql"/> union in <see cref="RawEventOrder"/>.</summary>
    private static string OrderedKeys(string union, RawEventQuery query)
    {
        var order = query.Descending ? "DESC" : "ASC";
        return $"SELECT part, rid, ts FROM ({union}) ORDER BY ts {order}, part {order}, rid {order} LIMIT {query.RowsPerPage}";
    }

    private static async Task<List<RawKey>> ReadKeysAsync(DuckDBCommand command, CancellationToken cancellationToken)
    {
        var keys = new List<RawKey>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) keys.Add(new RawKey(Utc(reader.GetDateTime(2)), reader.GetString(0), reader.GetInt64(1)));
        return keys;
    }

    /// <summary>The events at these keys, in the keys' order: one read per partition.</summary>
    private static async Task<List<TallyEvent>> ReadRawEventsAsync(
        DuckDBConnection connection, IReadOnlyList<RawKey> keys, IReadOnlyList<RawPartitionSpan> partitions, CancellationToken cancellationToken)
    {
        var found = new Dictionary<(string Part, long RowId), TallyEvent>();
        foreach (var group in keys.GroupBy(k => k.Part))
        {
            var type = partitions.First(p => p.Name == group.Key).Type;
            var columns = string.Concat(type.Fields.Select(f => $", {DuckDbNames.Field(f.Name)}"));
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
    private static string? FilterSql(EventType type, RawEventQuery query, DuckDBCommand command)
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
            // Values are compared as the field's type; one that cannot be of that type matches no row.
            var names = filter.Values.Select(value => Typed(value, field.Type)).OfType<object>()
                .Select(value => Bind(command, $"v{command.Parameters.Count}", value)).ToList();
            if (names.Count == 0 && filter.Negated) continue;
            var column = DuckDbNames.Field(field.Name);
            var list = names.Count == 0 ? "NULL" : string.Join(", ", names);
            sql.Append(filter.Negated ? $" AND ({column} IS NULL OR {column} NOT IN ({list}))" : $" AND {column} IN ({list})");
        }
        return sql.ToString();
    }

    private static object? Typed(string value, FieldType type) => type switch
    {
        FieldType.Integer => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null,
        FieldType.Number => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : null,
        // Booleans are named true/false in filters, as events show them.
        FieldType.Boolean => value switch { "true" => true, "false" => false, _ => null },
        _ => value,
    };

    internal static object? FromDb(DbDataReader reader, int ordinal, FieldType type)
    {
        if (reader.IsDBNull(ordinal)) return null;
        return type switch
        {
            FieldType.Integer => reader.GetInt64(ordinal),
            FieldType.Number => reader.GetDouble(ordinal),
            FieldType.Boolean => reader.GetBoolean(ordinal),
            _ => reader.GetString(ordinal),
        };
    }

    private static TallyEvent ReadEnvelope(DbDataReader reader, EventType type, object?[] values, string? extra) =>
        new(type, reader.GetString(0), Utc(reader.GetDateTime(1)), values, extra)
        {
            IsRobot = reader.GetBoolean(2),
            VisitorId = reader.GetInt64(3),
            SessionId = reader.GetInt64(4),
        };
}

using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using Tally.Storage.Relational;

namespace Tally.Storage.Sqlite;

/// <summary>
/// Computes metrics inside SQLite with the shared <see cref="MetricSql"/>, on the store's writer: each call deletes and
/// inserts its periods' rows in one write transaction. SQLite has neither a regular expression nor .NET's number text,
/// so the writer gets both as functions of its own.
/// </summary>
internal sealed class SqliteMetricComputer : IMetricComputer
{
    private const string NumberTextFunction = "tally_number_text";
    private const string PageAuthorityFunction = "tally_page_authority";
    internal static readonly MetricSql Statements = new(new SqliteDialect());
    private readonly SqliteEventStore _store;
    private readonly SqliteConnection _writer;

    public SqliteMetricComputer(SqliteEventStore store, SqliteConnection writer)
    {
        _store = store;
        _writer = writer;
        writer.CreateFunction<double?, string?>(NumberTextFunction, n => n?.ToString(CultureInfo.InvariantCulture), isDeterministic: true);
        writer.CreateFunction<string?, string?>(PageAuthorityFunction, Referrers.PageAuthority, isDeterministic: true);
    }

    public async Task<long> ComputeDaysAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        if (days.Count == 0) return 0;
        long events = 0;
        await _store.WriteAsync(transaction =>
        {
            foreach (var aggregation in aggregations)
                _store.Execute(_writer, Statements.DeletePeriods(SqliteNames.Metrics(aggregation, MetricPeriod.Day), days), transaction);
            if (Source(type, days) is not { } source) return;
            if (MetricSql.GroupsByReferrer(aggregations)) LoadReferrerKeys(transaction, type, source, days, referrers);
            var stage = Statements.Stage(type, aggregations, source, days);
            _store.Execute(_writer, stage.Create, transaction);
            using (var count = _store.Command(_writer, stage.Count, transaction))
                events = (long)count.ExecuteScalar()!;
            if (events == 0) return;
            foreach (var insert in stage.InsertDays()) _store.Execute(_writer, insert, transaction);
        }, cancellationToken);
        return events;
    }

    /// <summary>Fills <see cref="MetricSql.ReferrerKeys"/>, a temporary table of the writer, with the key .NET gives each referrer and page authority of the days.</summary>
    private void LoadReferrerKeys(SqliteTransaction transaction, EventType type, string source, IReadOnlyList<DateOnly> days, Referrers referrers)
    {
        var pairs = new List<(string Referrer, string Authority)>();
        using (var select = _store.Command(_writer, Statements.DistinctReferrers(type, source, days), transaction))
        using (var reader = select.ExecuteReader())
        {
            while (reader.Read()) pairs.Add((reader.GetString(0), reader.GetString(1)));
        }
        var columns = MetricSql.ReferrerKeyColumns;
        _store.Execute(_writer, $"""
            CREATE TEMP TABLE IF NOT EXISTS {MetricSql.ReferrerKeys} ({string.Join(", ", columns.Select(c => $"{c} TEXT"))}, PRIMARY KEY ({columns[0]}, {columns[1]}));
            DELETE FROM {MetricSql.ReferrerKeys};
            """, transaction);
        using var insert = _store.Command(_writer, $"INSERT INTO {MetricSql.ReferrerKeys} VALUES ($r, $a, $k)", transaction);
        var (referrer, authority, key) = (insert.Parameters.Add("$r", SqliteType.Text), insert.Parameters.Add("$a", SqliteType.Text), insert.Parameters.Add("$k", SqliteType.Text));
        foreach (var keyed in MetricSql.KeyReferrers(pairs, referrers))
        {
            (referrer.Value, authority.Value, key.Value) = keyed;
            insert.ExecuteNonQuery();
        }
    }

    public Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken) =>
        days.Count == 0 ? Task.CompletedTask : _store.WriteAsync(transaction =>
        {
            _store.Execute(_writer, Statements.DeletePeriods(SqliteEventStore.CounterTable(MetricPeriod.Day), days), transaction);
            var sources = types.Select(t => (Type: t, Events: Source(t, days))).Where(s => s.Events is not null).Select(s => (s.Type, s.Events!)).ToList();
            if (Statements.InsertCounterDays(sources, days) is { } insert) _store.Execute(_writer, insert, transaction);
        }, cancellationToken);

    public async IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(EventType type, IReadOnlyList<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (days.Count == 0) yield break;
        await using var connection = await _store.OpenReaderAsync(cancellationToken);
        if (Source(type, days, connection) is not { } source) yield break;
        if (Statements.StatedMetadata(type, source, days, out var fields) is not { } select) yield break;
        using var command = _store.Command(connection, select);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        for (var n = 0; await reader.ReadAsync(cancellationToken); n++)
        {
            var values = new object?[type.Fields.Count];
            for (var f = 0; f < fields.Count; f++) values[fields[f].Ordinal] = SqliteEventStore.FromDb(reader, 1 + f, fields[f].Type);
            yield return new TallyEvent(type, n.ToString(CultureInfo.InvariantCulture), SqliteEventStore.FromMs(reader.GetInt64(0)), values);
        }
    }

    public Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        months.Count == 0 ? Task.CompletedTask : _store.WriteAsync(transaction =>
        {
            _store.Execute(_writer, Statements.DeletePeriods(SqliteNames.Metrics(aggregation, MetricPeriod.Month), months), transaction);
            _store.Execute(_writer, Statements.InsertMonths(aggregation, months), transaction);
        }, cancellationToken);

    public Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        months.Count == 0 ? Task.CompletedTask : _store.WriteAsync(transaction =>
        {
            _store.Execute(_writer, Statements.DeletePeriods(SqliteEventStore.CounterTable(MetricPeriod.Month), months), transaction);
            _store.Execute(_writer, Statements.InsertCounterMonths(months), transaction);
        }, cancellationToken);

    /// <summary>The raw events of a type on the days: its one partition there, or a union of its partitions; null when it has none.</summary>
    private string? Source(EventType type, IReadOnlyList<DateOnly> days, SqliteConnection? connection = null)
    {
        var (from, to) = MetricSql.Span(days);
        return Statements.Events(type, [.. _store.PartitionsOverlapping(connection ?? _writer, [type], from, to).Select(p => p.Name)]);
    }

    /// <summary>SQLite's spelling of the shared statements: days as day numbers, instants as Unix milliseconds, booleans as 0 and 1.</summary>
    private sealed class SqliteDialect : MetricSqlDialect
    {
        private static readonly int UnixEpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

        public override string Field(FieldDefinition field) => SqliteNames.Field(field.Name);

        public override string Key(FieldDefinition field) => SqliteNames.Key(field.Name);

        public override string Sum(FieldDefinition field) => $"sum_{field.Name}";

        public override string SumCount(FieldDefinition field) => $"n_{field.Name}";

        public override string Metrics(AggregationDefinition aggregation, MetricPeriod period) => SqliteNames.Metrics(aggregation, period);

        public override string Counter(MetricPeriod period) => SqliteEventStore.CounterTable(period);

        public override string Day(DateOnly day) => day.DayNumber.ToString(CultureInfo.InvariantCulture);

        public override string Instant(DateTime utc) => SqliteEventStore.ToMs(utc).ToString(CultureInfo.InvariantCulture);

        public override DateOnly ReadDay(DbDataReader reader, int ordinal) => DateOnly.FromDayNumber(reader.GetInt32(ordinal));

        public override string DayOf(string ts) => string.Create(CultureInfo.InvariantCulture, $"({UnixEpochDay} + {ts} / {TimeSpan.MillisecondsPerDay})");

        public override string AfterDoubleClickWindow(string ts) =>
            string.Create(CultureInfo.InvariantCulture, $"{ts} + {(long)CounterDayCalculator.DoubleClickWindow.TotalMilliseconds}");

        public override string NumberText(string column) => $"{NumberTextFunction}({column})";

        public override string PageAuthority(string url) => $"{PageAuthorityFunction}({url})";

        // BINARY, SQLite's default collation, compares UTF-8 bytes: code point order, as ordinal comparison is outside surrogates.
        public override string Ordinal(string text) => text;

        public override string Parameter(int index) => $"$v{index}";

        public override string CreateTemporary(string table, string select) => $"DROP TABLE IF EXISTS temp.{table}; CREATE TEMP TABLE {table} AS {select}";

        // SQLite has no hash function; every row goes through the windows.
        public override string? Hash(string columns) => null;

        // Two sorting GROUP BYs took longer than count(DISTINCT) (docs/benchmarks.md, "COUNTER days by session").
        public override bool DistinctInTwoSteps => false;

        public override bool HasGroupingSets => false;
    }
}

using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using Tally.Storage.Relational;
using static Tally.Storage.Postgres.PostgresEventStore;
using static Tally.Storage.Postgres.PostgresNames;

namespace Tally.Storage.Postgres;

/// <summary>
/// Computes metrics inside PostgreSQL with the shared <see cref="MetricSql"/>: each call deletes and inserts its periods'
/// rows in one transaction (days in a few at once, see <see cref="Slices"/>), queued behind other replacements of the same
/// periods as <see cref="PostgresEventStore.ReplaceMetricsAsync"/> is.
/// </summary>
internal sealed class PostgresMetricComputer(NpgsqlDataSource dataSource, string schema) : IMetricComputer
{
    internal static readonly MetricSql Statements = new(new PostgresDialect());

    public async Task<long> ComputeDaysAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        var counts = await Task.WhenAll(Slices(days).Select(slice => ComputeSliceAsync(type, aggregations, slice, referrers, cancellationToken)));
        return counts.Sum();
    }

    /// <summary>
    /// Days split into one run per core of this machine, each in its own transaction on its own connection: PostgreSQL
    /// computes a statement's exact distinct counts and windows on one core, and days are independent of each other.
    /// </summary>
    private static IEnumerable<DateOnly[]> Slices(IReadOnlyList<DateOnly> days) =>
        days.Order().Chunk(Math.Max(1, (days.Count + Environment.ProcessorCount - 1) / Environment.ProcessorCount));

    private async Task<long> ComputeSliceAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        long events = 0;
        await WriteAsync(aggregations.Select(a => Metrics(a, MetricPeriod.Day)), days, async (connection, transaction) =>
        {
            if (!await HasEventsAsync(connection, transaction, type, days, cancellationToken)) return;
            var table = Quote(Events(type));
            if (MetricSql.GroupsByReferrer(aggregations)) await LoadReferrerKeysAsync(connection, transaction, type, table, days, referrers, cancellationToken);
            var stage = Statements.Stage(type, aggregations, table, days);
            await RunAsync(Sql(connection, transaction, stage.Create), cancellationToken);
            events = await ScalarAsync<long>(Sql(connection, transaction, stage.Count), cancellationToken);
            if (events == 0) return;
            foreach (var insert in stage.InsertDays()) await RunAsync(Sql(connection, transaction, insert), cancellationToken);
        }, cancellationToken);
        return events;
    }

    /// <summary>Fills <see cref="MetricSql.ReferrerKeys"/>, dropped at commit, with the key .NET gives each referrer and page authority of the days.</summary>
    private static async Task LoadReferrerKeysAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, EventType type, string table, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        var pairs = await ReadAllAsync(Sql(connection, transaction, Statements.DistinctReferrers(type, table, days)), r => (Referrer: r.GetString(0), Authority: r.GetString(1)), cancellationToken);
        var keyed = MetricSql.KeyReferrers(pairs, referrers).ToList();
        var columns = string.Join(", ", MetricSql.ReferrerKeyColumns.Select(c => $"{c} text"));
        await RunAsync(Sql(connection, transaction, $"""
            CREATE TEMP TABLE {MetricSql.ReferrerKeys} ({columns}) ON COMMIT DROP;
            INSERT INTO {MetricSql.ReferrerKeys} SELECT * FROM unnest(@referrers, @authorities, @keys);
            ANALYZE {MetricSql.ReferrerKeys};
            """,
            ("referrers", keyed.Select(p => p.Referrer).ToArray()), ("authorities", keyed.Select(p => p.Authority).ToArray()), ("keys", keyed.Select(p => p.Key).ToArray())),
            cancellationToken);
    }

    public async Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken)
    {
        await Task.WhenAll(Slices(days).Select(slice => WriteAsync([Counter(MetricPeriod.Day)], slice, async (connection, transaction) =>
        {
            var (from, to) = MetricSql.Span(slice);
            var stored = await TypesWithPartitionsAsync(connection, transaction, types, from, to, cancellationToken);
            if (Statements.InsertCounterDays([.. stored.Select(t => (t, Quote(Events(t))))], slice) is { } insert)
                await RunAsync(Sql(connection, transaction, insert), cancellationToken);
        }, cancellationToken)));
    }

    public async IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(EventType type, IReadOnlyList<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (days.Count == 0) yield break;
        if (Statements.StatedMetadata(type, Quote(Events(type)), days, out var fields) is not { } select) yield break;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await HasEventsAsync(connection, null, type, days, cancellationToken)) yield break;
        await using var command = Sql(connection, null, select);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        for (var n = 0; await reader.ReadAsync(cancellationToken); n++)
        {
            var values = new object?[type.Fields.Count];
            for (var f = 0; f < fields.Count; f++) values[fields[f].Ordinal] = FromDb(reader, 1 + f, fields[f].Type);
            yield return new TallyEvent(type, n.ToString(CultureInfo.InvariantCulture), reader.GetFieldValue<DateTime>(0), values);
        }
    }

    public Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        months.Count == 0 ? Task.CompletedTask : WriteAsync([Metrics(aggregation, MetricPeriod.Month)], months, (connection, transaction) =>
            RunAsync(Sql(connection, transaction, Statements.InsertMonths(aggregation, months)), cancellationToken), cancellationToken);

    public Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        months.Count == 0 ? Task.CompletedTask : WriteAsync([Counter(MetricPeriod.Month)], months, (connection, transaction) =>
            RunAsync(Sql(connection, transaction, Statements.InsertCounterMonths(months)), cancellationToken), cancellationToken);

    /// <summary>In one transaction: locks and deletes the periods of the tables, then runs <paramref name="insert"/>.</summary>
    private async Task WriteAsync(
        IEnumerable<string> tables, IReadOnlyList<DateOnly> periods, Func<NpgsqlConnection, NpgsqlTransaction, Task> insert, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var table in tables.Order(StringComparer.Ordinal))
        {
            foreach (var period in periods.Order()) await LockPeriodAsync(connection, transaction, schema, table, period, cancellationToken);
            await RunAsync(Sql(connection, transaction, Statements.DeletePeriods(Quote(table), periods)), cancellationToken);
        }
        await insert(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Whether the type has partitions on the days: a type never set up may have no table.</summary>
    private static async Task<bool> HasEventsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, EventType type, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken)
    {
        var (from, to) = MetricSql.Span(days);
        return (await TypesWithPartitionsAsync(connection, transaction, [type], from, to, cancellationToken)).Count > 0;
    }

    /// <summary>PostgreSQL's spelling of the shared statements.</summary>
    private sealed class PostgresDialect : MetricSqlDialect
    {
        public override string Field(FieldDefinition field) => Quote(PostgresNames.Field(field.Name));

        public override string Key(FieldDefinition field) => Quote(PostgresNames.Key(field.Name));

        public override string Sum(FieldDefinition field) => Quote(PostgresNames.Sum(field.Name));

        public override string SumCount(FieldDefinition field) => Quote(PostgresNames.SumCount(field.Name));

        public override string Metrics(AggregationDefinition aggregation, MetricPeriod period) => Quote(PostgresNames.Metrics(aggregation, period));

        public override string Counter(MetricPeriod period) => Quote(PostgresNames.Counter(period));

        public override string Day(DateOnly day) => string.Create(CultureInfo.InvariantCulture, $"DATE '{day:yyyy-MM-dd}'");

        public override string Instant(DateTime utc) => string.Create(CultureInfo.InvariantCulture, $"TIMESTAMPTZ '{utc:yyyy-MM-dd HH:mm:ss.fff}+00'");

        public override DateOnly ReadDay(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateOnly>(ordinal);

        public override string DayOf(string ts) => $"CAST({ts} AT TIME ZONE 'UTC' AS date)";

        public override string AfterDoubleClickWindow(string ts) =>
            string.Create(CultureInfo.InvariantCulture, $"{ts} + interval '{CounterDayCalculator.DoubleClickWindow.TotalMilliseconds} milliseconds'");

        /// <summary>
        /// float8 prints the shortest digits that read back as the same double, as .NET does, and both write an exponent
        /// below 1E-04; above, PostgreSQL writes one from 1e+15 and .NET only from 1E+17, so between them the digits are
        /// written out in full (with a point when the fraction has digits). Elsewhere only the exponent's e differs.
        /// </summary>
        public override string NumberText(string column)
        {
            var text = $"CAST({column} AS text)";
            var exponent = $"CAST(split_part({text}, 'e', 2) AS integer)";
            var digits = $"replace(split_part(ltrim({text}, '-'), 'e', 1), '.', '')";
            var plain = $"CASE WHEN {column} < 0 THEN '-' ELSE '' END || CASE WHEN length({digits}) <= {exponent} + 1 THEN rpad({digits}, {exponent} + 1, '0') " +
                        $"ELSE left({digits}, {exponent} + 1) || '.' || substr({digits}, {exponent} + 2) END";
            return $"CASE WHEN abs({column}) >= 1e15 AND abs({column}) < 1e17 THEN {plain} ELSE replace({text}, 'e', 'E') END";
        }

        public override string PageAuthority(string url) => $"substring({url} from '{Referrers.PageAuthorityPattern}')";

        public override string Ordinal(string text) => $"{text} COLLATE \"C\"";

        public override string Parameter(int index) => $"@v{index}";

        public override string CreateTemporary(string table, string select) => $"DROP TABLE IF EXISTS {table}; CREATE TEMP TABLE {table} ON COMMIT DROP AS {select}; ANALYZE {table}";

        // hash_record_extended needs a composite type per list; every row goes through the windows, as PostgreSQL sorts them anyway.
        public override string? Hash(string columns) => null;

        // Counted with GROUPING SETS in one pass; in two steps there a rebuild took a fifth longer (docs/benchmarks.md).
        public override bool DistinctInTwoSteps => false;

        public override bool HasGroupingSets => true;
    }
}

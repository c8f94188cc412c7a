using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using DuckDB.NET.Data;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using Tally.Storage.Relational;

namespace Tally.Storage.DuckDb;

/// <summary>
/// Computes metrics inside DuckDB with the shared <see cref="MetricSql"/>, on the file's writer: each call deletes and
/// inserts its periods' rows in one write transaction, and DuckDB runs each statement on every core.
/// </summary>
internal sealed class DuckDbMetricComputer(DuckDbEventStore store, DuckDbFile file) : IMetricComputer
{
    /// <summary>.NET's invariant text of a double, registered on the writer: DuckDB writes 2.0 where .NET writes 2.</summary>
    public const string NumberTextFunction = "tally_number_text";
    internal static readonly MetricSql Statements = new(new DuckDbDialect());

    public async Task<long> ComputeDaysAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
    {
        if (days.Count == 0) return 0;
        long events = 0;
        await store.WriteAsync(() =>
        {
            foreach (var aggregation in aggregations)
                DuckDbEventStore.Execute(file.Writer, Statements.DeletePeriods(DuckDbNames.Metrics(aggregation, MetricPeriod.Day), days));
            if (Source(type, days, file.Writer) is not { } source) return;
            if (MetricSql.GroupsByReferrer(aggregations)) LoadReferrerKeys(type, source, days, referrers);
            var stage = Statements.Stage(type, aggregations, source, days);
            DuckDbEventStore.Execute(file.Writer, stage.Create);
            using (var count = DuckDbEventStore.Command(file.Writer, stage.Count))
                events = Convert.ToInt64(count.ExecuteScalar(), CultureInfo.InvariantCulture);
            if (events == 0) return;
            foreach (var insert in stage.InsertDays()) DuckDbEventStore.Execute(file.Writer, insert);
        }, cancellationToken);
        return events;
    }

    /// <summary>Fills <see cref="MetricSql.ReferrerKeys"/>, a temporary table of the writer, with the key .NET gives each referrer and page authority of the days.</summary>
    private void LoadReferrerKeys(EventType type, string source, IReadOnlyList<DateOnly> days, Referrers referrers)
    {
        var pairs = new List<(string Referrer, string Authority)>();
        using (var select = DuckDbEventStore.Command(file.Writer, Statements.DistinctReferrers(type, source, days)))
        using (var reader = select.ExecuteReader())
        {
            while (reader.Read()) pairs.Add((reader.GetString(0), reader.GetString(1)));
        }
        var columns = MetricSql.ReferrerKeyColumns;
        DuckDbEventStore.Execute(file.Writer, $"""
            CREATE TEMP TABLE IF NOT EXISTS {MetricSql.ReferrerKeys} ({string.Join(", ", columns.Select(c => $"{c} VARCHAR"))});
            DELETE FROM {MetricSql.ReferrerKeys};
            """);
        using var appender = file.Writer.CreateAppender("temp", "main", MetricSql.ReferrerKeys);
        foreach (var (referrer, authority, key) in MetricSql.KeyReferrers(pairs, referrers))
            appender.CreateRow().AppendValue(referrer).AppendValue(authority).AppendValue(key).EndRow();
    }

    public Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken) =>
        days.Count == 0 ? Task.CompletedTask : store.WriteAsync(() =>
        {
            DuckDbEventStore.Execute(file.Writer, Statements.DeletePeriods(DuckDbNames.Counter(MetricPeriod.Day), days));
            var sources = types.Select(t => (Type: t, Events: Source(t, days, file.Writer))).Where(s => s.Events is not null).Select(s => (s.Type, s.Events!)).ToList();
            if (Statements.InsertCounterDays(sources, days) is { } insert) DuckDbEventStore.Execute(file.Writer, insert);
        }, cancellationToken);

    public async IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(EventType type, IReadOnlyList<DateOnly> days, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (days.Count == 0) yield break;
        await using var connection = await store.OpenReaderAsync(cancellationToken);
        if (Source(type, days, connection) is not { } source) yield break;
        if (Statements.StatedMetadata(type, source, days, out var fields) is not { } select) yield break;
        using var command = DuckDbEventStore.Command(connection, select);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        for (var n = 0; await reader.ReadAsync(cancellationToken); n++)
        {
            var values = new object?[type.Fields.Count];
            for (var f = 0; f < fields.Count; f++) values[fields[f].Ordinal] = DuckDbEventStore.FromDb(reader, 1 + f, fields[f].Type);
            yield return new TallyEvent(type, n.ToString(CultureInfo.InvariantCulture), DuckDbEventStore.Utc(reader.GetDateTime(0)), values);
        }
    }

    public Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        months.Count == 0 ? Task.CompletedTask : store.WriteAsync(() =>
        {
            DuckDbEventStore.Execute(file.Writer, Statements.DeletePeriods(DuckDbNames.Metrics(aggregation, MetricPeriod.Month), months));
            DuckDbEventStore.Execute(file.Writer, Statements.InsertMonths(aggregation, months));
        }, cancellationToken);

    public Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken) =>
        months.Count == 0 ? Task.CompletedTask : store.WriteAsync(() =>
        {
            DuckDbEventStore.Execute(file.Writer, Statements.DeletePeriods(DuckDbNames.Counter(MetricPeriod.Month), months));
            DuckDbEventStore.Execute(file.Writer, Statements.InsertCounterMonths(months));
        }, cancellationToken);

    /// <summary>The raw events of a type on the days: its one partition there, or a union of its partitions; null when it has none.</summary>
    private static string? Source(EventType type, IReadOnlyList<DateOnly> days, DuckDBConnection connection)
    {
        var (from, to) = MetricSql.Span(days);
        return Statements.Events(type, [.. DuckDbEventStore.PartitionsOverlapping(connection, [type], from, to).Select(p => p.Name)]);
    }

    /// <summary>DuckDB's spelling of the shared statements: DATE periods and TIMESTAMP instants, both UTC.</summary>
    private sealed class DuckDbDialect : MetricSqlDialect
    {
        public override string Field(FieldDefinition field) => DuckDbNames.Field(field.Name);

        public override string Key(FieldDefinition field) => DuckDbNames.Key(field.Name);

        public override string Sum(FieldDefinition field) => $"sum_{field.Name}";

        public override string SumCount(FieldDefinition field) => $"n_{field.Name}";

        public override string Metrics(AggregationDefinition aggregation, MetricPeriod period) => DuckDbNames.Metrics(aggregation, period);

        public override string Counter(MetricPeriod period) => DuckDbNames.Counter(period);

        public override string Day(DateOnly day) => string.Create(CultureInfo.InvariantCulture, $"DATE '{day:yyyy-MM-dd}'");

        public override string Instant(DateTime utc) => DuckDbEventStore.Literal(utc);

        public override DateOnly ReadDay(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateOnly>(ordinal);

        public override string DayOf(string ts) => $"CAST({ts} AS DATE)";

        public override string AfterDoubleClickWindow(string ts) =>
            string.Create(CultureInfo.InvariantCulture, $"{ts} + INTERVAL '{CounterDayCalculator.DoubleClickWindow.TotalMilliseconds} milliseconds'");

        public override string NumberText(string column) => $"{NumberTextFunction}({column})";

        // The pattern matches at least a scheme and "://", so an empty extract means no match.
        public override string PageAuthority(string url) => $"nullif(regexp_extract({url}, '{Referrers.PageAuthorityPattern}'), '')";

        // DuckDB's default collation compares bytes: code point order, as ordinal comparison is outside surrogates.
        public override string Ordinal(string text) => text;

        public override string Parameter(int index) => $"$v{index}";

        public override string CreateTemporary(string table, string select) => $"CREATE OR REPLACE TEMP TABLE {table} AS {select}";

        public override string? Hash(string columns) => $"hash({columns})";

        // A grouping by item took half as long so on 3.2 M events (docs/benchmarks.md, "COUNTER days by session").
        public override bool DistinctInTwoSteps => true;

        // DuckDB's CUBE (grouping sets) with DISTINCT counts took 3 to 4 times as long as a GROUP BY per grouping over the staged rows (measured on 1 M events).
        public override bool HasGroupingSets => false;
    }
}

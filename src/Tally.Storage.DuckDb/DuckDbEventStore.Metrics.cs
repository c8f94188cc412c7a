using System.Data.Common;
using System.Text;
using DuckDB.NET.Data;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;

namespace Tally.Storage.DuckDb;

public sealed partial class DuckDbEventStore
{
    public Task ReplaceMetricsAsync(AggregationDefinition aggregation, MetricPeriod period, DateOnly start, IReadOnlyList<MetricRow> rows, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            // The appender fills the columns in the order setup made them.
            var table = DuckDbNames.Metrics(aggregation, period);
            DeletePeriod(table, start);
            using var appender = _file.Writer.CreateAppender(table);
            foreach (var row in rows)
            {
                var values = appender.CreateRow().AppendValue(start).AppendValue(row.Grouping);
                foreach (var key in row.Keys) values = values.AppendValue(key);
                values = values.AppendValue(row.Count).AppendValue(row.UniqueVisitors).AppendValue(row.UniqueSessions);
                for (var s = 0; s < row.Sums.Length; s++) values = values.AppendValue(row.Sums[s]).AppendValue(row.SumCounts[s]);
                values.EndRow();
            }
        }, cancellationToken);

    public Task ReplaceCounterMetricsAsync(MetricPeriod period, DateOnly start, IReadOnlyList<CounterRow> rows, CancellationToken cancellationToken) =>
        WriteAsync(() =>
        {
            var table = DuckDbNames.Counter(period);
            DeletePeriod(table, start);
            var month = new DateOnly(start.Year, start.Month, 1);
            using var appender = _file.Writer.CreateAppender(table);
            foreach (var row in rows)
            {
                var values = appender.CreateRow().AppendValue(start).AppendValue(month);
                foreach (var key in row.Keys) values = values.AppendValue(key);
                foreach (var value in row.Values) values = values.AppendValue(value);
                values.EndRow();
            }
        }, cancellationToken);

    private void DeletePeriod(string table, DateOnly start)
    {
        using var delete = Command(_file.Writer, $"DELETE FROM {table} WHERE period = $p");
        Bind(delete, "p", start);
        delete.ExecuteNonQuery();
    }

    public async Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(MetricQuery query, CancellationToken cancellationToken)
    {
        var aggregation = query.Aggregation;
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = Command(connection, "");
        var where = new StringBuilder($"grouping_set = {Bind(command, "grouping", query.Grouping)} AND period BETWEEN {Bind(command, "from", query.From)} AND {Bind(command, "to", query.To)}");
        foreach (var filter in query.Filters)
        {
            var column = DuckDbNames.Key(filter.Field);
            var list = string.Join(", ", filter.Values.Select(value => Bind(command, $"v{command.Parameters.Count}", value)));
            where.Append(filter.Negated ? $" AND ({column} IS NULL OR {column} NOT IN ({list}))" : $" AND {column} IN ({list})");
        }
        var keys = query.GroupBy.Select(f => DuckDbNames.Key(f.Name)).ToList();
        var groups = (query.ByPeriod ? ["period"] : Array.Empty<string>()).Concat(keys).ToList();
        // DuckDB sums BIGINT into HUGEINT; the totals fit a BIGINT.
        var select = string.Join(", ", (query.ByPeriod ? new[] { "period" } : ["NULL::DATE"])
            .Concat(keys)
            .Concat(["sum(count)::BIGINT", "sum(unique_visitors)::BIGINT", "sum(unique_sessions)::BIGINT"])
            .Concat(aggregation.SumFields.SelectMany(f => new[] { $"sum(sum_{f.Name})", $"sum(n_{f.Name})::BIGINT" })));
        command.CommandText = $"SELECT {select} FROM {DuckDbNames.Metrics(aggregation, query.Source)} WHERE {where}" +
            (groups.Count > 0 ? $" GROUP BY {string.Join(", ", groups)}" : "") + " HAVING count(*) > 0";
        var rows = new List<MetricRow>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new MetricRow(query.ByPeriod ? reader.GetFieldValue<DateOnly>(0) : default, ReadKeys(reader, keys.Count), aggregation.SumFields.Count);
            var c = 1 + keys.Count;
            row.Count = reader.GetInt64(c++);
            row.UniqueVisitors = reader.GetInt64(c++);
            row.UniqueSessions = reader.GetInt64(c++);
            for (var s = 0; s < row.Sums.Length; s++)
            {
                row.Sums[s] = reader.GetDouble(c++);
                row.SumCounts[s] = reader.GetInt64(c++);
            }
            rows.Add(row);
        }
        return rows;
    }

    public async Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await DuckDbMetricComputer.Statements.RankMetricsAsync(connection, parts, metric, offset, count, cancellationToken);
    }

    public async Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = Command(connection, "");
        var where = new StringBuilder($"period BETWEEN {Bind(command, "from", query.From)} AND {Bind(command, "to", query.To)}");
        foreach (var (dimension, values) in query.Filters)
        {
            var column = CounterNames.Column(dimension);
            var tests = values.Select(value => value is null ? $"{column} IS NULL" : $"{column} = {Bind(command, $"v{command.Parameters.Count}", value)}").DefaultIfEmpty("false");
            where.Append($" AND ({string.Join(" OR ", tests)})");
        }
        var keys = query.GroupBy.Select(CounterNames.Column).ToList();
        var groups = (query.ByMonth ? ["month"] : Array.Empty<string>()).Concat(keys).ToList();
        var select = string.Join(", ", (query.ByMonth ? new[] { "month" } : ["NULL::DATE"])
            .Concat(keys)
            .Concat(CounterNames.Metrics.Select(m => $"sum({CounterNames.Column(m)})::BIGINT")));
        command.CommandText = $"SELECT {select} FROM {DuckDbNames.Counter(query.Source)} WHERE {where}" +
            (groups.Count > 0 ? $" GROUP BY {string.Join(", ", groups)}" : "") + " HAVING count(*) > 0";
        var rows = new List<CounterRow>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new CounterRow(query.ByMonth ? reader.GetFieldValue<DateOnly>(0) : default, ReadKeys(reader, keys.Count));
            for (var m = 0; m < row.Values.Length; m++) row.Values[m] = reader.GetInt64(1 + keys.Count + m);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>The group-by keys of a metric row, which follow its first column.</summary>
    private static string?[] ReadKeys(DbDataReader reader, int count)
    {
        var keys = new string?[count];
        for (var k = 0; k < count; k++) keys[k] = reader.IsDBNull(1 + k) ? null : reader.GetString(1 + k);
        return keys;
    }

    public Task<(DateOnly First, DateOnly Last)?> GetCounterMonthsAsync(CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(DuckDbNames.Counter(MetricPeriod.Month), cancellationToken);

    /// <summary>The grouping that keeps no field has a row for each day with data.</summary>
    public Task<(DateOnly First, DateOnly Last)?> GetMetricDaysAsync(AggregationDefinition aggregation, CancellationToken cancellationToken) =>
        FirstAndLastPeriodAsync(DuckDbNames.Metrics(aggregation, MetricPeriod.Day), cancellationToken, " WHERE grouping_set = 0");

    private async Task<(DateOnly First, DateOnly Last)?> FirstAndLastPeriodAsync(string table, CancellationToken cancellationToken, string where = "")
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = Command(connection, $"SELECT min(period), max(period) FROM {table}{where}");
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0)
            ? (reader.GetFieldValue<DateOnly>(0), reader.GetFieldValue<DateOnly>(1))
            : null;
    }
}

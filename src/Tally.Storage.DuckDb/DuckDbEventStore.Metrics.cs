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
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await DuckDbMetricComputer.Statements.ReadMetricsAsync(connection, query, cancellationToken);
    }

    public async Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await DuckDbMetricComputer.Statements.RankMetricsAsync(connection, parts, metric, offset, count, cancellationToken);
    }

    public async Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await DuckDbMetricComputer.Statements.ReadCounterMetricsAsync(connection, query, cancellationToken);
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

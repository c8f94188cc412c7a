using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Aggregate;

/// <summary>The period one stored metric row covers.</summary>
public enum MetricPeriod { Day, Month }

/// <summary>
/// Metrics of one group in one period. Unique counts are exact for the group. Visitor and session
/// ids are salted per day, so a visitor on two days counts on each, and a day's unique counts add
/// up to the month's.
/// </summary>
public sealed class MetricRow(DateOnly period, string?[] keys, int sumFields)
{
    public DateOnly Period { get; set; } = period;
    /// <summary>Group-by values, in the order the query or aggregation lists the fields.</summary>
    public string?[] Keys { get; } = keys;
    /// <summary>Which group-by fields the row keeps (see <see cref="AggregationDefinition.Groupings"/>); the others' keys are null.</summary>
    public int Grouping { get; init; }
    public long Count { get; set; }
    public long UniqueVisitors { get; set; }
    public long UniqueSessions { get; set; }
    public double[] Sums { get; } = new double[sumFields];
    /// <summary>How many events carried each summed field, for averages.</summary>
    public long[] SumCounts { get; } = new long[sumFields];

    public void Add(MetricRow other)
    {
        Count += other.Count;
        UniqueVisitors += other.UniqueVisitors;
        UniqueSessions += other.UniqueSessions;
        for (var i = 0; i < Sums.Length; i++)
        {
            Sums[i] += other.Sums[i];
            SumCounts[i] += other.SumCounts[i];
        }
    }

    /// <summary>
    /// A row read back from an engine: its measures start at column <paramref name="first"/>, in the order every engine
    /// selects them (count, unique visitors, unique sessions, then each sum and how many events carried it).
    /// </summary>
    public static MetricRow FromMeasures<TColumns>(TColumns columns, int first, DateOnly period, string?[] keys, int sumFields) where TColumns : IMeasureColumns
    {
        var c = first;
        var row = new MetricRow(period, keys, sumFields)
        {
            Count = columns.GetInt64(c++),
            UniqueVisitors = columns.GetInt64(c++),
            UniqueSessions = columns.GetInt64(c++),
        };
        for (var s = 0; s < sumFields; s++)
        {
            row.Sums[s] = columns.GetDouble(c++);
            row.SumCounts[s] = columns.GetInt64(c++);
        }
        return row;
    }

    public double Value(MetricSelector metric) => metric.Kind switch
    {
        MetricKind.Count => Count,
        MetricKind.UniqueVisitors => UniqueVisitors,
        MetricKind.UniqueSessions => UniqueSessions,
        MetricKind.Sum => Sums[metric.SumIndex],
        _ => SumCounts[metric.SumIndex] == 0 ? 0 : Sums[metric.SumIndex] / SumCounts[metric.SumIndex],
    };
}

/// <summary>The numeric columns of a result row, as <see cref="MetricRow.FromMeasures"/> reads them from any engine's reader.</summary>
public interface IMeasureColumns
{
    long GetInt64(int field);

    double GetDouble(int field);
}

/// <summary>One page of groups ranked by a metric, and how many groups there are in all.</summary>
public sealed record RankedMetrics(IReadOnlyList<MetricRow> Rows, int TotalGroups)
{
    /// <summary>
    /// What <see cref="IMetricStore.RankMetricsAsync"/> answers, computed in .NET from the parts' rows: the reference the
    /// engines' ranking is tested against, and the ranking of ClickHouse and of the in-memory store the core's tests use.
    /// </summary>
    public static async Task<RankedMetrics> RankAsync(
        IMetricStore store, IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken)
    {
        var merged = new Dictionary<GroupKey, MetricRow>();
        foreach (var part in parts)
        {
            foreach (var row in await store.ReadMetricsAsync(part, cancellationToken))
            {
                var key = new GroupKey(row.Keys);
                if (merged.TryGetValue(key, out var existing)) existing.Add(row);
                else merged[key] = row;
            }
        }
        var page = merged.Values.OrderByDescending(r => r.Value(metric)).ThenBy(r => r.Keys, KeysInOrder).Skip(offset).Take(count).ToList();
        return new RankedMetrics(page, merged.Count);
    }

    /// <summary>Keys compared one by one, ordinally, null as empty: how groups with the same value are ordered.</summary>
    public static readonly IComparer<string?[]> KeysInOrder = Comparer<string?[]>.Create((a, b) =>
    {
        for (var i = 0; i < a.Length; i++)
        {
            var c = string.CompareOrdinal(a[i] ?? "", b[i] ?? "");
            if (c != 0) return c;
        }
        return 0;
    });
}

/// <summary>
/// Sums stored metric rows of <see cref="Source"/> periods between From and To (inclusive),
/// filtered, and bucketed by period (when <see cref="ByPeriod"/>) and by the <see cref="GroupBy"/> fields.
/// It reads the rows of the <see cref="Grouping"/> that keeps exactly the fields it groups or filters
/// by, so that summing them never adds up the same visitor twice within a day.
/// </summary>
public sealed record MetricQuery(
    AggregationDefinition Aggregation,
    MetricPeriod Source,
    DateOnly From,
    DateOnly To,
    IReadOnlyList<FieldFilter> Filters,
    bool ByPeriod,
    IReadOnlyList<FieldDefinition> GroupBy)
{
    public int Grouping { get; } = Aggregation.GroupingOf(GroupBy.Select(f => f.Name).Concat(Filters.Select(f => f.Field)));

    /// <summary>
    /// Every grouping's rows summed over From..To, with keys in the aggregation's group-by order (null
    /// where a grouping drops a field): what rolling days up into a month, or copying a period, writes.
    /// </summary>
    public static async Task<IReadOnlyList<MetricRow>> ReadEveryGroupingAsync(
        IMetricStore store, AggregationDefinition aggregation, MetricPeriod source, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var rows = new List<MetricRow>();
        foreach (var grouping in aggregation.Groupings)
        {
            var fields = aggregation.FieldsOf(grouping);
            foreach (var row in await store.ReadMetricsAsync(new MetricQuery(aggregation, source, from, to, [], ByPeriod: false, fields), cancellationToken))
            {
                var keys = new string?[aggregation.GroupBy.Count];
                for (int i = 0, kept = 0; i < keys.Length; i++)
                {
                    if ((grouping & 1 << i) != 0) keys[i] = row.Keys[kept++];
                }
                var widened = new MetricRow(from, keys, row.Sums.Length) { Grouping = grouping };
                widened.Add(row);
                rows.Add(widened);
            }
        }
        return rows;
    }
}

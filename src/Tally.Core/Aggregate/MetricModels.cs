using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Aggregate;

/// <summary>The period one stored metric row covers.</summary>
public enum MetricPeriod { Day, Month }

/// <summary>
/// Metrics of one group in one period. Unique counts are exact. Visitor and session ids are
/// salted per day, so a day's unique counts add up to the month's.
/// </summary>
public sealed class MetricRow(DateOnly period, string?[] keys, int sumFields)
{
    public DateOnly Period { get; set; } = period;
    /// <summary>Group-by values, in the order the query or aggregation lists the fields.</summary>
    public string?[] Keys { get; } = keys;
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

    public double Value(MetricSelector metric) => metric.Kind switch
    {
        MetricKind.Count => Count,
        MetricKind.UniqueVisitors => UniqueVisitors,
        MetricKind.UniqueSessions => UniqueSessions,
        MetricKind.Sum => Sums[metric.SumIndex],
        _ => SumCounts[metric.SumIndex] == 0 ? 0 : Sums[metric.SumIndex] / SumCounts[metric.SumIndex],
    };
}

/// <summary>
/// Sums stored metric rows of <see cref="Source"/> periods between From and To (inclusive),
/// filtered, and bucketed by period (when <see cref="ByPeriod"/>) and by the <see cref="GroupBy"/> fields.
/// </summary>
public sealed record MetricQuery(
    AggregationDefinition Aggregation,
    MetricPeriod Source,
    DateOnly From,
    DateOnly To,
    IReadOnlyList<FieldFilter> Filters,
    bool ByPeriod,
    IReadOnlyList<FieldDefinition> GroupBy);

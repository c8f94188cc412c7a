using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.Relational;

/// <summary>
/// The days' raw events of a type staged by <see cref="MetricSql.Stage"/> in the temporary table <see cref="Table"/>:
/// columns day, robot, visitor, session, k0… for <see cref="Keys"/> (as text, referrers by their key) and s0… for <see cref="Sums"/>.
/// It remembers which aggregations were inserted from it, so that a grouping two aggregations share is counted once.
/// </summary>
public sealed class MetricStage(MetricSql sql, string create, List<FieldDefinition> keys, List<FieldDefinition> sums, IReadOnlyList<DateOnly> days)
{
    public const string Table = "tally_staged_events";
    private readonly List<AggregationDefinition> _inserted = [];

    /// <summary>Creates <see cref="Table"/>, replacing one left from before.</summary>
    public string Create { get; } = create;

    internal List<FieldDefinition> Keys { get; } = keys;

    internal List<FieldDefinition> Sums { get; } = sums;

    /// <summary>How many raw events, robots included, the days hold.</summary>
    public string Count => $"SELECT count(*) FROM {Table}";

    /// <summary>Inserts the aggregation's rows of the days; callers delete them first, and run it before asking for the next aggregation's.</summary>
    public string InsertDays(AggregationDefinition aggregation) => sql.InsertDays(aggregation, this, days);

    /// <summary>
    /// An aggregation inserted from this stage whose rows at one of its groupings are the rows <paramref name="aggregation"/>
    /// has at <paramref name="grouping"/>: the same robots rule, the same fields kept, and every summed field among its own.
    /// </summary>
    internal (AggregationDefinition Aggregation, int Grouping)? Holder(AggregationDefinition aggregation, int grouping)
    {
        var fields = aggregation.FieldsOf(grouping).Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var holder in _inserted)
        {
            if (holder.IncludeRobots != aggregation.IncludeRobots || !aggregation.SumFields.All(f => holder.SumFields.Any(h => h.Name == f.Name))) continue;
            if (!fields.All(f => holder.GroupBy.Any(g => g.Name == f))) continue;
            var held = holder.GroupingOf(fields);
            if (holder.Groupings.Contains(held)) return (holder, held);
        }
        return null;
    }

    internal void Inserted(AggregationDefinition aggregation) => _inserted.Add(aggregation);
}

using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.Relational;

/// <summary>
/// The days' raw events of a type staged by <see cref="MetricSql.Stage"/> in the temporary table <see cref="Table"/>:
/// columns day, robot, visitor, session, k0… for <see cref="Keys"/> (as text, referrers by their key) and s0… for <see cref="Sums"/>.
/// </summary>
public sealed class MetricStage(
    MetricSql sql, string create, List<FieldDefinition> keys, List<FieldDefinition> sums, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days)
{
    public const string Table = "tally_staged_events";

    /// <summary>Creates <see cref="Table"/>, replacing one left from before.</summary>
    public string Create { get; } = create;

    internal List<FieldDefinition> Keys { get; } = keys;

    internal List<FieldDefinition> Sums { get; } = sums;

    /// <summary>How many raw events, robots included, the days hold.</summary>
    public string Count => $"SELECT count(*) FROM {Table}";

    /// <summary>
    /// Inserts each aggregation's rows of the days, one statement each, to be run in this order: an aggregation copies
    /// a grouping an earlier one already counted. Callers delete the days' rows first.
    /// </summary>
    public IEnumerable<string> InsertDays() => aggregations.Select((aggregation, i) => sql.InsertDays(aggregation, aggregations.Take(i), this, days));
}

using System.Data.Common;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.Relational;

/// <summary>
/// What differs between the engines that compute metrics with <see cref="MetricSql"/>: the names of their tables and
/// columns (quoted, ready for SQL), how they hold days and instants, and the few expressions they spell differently.
/// </summary>
public abstract class MetricSqlDialect
{
    /// <summary>A raw events column of a field.</summary>
    public abstract string Field(FieldDefinition field);

    /// <summary>The metric table's column of a group-by field's key.</summary>
    public abstract string Key(FieldDefinition field);

    public abstract string Sum(FieldDefinition field);

    public abstract string SumCount(FieldDefinition field);

    public abstract string Metrics(AggregationDefinition aggregation, MetricPeriod period);

    public abstract string Counter(MetricPeriod period);

    /// <summary>A day as the metric tables' period column holds it.</summary>
    public abstract string Day(DateOnly day);

    /// <summary>An instant as the raw events' ts column holds it.</summary>
    public abstract string Instant(DateTime utc);

    /// <summary>A period column as the reader gives it back.</summary>
    public abstract DateOnly ReadDay(DbDataReader reader, int ordinal);

    /// <summary>The UTC day, as <see cref="Day"/> writes it, of a raw ts.</summary>
    public abstract string DayOf(string ts);

    /// <summary>The raw ts <see cref="CounterDayCalculator.DoubleClickWindow"/> after <paramref name="ts"/>.</summary>
    public abstract string AfterDoubleClickWindow(string ts);

    /// <summary>A number column as text, as .NET formats a double with the invariant culture (2.0 is "2", 1E-05 keeps its capital E).</summary>
    public abstract string NumberText(string column);

    /// <summary>The part of a text url <see cref="Referrers.PageAuthorityPattern"/> matches, or null.</summary>
    public abstract string PageAuthority(string url);

    /// <summary>A text expression that compares as <see cref="string.CompareOrdinal(string, string)"/> does.</summary>
    public abstract string Ordinal(string text);

    /// <summary>How a statement names its parameter number <paramref name="index"/>: a one-character prefix, then the parameter's name.</summary>
    public abstract string Parameter(int index);

    /// <summary>Creates a temporary table of the rows <paramref name="select"/> gives, replacing one of that name, for the rest of the transaction at least.</summary>
    public abstract string CreateTemporary(string table, string select);

    /// <summary>
    /// A 64-bit hash of a list of columns that is cheap to group by, or null where the engine has none: it only picks the rows
    /// that need a window (see MetricSql), so a collision costs time, never a number.
    /// </summary>
    public abstract string? Hash(string columns);

    /// <summary>
    /// Whether a grouping's distinct visitors and sessions are counted faster by grouping the rows with each of them and
    /// counting those groups than by count(DISTINCT).
    /// </summary>
    public abstract bool DistinctInTwoSteps { get; }

    /// <summary>Whether GROUP BY takes GROUPING SETS (with GROUPING()); without them every grouping is a SELECT of its own.</summary>
    public abstract bool HasGroupingSets { get; }
}

using System.Security.Cryptography;
using System.Text;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.Postgres;

/// <summary>
/// Table and column names: SQLite's names where PostgreSQL allows them. Configuration validation
/// guarantees names are safe identifiers; SQL still quotes every one with <see cref="Quote"/>.
/// </summary>
internal static class PostgresNames
{
    /// <summary>PostgreSQL silently cuts longer identifiers, which could make two names one.</summary>
    private const int MaxIdentifier = 63;

    /// <summary>The partitioned table of a type. "events_" never starts a partition's name ("ev_"), so no type's table can be another type's partition.</summary>
    public static string Events(EventType type) => Fit($"events_{Ident(type.Name)}");

    public static string Partition(EventType type, DateTime periodStart) =>
        Fit($"ev_{Ident(type.Name)}_{type.Partition.PeriodKey(periodStart)}");

    public static string Field(string field) => Fit($"f_{field}");

    public static string Key(string field) => Fit($"k_{field}");

    public static string Sum(string field) => Fit($"sum_{field}");

    public static string SumCount(string field) => Fit($"n_{field}");

    public static string Metrics(AggregationDefinition aggregation, MetricPeriod period) =>
        Fit($"agg_{Ident(aggregation.Name)}_{(period == MetricPeriod.Day ? "day" : "month")}");

    public static string Counter(MetricPeriod period) => period == MetricPeriod.Day ? "counter_day" : "counter_month";

    public static string ColumnType(FieldType type) => type switch
    {
        FieldType.Integer => "bigint",
        FieldType.Number => "double precision",
        FieldType.Boolean => "boolean",
        _ => "text",
    };

    public static string Quote(string identifier) => $"\"{identifier.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static string Ident(string name) => name.Replace('-', '_');

    /// <summary>A name longer than PostgreSQL keeps becomes a prefix of it plus a hash of the whole, so distinct names stay distinct.</summary>
    private static string Fit(string name) => name.Length <= MaxIdentifier
        ? name
        : $"{name[..(MaxIdentifier - 9)]}_{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)), 0, 4)}";
}

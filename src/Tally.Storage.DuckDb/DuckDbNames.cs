using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.DuckDb;

/// <summary>Table and column names, SQLite's names. Configuration validation guarantees names are safe identifiers.</summary>
internal static class DuckDbNames
{
    public static string Partition(EventType type, DateTime periodStart) =>
        $"ev_{Ident(type.Name)}_{type.Partition.PeriodKey(periodStart)}";

    public static string Field(string field) => $"f_{field}";

    public static string Key(string field) => $"k_{field}";

    public static string Metrics(AggregationDefinition aggregation, MetricPeriod period) =>
        $"agg_{Ident(aggregation.Name)}_{(period == MetricPeriod.Day ? "day" : "month")}";

    public static string Counter(MetricPeriod period) => period == MetricPeriod.Day ? "counter_day" : "counter_month";

    public static string ColumnType(FieldType type) => type switch
    {
        FieldType.Integer => "BIGINT",
        FieldType.Number => "DOUBLE",
        FieldType.Boolean => "BOOLEAN",
        _ => "VARCHAR",
    };

    private static string Ident(string name) => name.Replace('-', '_');
}

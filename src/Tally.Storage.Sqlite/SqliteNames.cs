using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.Sqlite;

/// <summary>Table and column names. Configuration validation guarantees names are safe identifiers.</summary>
internal static class SqliteNames
{
    public static string Partition(EventType type, DateTime periodStart) =>
        $"ev_{Ident(type.Name)}_{type.Partition.PeriodKey(periodStart)}";

    public static string Field(string field) => $"f_{field}";

    public static string Key(string field) => $"k_{field}";

    public static string Metrics(AggregationDefinition aggregation, Core.Aggregate.MetricPeriod period) =>
        $"agg_{Ident(aggregation.Name)}_{(period == Core.Aggregate.MetricPeriod.Day ? "day" : "month")}";

    public static string ColumnType(FieldType type) => type switch
    {
        FieldType.Integer or FieldType.Boolean => "INTEGER",
        FieldType.Number => "REAL",
        _ => "TEXT",
    };

    private static string Ident(string name) => name.Replace('-', '_');
}

using System.Globalization;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.ClickHouse;

/// <summary>Table and column names, and the SQL that ties raw partitions to periods. Configuration validation guarantees names are safe identifiers.</summary>
internal static class ClickHouseNames
{
    public const string Types = "tally_types";
    public const string Aggregations = "tally_aggregations";
    public const string Settings = "tally_settings";
    public const string Salts = "tally_salts";
    public const string SaltUses = "tally_salt_uses";
    public const string Items = "tally_items";
    public const string EventIds = "tally_event_ids";
    public const string Dirty = "tally_dirty";
    public const string DirtyClears = "tally_dirty_clears";
    public const string SavedQueries = "tally_saved_queries";

    /// <summary>The columns every raw event table starts with; <c>ts</c> is milliseconds since the epoch, so milliseconds round-trip exactly.</summary>
    public static readonly string[] Envelope = ["id", "ts", "robot", "visitor", "session"];

    public static string Events(string type) => $"ev_{Ident(type)}";

    /// <summary>The materialized views that record, on each shard, every stored event's id and the days it marks dirty.</summary>
    public static string IdsView(string type) => $"{Events(type)}_ids_mv";

    public static string DirtyView(string type) => $"{Events(type)}_dirty_mv";

    public static string Field(string field) => $"f_{field}";

    public static string Key(string field) => $"k_{field}";

    public static string Metrics(AggregationDefinition aggregation, MetricPeriod period) =>
        $"agg_{Ident(aggregation.Name)}_{(period == MetricPeriod.Day ? "day" : "month")}";

    public static string Counter(MetricPeriod period) => period == MetricPeriod.Day ? "counter_day" : "counter_month";

    /// <summary>What retention reports as dropped, as SQLite names its partition tables.</summary>
    public static string Partition(string type, string periodKey) => $"{Events(type)}_{periodKey}";

    public static string ColumnType(FieldType type) => type switch
    {
        FieldType.Integer => "Nullable(Int64)",
        FieldType.Number => "Nullable(Float64)",
        FieldType.Boolean => "Nullable(UInt8)",
        _ => "Nullable(String)",
    };

    /// <summary>An event's time as a DateTime, in UTC whatever the server's time zone.</summary>
    public const string Time = "toDateTime(intDiv(ts, 1000), 'UTC')";

    public const string Day = $"toDate({Time})";

    /// <summary>
    /// The partition key: the period as the number <see cref="GranularityExtensions.PeriodKey"/> writes
    /// (2026, 202611, 20261122, 2026112213), so partitions and ids can be named and dropped by it.
    /// </summary>
    public static string PeriodKey(Granularity granularity) => granularity switch
    {
        Granularity.Year => $"toYear({Time})",
        Granularity.Month => $"toYYYYMM({Time})",
        Granularity.Day => $"toYYYYMMDD({Time})",
        _ => $"toYYYYMMDD({Time}) * 100 + toHour({Time})",
    };

    /// <summary>The start of the period a key names; its length says the granularity.</summary>
    public static (DateTime Start, Granularity Granularity) ParsePeriodKey(string key)
    {
        var granularity = key.Length switch
        {
            4 => Granularity.Year,
            6 => Granularity.Month,
            8 => Granularity.Day,
            10 => Granularity.Hour,
            _ => throw new FormatException($"'{key}' is not a period key"),
        };
        var format = granularity switch { Granularity.Year => "yyyy", Granularity.Month => "yyyyMM", Granularity.Day => "yyyyMMdd", _ => "yyyyMMddHH" };
        return (DateTime.ParseExact(key, format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), granularity);
    }

    private static string Ident(string name) => name.Replace('-', '_');
}

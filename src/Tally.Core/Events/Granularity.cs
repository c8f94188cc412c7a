using System.Globalization;

namespace Tally.Core.Events;

/// <summary>The span of one raw-storage partition.</summary>
public enum Granularity { Year, Month, Day, Hour }

public static class GranularityExtensions
{
    public static Granularity Parse(string value) => value switch
    {
        "year" => Granularity.Year,
        "month" => Granularity.Month,
        "day" => Granularity.Day,
        "hour" => Granularity.Hour,
        _ => throw new FormatException($"'{value}' is not one of year, month, day, hour"),
    };

    public static string Name(this Granularity granularity) => granularity.ToString().ToLowerInvariant();

    public static DateTime PeriodStart(this Granularity granularity, DateTime utc) => granularity switch
    {
        Granularity.Year => new DateTime(utc.Year, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        Granularity.Month => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc),
        Granularity.Day => new DateTime(utc.Year, utc.Month, utc.Day, 0, 0, 0, DateTimeKind.Utc),
        _ => new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, DateTimeKind.Utc),
    };

    public static DateTime NextPeriod(this Granularity granularity, DateTime periodStart) => granularity switch
    {
        Granularity.Year => periodStart.AddYears(1),
        Granularity.Month => periodStart.AddMonths(1),
        Granularity.Day => periodStart.AddDays(1),
        _ => periodStart.AddHours(1),
    };

    /// <summary>A sortable label for a period, used in partition names: 2026, 202611, 20261122, 2026112213.</summary>
    public static string PeriodKey(this Granularity granularity, DateTime periodStart) => granularity switch
    {
        Granularity.Year => periodStart.ToString("yyyy", CultureInfo.InvariantCulture),
        Granularity.Month => periodStart.ToString("yyyyMM", CultureInfo.InvariantCulture),
        Granularity.Day => periodStart.ToString("yyyyMMdd", CultureInfo.InvariantCulture),
        _ => periodStart.ToString("yyyyMMddHH", CultureInfo.InvariantCulture),
    };
}

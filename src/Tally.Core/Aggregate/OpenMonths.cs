using System.Globalization;
using Tally.Core.Store;

namespace Tally.Core.Aggregate;

/// <summary>
/// Months whose monthly rows are not kept up to date: the months whose days were recomputed while the month was
/// still going. <see cref="Aggregator"/> rolls such a month up once it has ended, then takes it off the list; until
/// then readers take its days. The list lives in the store's settings, so every node reads the same one.
/// </summary>
public static class OpenMonths
{
    public const string Setting = "aggregation.open_months";

    public static async Task<SortedSet<DateOnly>> ReadAsync(ISettingStore settings, CancellationToken cancellationToken)
    {
        var listed = await settings.GetSettingAsync(Setting, cancellationToken) ?? "";
        return [.. listed.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(m => DateOnly.ParseExact(m, "yyyy-MM", CultureInfo.InvariantCulture))];
    }

    public static Task WriteAsync(ISettingStore settings, IEnumerable<DateOnly> months, CancellationToken cancellationToken) =>
        settings.SetSettingAsync(Setting, string.Join(',', months.Select(m => m.ToString("yyyy-MM", CultureInfo.InvariantCulture))), cancellationToken);

    /// <summary>The first day of the month of <paramref name="day"/>.</summary>
    public static DateOnly Of(DateOnly day) => new(day.Year, day.Month, 1);

    /// <summary>
    /// The first and last months with COUNTER metrics: those with monthly rows, and the open months, which have only
    /// days so far. Both are cheap to read; the span of the day rows would be a scan on some engines.
    /// </summary>
    public static async Task<(DateOnly First, DateOnly Last)?> CounterMonthsAsync(IMetricStore metrics, ISettingStore settings, CancellationToken cancellationToken)
    {
        var months = await ReadAsync(settings, cancellationToken);
        if (await metrics.GetCounterMonthsAsync(cancellationToken) is var (first, last)) months.UnionWith([first, last]);
        return months.Count == 0 ? null : (months.Min, months.Max);
    }

    /// <summary>
    /// The months from <paramref name="first"/> to <paramref name="last"/> (first days) in the order they come:
    /// runs of months whose monthly rows are current, and each open month on its own.
    /// </summary>
    public static IEnumerable<(DateOnly First, DateOnly Last, bool Open)> Runs(DateOnly first, DateOnly last, IReadOnlySet<DateOnly> open)
    {
        var run = first;
        for (var month = first; month <= last; month = month.AddMonths(1))
        {
            if (!open.Contains(month)) continue;
            if (run < month) yield return (run, month.AddMonths(-1), false);
            yield return (month, month, true);
            run = month.AddMonths(1);
        }
        if (run <= last) yield return (run, last, false);
    }
}

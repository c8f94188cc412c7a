using System.Globalization;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Core.Query;

public enum Interval { Day, Month }

/// <summary>A parameter of a stats request is wrong; <see cref="Parameter"/> names it.</summary>
public sealed class QueryParameterException(string parameter, string problem) : Exception($"'{parameter}' {problem}")
{
    public string Parameter { get; } = parameter;
    public string Problem { get; } = problem;
}

/// <summary>The parameters every stats endpoint shares: the date range, interval, paging and field filters.</summary>
public sealed record StatsRequest(DateOnly From, DateOnly To, Interval Interval, IReadOnlyList<FieldFilter> Filters, int Count, int Offset, string? GroupBy)
{
    public const int DefaultDays = 30;
    public const int DefaultMonths = 12;
    public const int MaxCount = 10_000;

    /// <summary>
    /// Reads parameters by name. Dates: dateStart/start_date and dateEnd/end_date (YYYY-MM-DD, inclusive),
    /// or days=N for the N days ending dateEnd (a range that moves with today, as a saved query wants).
    /// Without a start or days, the range ends at dateEnd (default today) and covers the last 30 days by
    /// day, or by month the last 12 months from the 1st, so no month is cut short at its start (fewer
    /// months when limits.statsMaxDays is smaller). interval: day or month. count/size and offset page ranked results.
    /// Any group-by field of the aggregation filters, repeatable; not_FIELD excludes. Dates lie in the
    /// <see cref="QueryWindow"/>, and a range spans at most limits.statsMaxDays.
    /// </summary>
    public static StatsRequest Parse(IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters, AggregationDefinition aggregation, TallyOptions options, DateOnly today)
    {
        var window = QueryWindow.For(options, today);
        var maxDays = options.Limits.StatsMaxDays;
        DateOnly? from = null, to = null;
        int? days = null;
        string fromName = "dateStart", toName = "dateEnd";
        var interval = Interval.Day;
        int count = 100, offset = 0;
        string? groupBy = null;
        var filters = new Dictionary<(string, bool), List<string>>();
        foreach (var (name, values) in parameters)
        {
            var value = values.Count > 0 ? values[^1] : "";
            switch (name)
            {
                case "dateStart" or "start_date": from = window.Check(name, ParseDate(name, value)); fromName = name; break;
                case "dateEnd" or "end_date": to = window.Check(name, ParseDate(name, value)); toName = name; break;
                case "days": days = ParseInt(name, value, 1, maxDays); break;
                case "interval":
                    interval = value switch
                    {
                        "day" => Interval.Day,
                        "month" => Interval.Month,
                        _ => throw new QueryParameterException(name, "must be day or month"),
                    };
                    break;
                case "count" or "size": count = ParseInt(name, value, 1, MaxCount); break;
                case "offset": offset = ParseInt(name, value, 0, int.MaxValue); break;
                case "groupBy":
                    if (aggregation.GroupBy.All(f => f.Name != value))
                        throw new QueryParameterException(name, $"must be one of the group-by fields of '{aggregation.Name}': {FieldList(aggregation)}");
                    groupBy = value;
                    break;
                default:
                    var negated = name.StartsWith("not_", StringComparison.Ordinal);
                    var field = negated ? name[4..] : name;
                    if (aggregation.GroupBy.All(f => f.Name != field))
                        throw new QueryParameterException(name, $"is not a parameter; filters can use the group-by fields of '{aggregation.Name}': {FieldList(aggregation)}");
                    if (!filters.TryGetValue((field, negated), out var list)) filters[(field, negated)] = list = [];
                    // Metrics hold referrers by key, so a referrer URL as a browser sent it finds its row.
                    list.AddRange(field == WellKnownFields.Referrer ? values.Select(Referrers.Normalize) : values);
                    break;
            }
        }
        var fieldFilters = filters.Select(f => new FieldFilter(f.Key.Item1, f.Value, f.Key.Item2)).ToList();
        RequireKept(aggregation, fieldFilters, groupBy is null ? [] : [groupBy]);
        if (days is not null && from is not null) throw new QueryParameterException("days", $"cannot be combined with {fromName}");
        var end = to ?? today;
        var span = days is null && interval == Interval.Month ? end.DayNumber - WholeMonthsBefore(end, maxDays).DayNumber : (days ?? DefaultDays) - 1;
        if (from is null && end.DayNumber - span < window.Earliest.DayNumber)
            throw new QueryParameterException(days is null ? toName : "days", $"reaches back before {window.Earliest:yyyy-MM-dd}, the earliest date events may have (ingest.earliestDate)");
        var start = from ?? end.AddDays(-span);
        // Name the parameters as the client spelt them.
        if (start > end) throw new QueryParameterException(fromName, $"is after {toName}");
        QueryWindow.CheckSpan(fromName, start, end, maxDays, "limits.statsMaxDays");
        return new StatsRequest(start, end, interval, fieldFilters, count, offset, groupBy);
    }

    /// <summary>
    /// Refuses filters and group fields together that the aggregation keeps no metrics for, naming the last filter (or
    /// groupBy when there is none): that combination of fields was left out of its groupings.
    /// </summary>
    /// <exception cref="QueryParameterException">The aggregation does not keep the combination.</exception>
    public static void RequireKept(AggregationDefinition aggregation, IReadOnlyList<FieldFilter> filters, IEnumerable<string> groupFields)
    {
        var fields = filters.Select(f => f.Field).Concat(groupFields).Distinct().ToList();
        if (aggregation.Keeps(fields)) return;
        var parameter = filters.Count == 0 ? "groupBy" : (filters[^1].Negated ? "not_" : "") + filters[^1].Field;
        var kept = string.Join("; ", aggregation.WidestGroupings().Select(g => g.Count == 0 ? "no field" : string.Join(" × ", g)));
        throw new QueryParameterException(parameter,
            $"asks '{aggregation.Name}' for {string.Join(" × ", fields)}, which it keeps no metrics for: it keeps {kept}, and fewer fields of each (its groupings in the configuration)");
    }

    /// <summary>The 1st of the month <see cref="DefaultMonths"/> - 1 months before <paramref name="end"/>'s, or of a later month when that spans more than <paramref name="maxDays"/>.</summary>
    private static DateOnly WholeMonthsBefore(DateOnly end, int maxDays)
    {
        var start = new DateOnly(end.Year, end.Month, 1).AddMonths(1 - DefaultMonths);
        while (end.DayNumber - start.DayNumber >= maxDays && start.AddMonths(1) <= end) start = start.AddMonths(1);
        return start;
    }

    private static string FieldList(AggregationDefinition aggregation) =>
        aggregation.GroupBy.Count == 0 ? "(none)" : string.Join(", ", aggregation.GroupBy.Select(f => f.Name));

    private static DateOnly ParseDate(string name, string value) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date
            : throw new QueryParameterException(name, $"must be a date as YYYY-MM-DD, not '{StoredText.Echo(value)}'");

    private static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new QueryParameterException(name, $"must be a whole number from {min} to {max}");
}

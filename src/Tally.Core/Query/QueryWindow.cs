using Tally.Core.Configuration;

namespace Tally.Core.Query;

/// <summary>
/// The dates a query may name: from ingest.earliestDate (no stored event is older) to a year after today
/// (a dashboard's "this year"). Checked before any work, so no request makes a store scan or an answer
/// span an absurd period, and no date arithmetic can overflow.
/// </summary>
public readonly record struct QueryWindow(DateOnly Earliest, DateOnly Latest)
{
    public static QueryWindow For(TallyOptions options, DateOnly today) => new(options.Ingest.EarliestDate, today.AddDays(366));

    public DateTime Start => Earliest.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
    public DateTime End => Latest.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);

    /// <exception cref="QueryParameterException">The date lies outside the window.</exception>
    public DateOnly Check(string parameter, DateOnly date) => date >= Earliest && date <= Latest ? date : throw Outside(parameter);

    /// <exception cref="QueryParameterException">The time lies outside the window.</exception>
    public DateTime Check(string parameter, DateTime time) => time >= Start && time <= End ? time : throw Outside(parameter);

    public QueryParameterException Outside(string parameter) => new(parameter, $"must lie between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd}");

    /// <exception cref="QueryParameterException">The range spans more than <paramref name="maxDays"/> days.</exception>
    public static void CheckSpan(string parameter, DateOnly from, DateOnly to, int maxDays, string setting)
    {
        var days = to.DayNumber - from.DayNumber + 1;
        if (days > maxDays)
            throw new QueryParameterException(parameter, $"spans {days} days; at most {maxDays} may be asked at once ({setting})");
    }
}

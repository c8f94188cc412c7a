using Tally.Core.Configuration;
using Tally.Core.Query;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public sealed class StatsRequestTests
{
    private static readonly DateOnly Today = new(2026, 6, 10);

    /// <summary>An aggregation of record-view grouped by item_id and title_id.</summary>
    private static readonly AggregationDefinition ByItemAndTitle = DefaultSchema(o =>
        o.Aggregations.Add(new AggregationOptions { Name = "by-title", EventType = "record-view", GroupBy = ["item_id", "title_id"] })).Aggregations["by-title"];

    /// <summary>Parameters as a query string would give them: repeated names are gathered in order.</summary>
    private static StatsRequest Request(params (string Name, string Value)[] parameters) => Request(new TallyOptions(), parameters);

    private static StatsRequest Request(TallyOptions options, params (string Name, string Value)[] parameters) =>
        StatsRequest.Parse(
            parameters.GroupBy(p => p.Name).Select(g => KeyValuePair.Create(g.Key, (IReadOnlyList<string>)g.Select(p => p.Value).ToList())),
            ByItemAndTitle, options, Today);

    private static QueryParameterException Refused(params (string, string)[] parameters) =>
        Assert.Throws<QueryParameterException>(() => Request(parameters));

    [Fact]
    public void Filters_and_a_group_field_the_aggregation_keeps_no_metrics_for_together_are_refused_naming_the_last_filter()
    {
        var places = DefaultSchema().Aggregations["record-view-places"];
        StatsRequest Parse(params (string Name, string Value)[] parameters) => StatsRequest.Parse(
            parameters.Select(p => KeyValuePair.Create(p.Name, (IReadOnlyList<string>)[p.Value])), places, new TallyOptions(), Today);

        Assert.Equal(2, Parse(("item_id", "a"), ("not_institution", "b")).Filters.Count);
        var refused = Assert.Throws<QueryParameterException>(() => Parse(("item_id", "a"), ("country", "DE"), ("not_institution", "b")));
        Assert.Equal("not_institution", refused.Parameter);
        Assert.Contains("item_id × country × institution", refused.Problem, StringComparison.Ordinal);
        Assert.Contains("item_id × country; item_id × institution; country × institution", refused.Problem, StringComparison.Ordinal);
        // An explicit group field counts too; with no filter, groupBy is named.
        Assert.Equal("country", Assert.Throws<QueryParameterException>(() => Parse(("item_id", "a"), ("country", "DE"), ("groupBy", "institution"))).Parameter);
        var byKinds = DefaultSchema(o => o.Aggregations.Add(new AggregationOptions { Name = "kinds", EventType = "record-view", GroupBy = ["item_id", "format"], Groupings = [["item_id"]] })).Aggregations["kinds"];
        Assert.Equal("groupBy", Assert.Throws<QueryParameterException>(() => StatsRequest.RequireKept(byKinds, [], ["format"])).Parameter);
    }

    [Fact]
    public void Without_parameters_it_is_the_last_30_days_ending_today_by_day()
    {
        var request = Request();
        Assert.Equal((new DateOnly(2026, 5, 12), Today), (request.From, request.To));
        Assert.Equal(StatsRequest.DefaultDays, request.To.DayNumber - request.From.DayNumber + 1);
        Assert.Equal((Interval.Day, 100, 0, (string?)null), (request.Interval, request.Count, request.Offset, request.GroupBy));
        Assert.Empty(request.Filters);
    }

    [Fact]
    public void Without_a_range_a_month_timeline_covers_the_last_12_months_from_the_first_of_the_earliest()
    {
        var request = Request(("interval", "month"));
        Assert.Equal((new DateOnly(2025, 7, 1), Today, Interval.Month), (request.From, request.To, request.Interval));
    }

    [Fact]
    public void A_month_timeline_with_only_an_end_date_covers_the_12_months_up_to_it()
    {
        var request = Request(("interval", "month"), ("dateEnd", "2026-03-15"));
        Assert.Equal((new DateOnly(2025, 4, 1), new DateOnly(2026, 3, 15)), (request.From, request.To));
    }

    [Fact]
    public void A_month_timeline_keeps_explicit_days_and_dates()
    {
        var days = Request(("interval", "month"), ("days", "30"));
        Assert.Equal((new DateOnly(2026, 5, 12), Today), (days.From, days.To));
        var dates = Request(("interval", "month"), ("dateStart", "2026-05-20"));
        Assert.Equal((new DateOnly(2026, 5, 20), Today), (dates.From, dates.To));
    }

    [Fact]
    public void The_default_months_shrink_to_whole_months_within_the_stats_limit()
    {
        var request = Request(new TallyOptions { Limits = { StatsMaxDays = 100 } }, ("interval", "month"));
        Assert.Equal((new DateOnly(2026, 4, 1), Today), (request.From, request.To));
        var tiny = Request(new TallyOptions { Limits = { StatsMaxDays = 10 } }, ("interval", "month"));
        Assert.Equal((new DateOnly(2026, 6, 1), Today), (tiny.From, tiny.To));
    }

    [Fact]
    public void A_default_month_range_reaching_before_the_earliest_date_is_refused_naming_the_end() =>
        Assert.Equal("dateEnd", Refused(("interval", "month"), ("dateEnd", "1990-03-01")).Parameter);

    [Theory]
    [InlineData("dateStart", "dateEnd")]
    [InlineData("start_date", "end_date")]
    [InlineData("dateStart", "end_date")]
    public void Both_spellings_of_the_dates_are_accepted_and_inclusive(string start, string end)
    {
        var request = Request((start, "2025-12-01"), (end, "2026-01-31"));
        Assert.Equal((new DateOnly(2025, 12, 1), new DateOnly(2026, 1, 31)), (request.From, request.To));
    }

    [Fact]
    public void Only_an_end_date_gives_the_30_days_before_it()
    {
        var request = Request(("dateEnd", "2026-03-01"));
        Assert.Equal((new DateOnly(2026, 1, 31), new DateOnly(2026, 3, 1)), (request.From, request.To));
    }

    [Fact]
    public void Only_a_start_date_runs_to_today()
    {
        var request = Request(("start_date", "2024-01-01"));
        Assert.Equal((new DateOnly(2024, 1, 1), Today), (request.From, request.To));
    }

    [Fact]
    public void Days_gives_the_range_ending_today_or_at_the_end_date()
    {
        Assert.Equal((new DateOnly(2026, 6, 4), Today), (Request(("days", "7")).From, Request(("days", "7")).To));
        var request = Request(("days", "1"), ("dateEnd", "2026-03-01"));
        Assert.Equal((new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 1)), (request.From, request.To));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("seven")]
    public void Days_must_be_a_positive_whole_number(string value) =>
        Assert.Equal("days", Refused(("days", value)).Parameter);

    [Theory]
    [InlineData("dateEnd", "2", "0001-01-01")]
    [InlineData("dateEnd", null, "0001-01-05")]
    [InlineData("dateEnd", null, "9999-12-31")]
    [InlineData("days", "10", "1990-01-05")]
    [InlineData("dateEnd", null, "1990-01-05")]
    public void Dates_outside_the_window_or_reaching_back_before_it_are_refused_not_a_crash(string parameter, string? days, string end)
    {
        var e = days is null ? Refused(("dateEnd", end)) : Refused(("days", days), ("dateEnd", end));
        Assert.Equal(parameter, e.Parameter);
    }

    [Fact]
    public void A_range_wider_than_the_limit_is_refused_naming_the_setting()
    {
        var e = Refused(("dateStart", "2010-01-01"), ("dateEnd", "2026-01-01"));
        Assert.Equal("dateStart", e.Parameter);
        Assert.Contains("limits.statsMaxDays", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Days_and_a_start_date_contradict_each_other()
    {
        var e = Refused(("days", "7"), ("start_date", "2026-01-01"));
        Assert.Equal("days", e.Parameter);
        Assert.Contains("start_date", e.Problem);
    }

    [Fact]
    public void A_single_day_range_is_allowed()
    {
        var request = Request(("dateStart", "2026-06-01"), ("dateEnd", "2026-06-01"));
        Assert.Equal(request.From, request.To);
    }

    [Theory]
    [InlineData("day", Interval.Day)]
    [InlineData("month", Interval.Month)]
    public void The_interval_is_day_or_month(string value, Interval interval) =>
        Assert.Equal(interval, Request(("interval", value)).Interval);

    [Theory]
    [InlineData("1", 1)]
    [InlineData("10000", 10_000)]
    [InlineData("25", 25)]
    public void Count_accepts_1_to_10000(string value, int count)
    {
        Assert.Equal(count, Request(("count", value)).Count);
        Assert.Equal(count, Request(("size", value)).Count);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("250", 250)]
    [InlineData("2147483647", int.MaxValue)]
    public void Offset_accepts_any_non_negative_int(string value, int offset) =>
        Assert.Equal(offset, Request(("offset", value)).Offset);

    [Fact]
    public void Group_by_accepts_a_group_by_field_of_the_aggregation() =>
        Assert.Equal("title_id", Request(("groupBy", "title_id")).GroupBy);

    [Fact]
    public void Field_filters_gather_repeated_values_and_not_filters_exclude()
    {
        var request = Request(("item_id", "a"), ("item_id", "b"), ("not_title_id", "t1"), ("title_id", "t2"));
        Assert.Equal(
            [("item_id", "a|b", false), ("title_id", "t1", true), ("title_id", "t2", false)],
            request.Filters.Select(f => (f.Field, string.Join('|', f.Values), f.Negated)).OrderBy(f => f.Field).ThenBy(f => f.Item3 ? 0 : 1));
    }

    [Theory]
    [InlineData("dateStart", "2026-6-1")]
    [InlineData("dateStart", "2026-02-30")]
    [InlineData("dateEnd", "yesterday")]
    [InlineData("start_date", "2026-06-01T00:00:00Z")]
    [InlineData("end_date", "")]
    [InlineData("interval", "week")]
    [InlineData("interval", "Month")]
    [InlineData("count", "0")]
    [InlineData("count", "10001")]
    [InlineData("count", "-1")]
    [InlineData("count", "+5")]
    [InlineData("count", "ten")]
    [InlineData("count", "1.5")]
    [InlineData("size", "0")]
    [InlineData("offset", "-1")]
    [InlineData("offset", "2147483648")]
    [InlineData("offset", " 1")]
    [InlineData("groupBy", "country")]
    [InlineData("groupBy", "")]
    [InlineData("colour", "blue")]
    [InlineData("not_colour", "blue")]
    [InlineData("Item_id", "a")]
    [InlineData("not_", "a")]
    public void A_bad_parameter_is_refused_naming_it(string name, string value)
    {
        var error = Refused((name, value));
        Assert.Equal(name, error.Parameter);
        Assert.StartsWith($"'{name}' ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("groupBy", "country")]
    [InlineData("colour", "blue")]
    public void Refusals_of_fields_list_the_fields_that_can_be_used(string name, string value) =>
        Assert.Contains("item_id, title_id", Refused((name, value)).Problem, StringComparison.Ordinal);

    [Theory]
    [InlineData("dateStart", "dateEnd")]
    [InlineData("start_date", "end_date")]
    public void A_start_after_the_end_is_refused_naming_the_start_as_sent(string start, string end)
    {
        var error = Refused((start, "2026-06-02"), (end, "2026-06-01"));
        Assert.Equal(start, error.Parameter);
        Assert.Contains(end, error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_start_after_today_without_an_end_is_refused() =>
        Assert.Equal("dateStart", Refused(("dateStart", "2026-06-11")).Parameter);
}

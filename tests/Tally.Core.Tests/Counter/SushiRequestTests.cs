using Tally.Core.Aggregate;
using Tally.Core.Query;
using Tally.Core.Query.Sushi;

namespace Tally.Core.Tests.Counter;

/// <summary>COUNTER_SUSHI API 5.1 report requests: what stops a report, and what only warns.</summary>
public sealed class SushiRequestTests
{
    private static SushiReportDefinition Report(string id) => SushiReportCatalog.Find(id) ?? throw new ArgumentException($"no report {id}");

    /// <summary>A request for January to March 2024 of all usage, changed by <paramref name="parameters"/> (null removes one).</summary>
    private static SushiRequest Parse(string report, params (string Name, string? Value)[] parameters)
    {
        var query = new Dictionary<string, string>
        {
            ["customer_id"] = "0000000000000000",
            ["begin_date"] = "2024-01",
            ["end_date"] = "2024-03",
        };
        foreach (var (name, value) in parameters)
        {
            if (value is null) query.Remove(name);
            else query[name] = value;
        }
        return SushiRequest.Parse(Report(report), query, Window, MaxMonths);
    }

    private const int MaxMonths = 60;
    private static readonly QueryWindow Window = new(new DateOnly(1990, 1, 1), new DateOnly(2027, 6, 1));

    [Theory]
    [InlineData("0001-01", "2024-03")]
    [InlineData("2024-01", "9999-12")]
    [InlineData("1989-12", "1990-02")]
    [InlineData("2027-07", "2027-07")]
    [InlineData("2019-01", "2024-01")]
    public void Months_outside_the_window_or_wider_than_the_limit_are_invalid_dates(string begin, string end) =>
        Assert.Equal(3020, Fails("pr", ("begin_date", begin), ("end_date", end)).Code);

    [Fact]
    public void Exactly_the_widest_range_is_allowed()
    {
        var request = Parse("pr", ("begin_date", "2019-02"), ("end_date", "2024-01"));
        Assert.Equal((new DateOnly(2019, 2, 1), new DateOnly(2024, 1, 1)), (request.BeginMonth, request.EndMonth));
    }

    private static SushiError Fails(string report, params (string, string?)[] parameters) =>
        Assert.Throws<SushiException>(() => Parse(report, parameters)).Error;

    private static IEnumerable<(int Code, string? Data)> Warnings(SushiRequest request) => request.Warnings.Select(w => (w.Code, w.Data));

    [Fact]
    public void A_plain_request_reads_its_months_and_has_no_warnings()
    {
        var request = Parse("PR");
        Assert.Equal((new DateOnly(2024, 1, 1), new DateOnly(2024, 3, 1)), (request.BeginMonth, request.EndMonth));
        Assert.Equal("0000000000000000", request.CustomerId);
        Assert.Empty(request.Warnings);
        Assert.False(request.Totals);
        Assert.Equal(Report("PR").Metrics, request.Metrics);
    }

    [Theory]
    [InlineData("begin_date")]
    [InlineData("end_date")]
    [InlineData("customer_id")]
    public void A_missing_required_parameter_is_insufficient_information_1030(string parameter)
    {
        var error = Fails("PR", (parameter, null));
        Assert.Equal(1030, error.Code);
        Assert.Contains(parameter, error.Data);
        Assert.Equal(400, error.HttpStatus);
    }

    [Fact]
    public void An_empty_begin_date_counts_as_missing()
    {
        Assert.Equal(1030, Fails("PR", ("begin_date", "")).Code);
    }

    [Fact]
    public void An_end_date_before_the_begin_date_is_invalid_dates_3020()
    {
        var error = Fails("PR", ("begin_date", "2024-03"), ("end_date", "2024-01"));
        Assert.Equal(3020, error.Code);
        Assert.Equal(400, error.HttpStatus);
    }

    [Theory]
    [InlineData("2024-13")]
    [InlineData("2024-00")]
    [InlineData("2024-1")]
    [InlineData("2024-02-30")]
    [InlineData("January 2024")]
    [InlineData("2024")]
    public void A_date_that_is_not_yyyy_mm_or_yyyy_mm_dd_is_invalid_dates_3020(string date)
    {
        var error = Fails("PR", ("begin_date", date));
        Assert.Equal(3020, error.Code);
        Assert.Contains(date, error.Data);
    }

    [Fact]
    public void A_yyyy_mm_dd_date_is_taken_as_its_month()
    {
        var request = Parse("PR", ("begin_date", "2024-01-15"), ("end_date", "2024-03-31"));
        Assert.Equal((new DateOnly(2024, 1, 1), new DateOnly(2024, 3, 1)), (request.BeginMonth, request.EndMonth));
    }

    [Fact]
    public void Days_of_one_month_in_either_order_are_that_month()
    {
        var request = Parse("PR", ("begin_date", "2024-02-29"), ("end_date", "2024-02-01"));
        Assert.Equal((new DateOnly(2024, 2, 1), new DateOnly(2024, 2, 1)), (request.BeginMonth, request.EndMonth));
    }

    [Fact]
    public void An_unknown_parameter_is_warned_about_with_3050_and_the_report_still_runs()
    {
        var request = Parse("TR", ("colour", "blue"), ("apikey", "typo"));
        Assert.Equal([(3050, "apikey"), (3050, "colour")], Warnings(request));
        Assert.Equal(200, request.Warnings[0].HttpStatus);
    }

    [Fact]
    public void A_bad_metric_type_is_warned_about_with_3060_and_the_good_ones_are_kept()
    {
        var request = Parse("TR", ("metric_type", "Total_Item_Requests|Total_Clicks|Unique_Title_Requests"));
        Assert.Equal([CounterMetric.TotalItemRequests, CounterMetric.UniqueTitleRequests], request.Metrics);
        Assert.Equal([(3060, "Metric_Type=Total_Clicks")], Warnings(request));
        Assert.Contains(request.EchoFilters, f => f.Name == "Metric_Type");
    }

    [Fact]
    public void A_metric_the_report_does_not_have_is_a_bad_metric_type()
    {
        // Searches_Platform is a Platform Report metric, not a Title Report one.
        var request = Parse("TR", ("metric_type", "Searches_Platform|Total_Item_Requests"));
        Assert.Equal([CounterMetric.TotalItemRequests], request.Metrics);
        Assert.Equal([(3060, "Metric_Type=Searches_Platform")], Warnings(request));
    }

    [Fact]
    public void A_bad_attribute_to_show_is_warned_about_with_3062_and_the_good_ones_are_kept()
    {
        var request = Parse("TR", ("attributes_to_show", "YOP|Colour|Access_Type"));
        Assert.Equal(["YOP", "Access_Type"], request.AttributesToShow);
        Assert.Equal([(3062, "attributes_to_show=Colour")], Warnings(request));
    }

    [Fact]
    public void Granularity_total_asks_for_totals()
    {
        Assert.True(Parse("TR", ("granularity", "Total")).Totals);
        Assert.False(Parse("TR", ("granularity", "Month")).Totals);
    }

    [Fact]
    public void An_unknown_granularity_is_warned_about_and_months_are_given()
    {
        var request = Parse("TR", ("granularity", "Week"));
        Assert.False(request.Totals);
        Assert.Equal([(3062, "granularity=Week")], Warnings(request));
    }

    [Fact]
    public void A_standard_view_flags_master_report_parameters_with_3050_and_keeps_its_fixed_filters()
    {
        var request = Parse("TR_J1",
            ("metric_type", "Total_Item_Investigations"), ("access_type", "Open"), ("access_method", "TDM"),
            ("data_type", "Book"), ("attributes_to_show", "YOP"), ("yop", "2020"));

        Assert.Equal(["access_method", "access_type", "attributes_to_show", "data_type", "metric_type", "yop"], request.Warnings.Select(w => w.Data));
        Assert.All(request.Warnings, w => Assert.Equal(3050, w.Code));
        Assert.Equal(Report("TR_J1").Metrics, request.Metrics);
        Assert.Equal(["Controlled"], request.AccessTypes);
        Assert.Equal(["Regular"], request.AccessMethods);
        Assert.Equal(["Journal"], request.DataTypes);
        Assert.Null(request.Yops);
        Assert.Empty(request.AttributesToShow);
        Assert.Empty(request.EchoFilters);
    }

    [Fact]
    public void A_master_report_applies_its_filters_and_echoes_them()
    {
        var request = Parse("TR", ("access_type", "Open|OA_Gold"), ("access_method", "TDM"), ("data_type", "Book"), ("yop", "2019-2021|2023|21-22"));

        Assert.Equal(["Open"], request.AccessTypes);
        Assert.Equal(["TDM"], request.AccessMethods);
        Assert.Equal(["Book"], request.DataTypes);
        Assert.Equal([(2019, 2021), (2023, 2023)], request.Yops);
        Assert.Equal([(3060, "Access_Type=OA_Gold"), (3060, "YOP=21-22")], Warnings(request));
        Assert.Equal(["Data_Type", "Access_Type", "Access_Method", "YOP"], request.EchoFilters.Select(f => f.Name));
    }

    [Fact]
    public void Parameters_of_another_report_level_are_not_recognized()
    {
        // access_type, yop and item_id belong to title and item reports; database to database reports.
        var request = Parse("PR", ("access_type", "Open"), ("yop", "2020"), ("database", "db1"));
        Assert.Equal([(3050, "access_type"), (3050, "database"), (3050, "yop")], Warnings(request));
        Assert.Null(request.AccessTypes);
        Assert.Null(request.Yops);
        Assert.Null(request.Database);
    }

    [Theory]
    [InlineData("True")]
    [InlineData("true")]
    [InlineData("TRUE")]
    public void Component_details_are_not_supported_3063(string value)
    {
        var request = Parse("IR", ("include_component_details", value), ("include_parent_details", value));
        Assert.Equal([3063], request.Warnings.Select(w => w.Code));
        Assert.True(request.IncludeParentDetails);
    }

    [Fact]
    public void Asking_for_no_component_details_needs_no_exception() =>
        Assert.Empty(Parse("IR", ("include_component_details", "False")).Warnings);

    [Fact]
    public void A_detail_switch_that_is_neither_true_nor_false_is_an_invalid_attribute_3062()
    {
        var request = Parse("IR", ("include_component_details", "yes"), ("include_parent_details", "1"));
        Assert.Equal([(3062, "include_component_details=yes"), (3062, "include_parent_details=1")], Warnings(request));
        Assert.False(request.IncludeParentDetails);
    }

    [Fact]
    public void Component_details_on_a_title_report_are_an_unknown_parameter_only() =>
        Assert.Equal([(3050, "include_component_details")], Warnings(Parse("TR", ("include_component_details", "True"))));

    [Fact]
    public void Country_and_subdivision_codes_are_upper_cased()
    {
        var request = Parse("PR", ("country_code", "de"), ("subdivision_code", "de-by"));
        Assert.Equal(("DE", "DE-BY"), (request.CountryCode, request.SubdivisionCode));
        // The header shows the filters as applied, which COUNTER's schema wants in upper case.
        Assert.Equal([("Country_Code", (object)"DE"), ("Subdivision_Code", "DE-BY")], request.EchoFilters);
    }

    [Fact]
    public void The_report_catalog_finds_reports_by_id_in_any_letter_case()
    {
        Assert.Same(SushiReportCatalog.Find("TR_J1"), SushiReportCatalog.Find("tr_j1"));
        Assert.Null(SushiReportCatalog.Find("TR_X9"));
        Assert.True(Report("TR_B1").IsStandardView);
        Assert.False(Report("TR").IsStandardView);
    }
}

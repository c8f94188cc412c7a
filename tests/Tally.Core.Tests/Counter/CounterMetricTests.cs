using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Process;
using static Tally.Core.Aggregate.CounterMetric;
using static Tally.Core.Tests.Counter.Hits;

namespace Tally.Core.Tests.Counter;

/// <summary>Investigations, requests and their unique item and title counts.</summary>
public sealed class ItemAndTitleMetricTests
{
    private static readonly Who Reader = new(Cookie: "c1", Ip: "192.0.2.1", Agent: Browsers.Firefox);
    private static readonly Who Other = new(Cookie: "c2", Ip: "192.0.2.2", Agent: Browsers.Chrome);

    private static Hit Chapter(Who who, string time, int n, string book = "book1") => Download(who, time, $"{book}-ch{n}") with { Title = book };

    [Fact]
    public async Task A_request_also_counts_as_an_investigation()
    {
        var result = await CounterLab.RunAsync(Download(Reader, "10:00:00"));
        Assert.Equal(new Dictionary<string, long>
        {
            ["Total_Item_Investigations"] = 1,
            ["Total_Item_Requests"] = 1,
            ["Unique_Item_Investigations"] = 1,
            ["Unique_Item_Requests"] = 1,
            ["Unique_Title_Investigations"] = 1,
            ["Unique_Title_Requests"] = 1,
        }, result.Totals());
    }

    [Fact]
    public async Task An_investigation_is_not_a_request()
    {
        var result = await CounterLab.RunAsync(View(Reader, "10:00:00"));
        Assert.Equal(new Dictionary<string, long>
        {
            ["Total_Item_Investigations"] = 1,
            ["Unique_Item_Investigations"] = 1,
            ["Unique_Title_Investigations"] = 1,
        }, result.Totals());
    }

    [Fact]
    public async Task Twelve_chapters_of_one_book_downloaded_in_one_session_are_12_unique_items_and_1_unique_title()
    {
        // COUNTER R5.1 §7.3's own example; the chapters arrive out of order.
        var chapters = Enumerable.Range(1, 12).Select(n => Chapter(Reader, $"10:{n:00}:00", n)).Reverse().ToArray();

        var result = await CounterLab.RunAsync(chapters);

        Assert.Equal(12, result[TotalItemRequests]);
        Assert.Equal(12, result[UniqueItemRequests]);
        Assert.Equal(12, result[UniqueItemInvestigations]);
        Assert.Equal(1, result[UniqueTitleRequests]);
        Assert.Equal(1, result[UniqueTitleInvestigations]);
        Assert.Equal(12, result.Rows.Count);
        // The title's unique is on one row only: the chapter the session began with.
        var titled = Assert.Single(result.Rows, r => r[UniqueTitleRequests] > 0);
        Assert.Equal("book1-ch1", CounterResult.Key(titled, CounterDimension.ItemId));
        Assert.Equal(1, titled[UniqueTitleInvestigations]);
    }

    [Fact]
    public async Task Rows_summed_by_title_give_exact_unique_title_counts()
    {
        var result = await CounterLab.RunAsync(
            // Session 1: three chapters of book1, two of book2, and a look at book3.
            Chapter(Reader, "10:00:00", 1), Chapter(Reader, "10:05:00", 2), Chapter(Reader, "10:10:00", 3),
            Chapter(Reader, "10:15:00", 1, "book2"), Chapter(Reader, "10:20:00", 2, "book2"),
            View(Reader, "10:25:00", "book3-ch1") with { Title = "book3" },
            // Session 2: one chapter of book1 and a look at book2.
            Chapter(Other, "10:00:00", 2), View(Other, "10:01:00", "book2-ch1") with { Title = "book2" });

        long Title(string title, CounterMetric metric) => result.Sum(metric, CounterDimension.TitleId, title);
        Assert.Equal((2L, 2L), (Title("book1", UniqueTitleRequests), Title("book1", UniqueTitleInvestigations)));
        Assert.Equal((1L, 2L), (Title("book2", UniqueTitleRequests), Title("book2", UniqueTitleInvestigations)));
        Assert.Equal((0L, 1L), (Title("book3", UniqueTitleRequests), Title("book3", UniqueTitleInvestigations)));
        Assert.Equal(4, Title("book1", UniqueItemRequests));
        Assert.Equal(3, Title("book2", UniqueItemInvestigations));
    }

    [Fact]
    public async Task An_item_without_a_title_is_its_own_title()
    {
        var result = await CounterLab.RunAsync(View(Reader, "10:00:00", "a1"), View(Reader, "10:10:00", "a1"), View(Reader, "10:20:00", "a2"));
        Assert.Equal(2, result[UniqueTitleInvestigations]);
        Assert.Equal(2, result[UniqueItemInvestigations]);
        Assert.Equal(3, result[TotalItemInvestigations]);
    }

    [Fact]
    public async Task Simultaneous_first_chapters_credit_the_title_to_the_lowest_item_id_whatever_the_arrival_order()
    {
        var ch2 = Chapter(Reader, "10:00:00", 2);
        var ch1 = Chapter(Reader, "10:00:00", 1);
        foreach (var arrival in new[] { new[] { ch1, ch2 }, [ch2, ch1] })
        {
            var result = await CounterLab.RunAsync(arrival);
            var titled = Assert.Single(result.Rows, r => r[UniqueTitleRequests] > 0);
            Assert.Equal("book1-ch1", CounterResult.Key(titled, CounterDimension.ItemId));
        }
    }

    [Fact]
    public async Task A_view_and_a_download_of_one_item_share_its_row()
    {
        var result = await CounterLab.RunAsync(View(Reader, "10:00:00"), Download(Reader, "10:05:00"));
        var row = Assert.Single(result.Rows);
        Assert.Equal((2L, 1L, 1L, 1L), (row[TotalItemInvestigations], row[TotalItemRequests], row[UniqueItemInvestigations], row[UniqueItemRequests]));
    }

    [Fact]
    public async Task Rows_are_kept_by_access_type_and_default_to_controlled_and_regular()
    {
        var result = await CounterLab.RunAsync(Download(Reader, "10:00:00"), Download(Reader, "10:10:00", "a2") with { AccessType = "Open" });
        Assert.Equal(["Controlled", "Open"], result.Rows.Select(r => CounterResult.Key(r, CounterDimension.AccessType)).Order());
        Assert.All(result.Rows, r => Assert.Equal("Regular", CounterResult.Key(r, CounterDimension.AccessMethod)));
    }

    // Rows() is read more than once (the aggregator and tests); it must not count twice.
    [Fact]
    public async Task Reading_the_rows_twice_gives_the_same_rows()
    {
        var lab = new CounterLab();
        var events = await lab.ProcessAsync([Download(Reader, "10:00:00"), View(Reader, "10:05:00", "a2")]);
        var calculator = new CounterDayCalculator(CounterLab.Day);
        foreach (var e in events) calculator.Add(e);

        var first = new CounterResult(calculator.Rows()).Normalized();
        var second = new CounterResult(calculator.Rows()).Normalized();

        Assert.Equal(first, second);
    }
}

/// <summary>Robots on the COUNTER list count for nothing.</summary>
public sealed class RobotExclusionTests
{
    private static readonly Who Crawler = Who.Device("66.249.66.1", Browsers.Googlebot);

    [Fact]
    public void The_counter_list_flags_googlebot()
    {
        Assert.True(CounterLab.Robots.IsRobot(Browsers.Googlebot));
        Assert.False(CounterLab.Robots.IsRobot(Browsers.Firefox));
    }

    [Fact]
    public async Task Robots_are_excluded_from_every_metric()
    {
        var lab = new CounterLab();
        var events = await lab.ProcessAsync([
            View(Crawler, "10:00:00"), Download(Crawler, "10:01:00"), NoLicense(Crawler, "10:02:00"), LimitExceeded(Crawler, "10:03:00"),
            Search(Crawler, "10:04:00"), Search(Crawler, "10:05:00", "automated"), Search(Crawler, "10:06:00", "federated"),
            Download(Crawler, "10:07:00", "book1-ch1") with { Title = "book1" },
        ]);

        Assert.All(events, e => Assert.True(e.IsRobot));
        Assert.Empty(CounterLab.Count(CounterLab.Day, events).Rows);
    }

    [Fact]
    public async Task Robots_are_left_out_while_people_beside_them_count()
    {
        var result = await CounterLab.RunAsync(Download(Crawler, "10:00:00"), Download(Who.Device("192.0.2.1"), "10:00:00"), Search(Crawler, "10:00:00"));
        Assert.Equal(new Dictionary<string, long>
        {
            ["Total_Item_Investigations"] = 1,
            ["Total_Item_Requests"] = 1,
            ["Unique_Item_Investigations"] = 1,
            ["Unique_Item_Requests"] = 1,
            ["Unique_Title_Investigations"] = 1,
            ["Unique_Title_Requests"] = 1,
        }, result.Totals());
    }

    [Fact]
    public async Task A_robot_click_does_not_swallow_the_human_click_before_it()
    {
        // The same account, first in a browser, then 10 s later through a crawler.
        var result = await CounterLab.RunAsync(
            Download(new Who(User: "alice", Agent: Browsers.Firefox), "10:00:00"),
            Download(new Who(User: "alice", Agent: Browsers.Googlebot), "10:00:10"));
        Assert.Equal(1, result[TotalItemRequests]);
    }
}

/// <summary>Search events: Searches_Regular (also Searches_Platform), Searches_Automated, Searches_Federated.</summary>
public sealed class SearchMetricTests
{
    private static readonly Who Reader = Who.Device("192.0.2.1");

    [Theory]
    [InlineData(null)]
    [InlineData("regular")]
    public async Task A_regular_search_counts_as_searches_regular_and_searches_platform(string? searchType)
    {
        var result = await CounterLab.RunAsync(Search(Reader, "10:00:00", searchType));
        Assert.Equal(new Dictionary<string, long> { ["Searches_Regular"] = 1, ["Searches_Platform"] = 1 }, result.Totals());
    }

    [Theory]
    [InlineData("automated", "Searches_Automated")]
    [InlineData("federated", "Searches_Federated")]
    public async Task Automated_and_federated_searches_count_apart_and_not_as_platform_searches(string searchType, string metric)
    {
        var result = await CounterLab.RunAsync(Search(Reader, "10:00:00", searchType));
        Assert.Equal(new Dictionary<string, long> { [metric] = 1 }, result.Totals());
    }

    [Fact]
    public async Task Searches_are_kept_by_database()
    {
        var result = await CounterLab.RunAsync(
            Search(Reader, "10:00:00") with { Database = "db1" },
            Search(Reader, "10:10:00") with { Database = "db1" },
            Search(Reader, "10:20:00", "federated") with { Database = "db2" });
        Assert.Equal(2, result.Sum(SearchesRegular, CounterDimension.DatabaseId, "db1"));
        Assert.Equal(1, result.Sum(SearchesFederated, CounterDimension.DatabaseId, "db2"));
        Assert.Equal(0, result.Sum(SearchesRegular, CounterDimension.DatabaseId, "db2"));
    }

    [Fact]
    public async Task Searches_are_not_double_click_filtered_and_make_no_item_metrics()
    {
        // COUNTER R5.1 §7.2 applies double-click filtering to item totals and denials only.
        var result = await CounterLab.RunAsync(Search(Reader, "10:00:00"), Search(Reader, "10:00:05"));
        Assert.Equal(new Dictionary<string, long> { ["Searches_Regular"] = 2, ["Searches_Platform"] = 2 }, result.Totals());
    }
}

/// <summary>The institution and geo steps fill dimensions from the ip before anonymize drops it.</summary>
public sealed class AttributionTests
{
    [Fact]
    public async Task Usage_from_an_institutions_ip_range_is_attributed_to_its_most_specific_customer_id()
    {
        var lab = new CounterLab(o => o.Counter.Institutions =
        [
            new() { CustomerId = "uni", Name = "University", IpRanges = ["10.0.0.0/8"] },
            new() { CustomerId = "uni-lib", Name = "University Library", IpRanges = ["10.1.0.0/16", "2001:db8::/32"] },
        ]);

        var events = await lab.ProcessAsync([
            Download(Who.Device("10.2.3.4"), "10:00:00", "a1"), Download(Who.Device("10.1.2.3"), "10:00:00", "a2"),
            Download(Who.Device("2001:db8::7"), "10:00:00", "a3"), Download(Who.Device("192.0.2.1"), "10:00:00", "a4"),
        ]);
        var result = CounterLab.Count(CounterLab.Day, events);

        Assert.Equal(["uni", "uni-lib", "uni-lib", null], events.Select(e => e["institution"]));
        Assert.All(events, e => Assert.Null(e["ip"]));
        Assert.Equal(1, result.Sum(TotalItemRequests, CounterDimension.Institution, "uni"));
        Assert.Equal(2, result.Sum(TotalItemRequests, CounterDimension.Institution, "uni-lib"));
        Assert.Equal(1, result.Sum(TotalItemRequests, CounterDimension.Institution, null));
    }

    [Theory]
    [InlineData("country", null)]
    [InlineData("city", "DE-BY")]
    public async Task The_geo_step_fills_country_and_at_city_level_region_before_the_ip_is_dropped(string level, string? region)
    {
        var geo = new DictionaryGeo(new() { ["192.0.2.1"] = new GeoLocation("DE", "Germany", "DE-BY", "Bavaria", "Munich") });
        var lab = new CounterLab(o => o.Geo.Level = level, geo);

        var events = await lab.ProcessAsync([Download(Who.Device("192.0.2.1"), "10:00:00"), Download(Who.Device("198.51.100.1"), "10:00:00")]);
        var result = CounterLab.Count(CounterLab.Day, events);

        Assert.Equal(1, result.Sum(TotalItemRequests, CounterDimension.Country, "DE"));
        Assert.Equal(1, result.Sum(TotalItemRequests, CounterDimension.Country, null));
        var german = Assert.Single(result.Rows, r => CounterResult.Key(r, CounterDimension.Country) == "DE");
        Assert.Equal(region, CounterResult.Key(german, CounterDimension.Region));
    }

    [Fact]
    public void A_geo_step_without_a_geo_database_is_a_configuration_error()
    {
        var schema = TallySchema.Compile(DefaultConfiguration.Create());
        var error = Assert.Throws<ConfigurationException>(() => EventPipeline.FromSchema(schema, CounterLab.Robots, new DailySalts()));
        Assert.Equal("geo.database", error.Setting);
    }
}

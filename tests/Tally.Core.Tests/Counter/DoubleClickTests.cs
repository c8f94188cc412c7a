using Tally.Core.Aggregate;
using static Tally.Core.Aggregate.CounterMetric;
using static Tally.Core.Tests.Counter.Hits;

namespace Tally.Core.Tests.Counter;

/// <summary>
/// COUNTER R5.1 §7.2: two clicks on the same target by the same user less than 30 s apart count
/// once, and the earlier one is the one removed.
/// </summary>
public sealed class DoubleClickTests
{
    private const string Pdf = "https://tally.example/article1.pdf";
    private static readonly Who Alice = new(User: "alice", Ip: "192.0.2.10", Agent: Browsers.Firefox);
    private static readonly Who Bob = new(User: "bob", Ip: "192.0.2.10", Agent: Browsers.Firefox);

    private static Hit Click(Who who, string time) => Download(who, time) with { Url = Pdf };

    [Theory]
    [InlineData("10:00:29")]
    [InlineData("10:00:29.999")]
    [InlineData("10:00:00")]
    public async Task Clicks_less_than_30_seconds_apart_count_once(string second)
    {
        var result = await CounterLab.RunAsync(Click(Alice, "10:00:00"), Click(Alice, second));
        Assert.Equal(1, result[TotalItemRequests]);
        Assert.Equal(1, result[TotalItemInvestigations]);
    }

    [Fact]
    public async Task Clicks_exactly_30_seconds_apart_both_count()
    {
        var result = await CounterLab.RunAsync(Click(Alice, "10:00:00"), Click(Alice, "10:00:30"));
        Assert.Equal(2, result[TotalItemRequests]);
    }

    [Fact]
    public async Task Clicks_31_seconds_apart_both_count()
    {
        var result = await CounterLab.RunAsync(Click(Alice, "10:00:00"), Click(Alice, "10:00:31"));
        Assert.Equal(2, result[TotalItemRequests]);
    }

    [Fact]
    public async Task Clicks_30_seconds_apart_to_the_millisecond_both_count_and_one_millisecond_less_counts_once()
    {
        Assert.Equal(2, (await CounterLab.RunAsync(Click(Alice, "10:00:00.250"), Click(Alice, "10:00:30.250")))[TotalItemRequests]);
        Assert.Equal(1, (await CounterLab.RunAsync(Click(Alice, "10:00:00.250"), Click(Alice, "10:00:30.249")))[TotalItemRequests]);
    }

    [Fact]
    public async Task A_chain_of_clicks_10_seconds_apart_counts_once_and_keeps_the_last_click()
    {
        // Five clicks over 40 s, each on its own row (database db1..db5), so the surviving click shows.
        var chain = Enumerable.Range(0, 5).Select(i => Click(Alice, $"10:00:{i * 10:00}") with { Database = $"db{i + 1}" }).ToArray();

        var result = await CounterLab.RunAsync(chain);

        Assert.Equal(1, result[TotalItemRequests]);
        var survivor = Assert.Single(result.Rows, r => r[TotalItemRequests] > 0);
        Assert.Equal("db5", CounterResult.Key(survivor, CounterDimension.DatabaseId));
    }

    [Fact]
    public async Task A_chain_keeps_its_last_click_whatever_order_the_clicks_arrive_in()
    {
        var chain = Enumerable.Range(0, 5).Select(i => Click(Alice, $"10:00:{i * 10:00}") with { AccessType = i == 4 ? "Open" : "Controlled" }).ToArray();

        foreach (var arrival in new[] { chain, chain.Reverse().ToArray(), [chain[2], chain[4], chain[0], chain[3], chain[1]] })
        {
            var result = await CounterLab.RunAsync(arrival);
            Assert.Equal(1, result[TotalItemRequests]);
            Assert.Equal(1, result.Sum(TotalItemRequests, CounterDimension.AccessType, "Open"));
            Assert.Equal(0, result.Sum(TotalItemRequests, CounterDimension.AccessType, "Controlled"));
        }
    }

    [Fact]
    public async Task A_gap_of_30_seconds_or_more_ends_a_chain()
    {
        // 0 s is swallowed by 10 s; 10 s survives (next is 30 s later); 40 s is swallowed by 50 s.
        var clicks = new[] { "10:00:00", "10:00:10", "10:00:40", "10:00:50" }.Select((t, i) => Click(Alice, t) with { Database = $"db{i + 1}" }).ToArray();

        var result = await CounterLab.RunAsync(clicks);

        Assert.Equal(2, result[TotalItemRequests]);
        Assert.Equal(["db2", "db4"], result.Rows.Where(r => r[TotalItemRequests] > 0).Select(r => CounterResult.Key(r, CounterDimension.DatabaseId)).Order());
    }

    [Fact]
    public async Task Different_users_clicking_the_same_url_are_not_merged()
    {
        var result = await CounterLab.RunAsync(Click(Alice, "10:00:00"), Click(Bob, "10:00:05"));
        Assert.Equal(2, result[TotalItemRequests]);
    }

    [Fact]
    public async Task One_user_clicking_different_urls_is_not_merged()
    {
        var result = await CounterLab.RunAsync(Click(Alice, "10:00:00"), Click(Alice, "10:00:05") with { Url = Pdf + "?page=2" });
        Assert.Equal(2, result[TotalItemRequests]);
        // Both urls are the same item in the same session.
        Assert.Equal(1, result[UniqueItemRequests]);
    }

    [Fact]
    public async Task Without_a_url_the_same_item_as_pdf_and_html_within_30_seconds_is_two_requests_of_one_unique_item()
    {
        var result = await CounterLab.RunAsync(
            Download(Alice, "10:00:00") with { Format = "PDF" },
            Download(Alice, "10:00:10") with { Format = "HTML" });

        Assert.Equal(2, result[TotalItemRequests]);
        Assert.Equal(1, result[UniqueItemRequests]);
    }

    [Fact]
    public async Task Without_a_url_the_same_item_in_the_same_format_within_30_seconds_counts_once()
    {
        var result = await CounterLab.RunAsync(
            Download(Alice, "10:00:00") with { Format = "PDF" },
            Download(Alice, "10:00:10") with { Format = "PDF" });

        Assert.Equal(1, result[TotalItemRequests]);
        Assert.Equal(1, result[UniqueItemRequests]);
    }

    [Fact]
    public async Task Without_a_url_or_format_the_item_alone_is_the_target()
    {
        var result = await CounterLab.RunAsync(Download(Alice, "10:00:00"), Download(Alice, "10:00:10"), Download(Alice, "10:00:15", "article2"));
        Assert.Equal(2, result[TotalItemRequests]);
        Assert.Equal(2, result[UniqueItemRequests]);
    }

    [Theory]
    [InlineData("no-license", CounterMetric.NoLicense)]
    [InlineData("limit-exceeded", CounterMetric.LimitExceeded)]
    public async Task Access_denials_are_double_click_filtered_too(string type, CounterMetric metric)
    {
        var quick = await CounterLab.RunAsync(new Hit(type, Alice, "10:00:00") { Url = Pdf }, new Hit(type, Alice, "10:00:20") { Url = Pdf });
        var slow = await CounterLab.RunAsync(new Hit(type, Alice, "10:00:00") { Url = Pdf }, new Hit(type, Alice, "10:00:30") { Url = Pdf });

        Assert.Equal(new Dictionary<string, long> { [CounterNames.Report(metric)] = 1 }, quick.Totals());
        Assert.Equal(new Dictionary<string, long> { [CounterNames.Report(metric)] = 2 }, slow.Totals());
    }

    [Fact]
    public async Task A_view_then_a_download_of_the_same_url_are_two_actions_not_a_double_click()
    {
        var result = await CounterLab.RunAsync(View(Alice, "10:00:00") with { Url = Pdf }, Click(Alice, "10:00:05"));

        Assert.Equal(new Dictionary<string, long>
        {
            ["Total_Item_Investigations"] = 2,
            ["Total_Item_Requests"] = 1,
            ["Unique_Item_Investigations"] = 1,
            ["Unique_Item_Requests"] = 1,
            ["Unique_Title_Investigations"] = 1,
            ["Unique_Title_Requests"] = 1,
        }, result.Totals());
    }

    [Fact]
    public async Task Simultaneous_clicks_on_different_rows_keep_the_same_survivor_whatever_the_arrival_order()
    {
        var open = Click(Alice, "10:00:00") with { AccessType = "Open" };
        var controlled = Click(Alice, "10:00:00") with { AccessType = "Controlled" };

        var one = await CounterLab.RunAsync(open, controlled);
        var other = await CounterLab.RunAsync(controlled, open);

        Assert.Equal(1, one[TotalItemRequests]);
        Assert.Equal(one.Sum(TotalItemRequests, CounterDimension.AccessType, "Open"), other.Sum(TotalItemRequests, CounterDimension.AccessType, "Open"));
    }
}

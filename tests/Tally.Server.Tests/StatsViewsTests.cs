using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests;

/// <summary>
/// What the stats views tell a user about real data, over real HTTP and the real CLI: referrers by site,
/// month timelines of whole months, and where the data is when a range comes back empty (old logs).
/// </summary>
public sealed class StatsViewsTests : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private static readonly DateOnly Today = DateOnly.FromDateTime(DateTime.UtcNow);
    private readonly List<TallyHost> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts) await host.DisposeAsync();
    }

    /// <summary>A server with the built-in types, aggregations and queries (referrers and COUNTER included), plus <paramref name="change"/>.</summary>
    private async Task<TallyHost> StartAsync(Action<JsonObject>? change = null, string? dataDirectory = null)
    {
        var host = await TallyHost.StartAsync(c =>
        {
            c.Remove("eventTypes");
            c.Remove("aggregations");
            c.Remove("queries");
            change?.Invoke(c);
        }, dataDirectory);
        _hosts.Add(host);
        return host;
    }

    private static Action<JsonObject> OwnHosts(params string[] hosts) =>
        c => c["referrers"] = new JsonObject { ["ownHosts"] = new JsonArray([.. hosts.Select(h => JsonValue.Create(h))]) };

    private static string View(string item, string? referrer = null, string? url = null, string? timestamp = null, string user = "u1") =>
        JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["type"] = "record-view", ["item_id"] = item, ["user_id"] = user, ["user_agent"] = Browser,
            ["referrer"] = referrer, ["url"] = url, ["timestamp"] = timestamp,
        }.Where(p => p.Value is not null).ToDictionary());

    private static async Task SendAsync(TallyHost host, params string[] events)
    {
        using var response = await host.PostEventsAsync($"[{string.Join(',', events)}]");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await host.AggregateAsync();
    }

    private static async Task<Dictionary<string, double>> ReferrersAsync(TallyHost host, string filter = "") =>
        (await host.GetJsonAsync($"/api/v1/stats/record-view-referrers/totals?{filter}")).GetProperty("items").EnumerateArray()
            .ToDictionary(i => i.GetProperty("referrer").GetString() ?? "(none)", i => i.GetProperty("count").GetDouble());

    // ---- referrers ------------------------------------------------------------------------------------

    [Fact]
    public async Task Referrers_are_one_row_per_site_page_and_the_sites_own_pages_are_not_referrers()
    {
        var host = await StartAsync(OwnHosts("repository.example.org"));
        await SendAsync(host,
            View("r1", "http://www.example.com"), View("r2", "http://example.com"), View("r3", "https://example.com/"),
            View("r4", "https://repository.example.org/records/1"),                                          // the configured host
            View("r5", "https://www.journal.example.net/search?q=a", "https://journal.example.net/records/5"), // the host of the page itself
            View("r6", "https://www.google.com/search?q=private"), View("r7"));

        Assert.Equal(new Dictionary<string, double> { ["example.com"] = 3, ["(none)"] = 3, ["google.com/search"] = 1 }, await ReferrersAsync(host));
        // A referrer filter finds its row whether it is written as a key or as the URL a browser sent.
        Assert.Equal(new Dictionary<string, double> { ["example.com"] = 3 }, await ReferrersAsync(host, "referrer=http%3A%2F%2Fwww.example.com%2F"));
        Assert.Equal(new Dictionary<string, double> { ["example.com"] = 3 }, await ReferrersAsync(host, "referrer=example.com"));

        // Raw events keep the referrer as it was sent.
        var raw = (await host.GetJsonAsync("/api/v1/events?delta=3600&item_id=r1")).GetProperty("raw_messages")[0];
        Assert.Equal("http://www.example.com", raw.GetProperty("data").GetProperty("referrer").GetString());
    }

    [Fact]
    public async Task Own_hosts_configured_later_apply_to_days_already_stored_when_they_are_rebuilt()
    {
        var first = await StartAsync();
        await SendAsync(first, View("r1", "https://www.repository.example.org/"), View("r2", "https://scholar.google.com/"));
        Assert.Equal(new Dictionary<string, double> { ["repository.example.org"] = 1, ["scholar.google.com"] = 1 }, await ReferrersAsync(first));
        await first.StopKeepingDataAsync();

        var next = await StartAsync(OwnHosts("repository.example.org"), first.DataDirectory);
        await next.AggregateAsync("?rebuild=true");
        Assert.Equal(new Dictionary<string, double> { ["(none)"] = 1, ["scholar.google.com"] = 1 }, await ReferrersAsync(next));
    }

    // ---- month timelines --------------------------------------------------------------------------------

    [Fact]
    public async Task A_month_timeline_without_a_range_covers_the_last_12_months_whole_and_a_day_timeline_30_days()
    {
        var host = await StartAsync();
        var thisMonth = new DateOnly(Today.Year, Today.Month, 1);
        var elevenMonthsAgo = thisMonth.AddMonths(-11);
        await SendAsync(host, View("a", timestamp: $"{elevenMonthsAgo:yyyy-MM-dd}T08:00:00Z"), View("a", timestamp: $"{elevenMonthsAgo.AddMonths(-1):yyyy-MM-dd}T08:00:00Z"), View("a"));

        var months = await host.GetJsonAsync("/api/v1/stats/record-view-histogram/timeline?interval=month");
        Assert.Equal(Enumerable.Range(0, 12).Select(m => $"{elevenMonthsAgo.AddMonths(m):yyyy-MM-dd}"), months.EnumerateArray().Select(r => r.GetProperty("date").GetString()));
        Assert.Equal(1, months[0].GetProperty("count").GetDouble());
        Assert.Equal(2, months.EnumerateArray().Sum(r => r.GetProperty("count").GetDouble()));

        var days = await host.GetJsonAsync("/api/v1/stats/record-view-histogram/timeline");
        Assert.Equal(30, days.GetArrayLength());
        Assert.Equal($"{Today.AddDays(-29):yyyy-MM-dd}", days[0].GetProperty("date").GetString());
    }

    // ---- where the data is ----------------------------------------------------------------------------

    private static readonly string[] OldLog =
    [
        View("a", "https://www.google.com/", timestamp: "2015-05-17T10:00:00Z"), View("b", timestamp: "2015-05-18T10:00:00Z", user: "u2"),
        View("a", timestamp: "2015-05-20T23:59:00Z", user: "u3"),
    ];

    [Fact]
    public async Task The_extent_of_a_query_tells_the_first_and_last_day_with_data()
    {
        var host = await StartAsync();
        var none = await host.GetJsonAsync("/api/v1/stats/record-view-histogram/extent");
        Assert.Equal((JsonValueKind.Null, JsonValueKind.Null), (none.GetProperty("first").ValueKind, none.GetProperty("last").ValueKind));

        await SendAsync(host, OldLog);
        Assert.All((await host.GetJsonAsync("/api/v1/stats/record-view-histogram/timeline")).EnumerateArray(), r => Assert.Equal(0, r.GetProperty("count").GetDouble()));
        foreach (var query in (string[])["record-view-histogram", "record-view-top", "record-view-referrers"])
        {
            var extent = await host.GetJsonAsync($"/api/v1/stats/{query}/extent");
            Assert.Equal(("2015-05-17", "2015-05-20"), (extent.GetProperty("first").GetString(), extent.GetProperty("last").GetString()));
        }
        var downloads = await host.GetJsonAsync("/api/v1/stats/file-download-histogram/extent");
        Assert.Equal(JsonValueKind.Null, downloads.GetProperty("first").ValueKind);

        using var unknown = await host.Client.GetAsync("/api/v1/stats/no-such-query/extent");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Empty_answers_of_query_and_report_say_on_stderr_where_the_data_is()
    {
        var host = await StartAsync();
        await SendAsync(host, OldLog);
        await host.StopKeepingDataAsync();
        var root = host.DataDirectory;
        var config = host.ConfigPath;
        Task<(int ExitCode, string Out, string Error)> TallyAsync(params string[] arguments) => TallyProcess.RunAsync(root, [.. arguments, "--config", config]);

        var (exit, output, error) = await TallyAsync("query", "record-view-histogram", "--format", "csv");
        Assert.Equal(0, exit);
        Assert.Equal(31, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("'record-view-histogram' has data from 2015-05-17 to 2015-05-20: add dateStart=2015-05-17 dateEnd=2015-05-20", error);
        Assert.DoesNotContain("dateStart", output);

        (exit, output, error) = await TallyAsync("query", "record-view-top", "dateStart=2015-05-17", "dateEnd=2015-05-20", "--format", "csv");
        Assert.Equal((0, ""), (exit, error));
        Assert.Contains("a,2,", output);

        (exit, _, error) = await TallyAsync("query", "record-view-top", "item_id=zzz", "dateStart=2015-05-01", "dateEnd=2015-05-31");
        Assert.Equal(0, exit);
        Assert.Contains("No data from 2015-05-01 to 2015-05-31 matches the filters; 'record-view-top' has data from 2015-05-17 to 2015-05-20.", error);

        (exit, output, error) = await TallyAsync("report", "pr", "--format", "tsv");
        Assert.Equal(0, exit);
        Assert.Contains("3030", output);
        Assert.Contains("COUNTER usage runs from 2015-05 to 2015-05: add --begin 2015-05 --end 2015-05", error);

        (exit, output, error) = await TallyAsync("report", "pr", "--begin", "2015-05");
        Assert.Equal((0, ""), (exit, error));
        Assert.Contains("Total_Item_Investigations", output);
    }

    [Fact]
    public async Task Before_any_data_the_hint_says_how_to_get_some()
    {
        var host = await StartAsync();
        await host.StopKeepingDataAsync();
        var (exit, _, error) = await TallyProcess.RunAsync(host.DataDirectory, "query", "record-view-top", "--config", host.ConfigPath);
        Assert.Equal(0, exit);
        Assert.Contains("'record-view-top' has no data yet; import or send events, then run 'tally aggregate'.", error);
        (exit, _, error) = await TallyProcess.RunAsync(host.DataDirectory, "report", "ir", "--config", host.ConfigPath);
        Assert.Equal(0, exit);
        Assert.Contains("no COUNTER usage is stored yet", error);
    }
}

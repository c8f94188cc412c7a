using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Tally.Core.Aggregate;
using Tally.Core.Store;
using Tally.Server.Tests.ScaleOut;

namespace Tally.Server.Tests.Sushi;

/// <summary>
/// Reports of closed months are served from cached bytes until their months are recomputed (late events, a restatement)
/// or item metadata changes, on this node or on another over the same store; large reports are streamed.
/// </summary>
public sealed class SushiReportCacheTests
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    internal static readonly DateOnly LastMonth = DateOnly.FromDateTime(DateTime.UtcNow).AddMonths(-1) is var day ? new DateOnly(day.Year, day.Month, 1) : default;
    internal static readonly string Month = LastMonth.ToString("yyyy-MM", CultureInfo.InvariantCulture);
    private static readonly string PrPath = $"/r51/reports/pr?customer_id=0000000000000000&begin_date={Month}&end_date={Month}";

    internal static void Counter(JsonObject config)
    {
        config.Remove("eventTypes");
        config.Remove("aggregations");
        config.Remove("queries");
        config["counter"] = new JsonObject { ["platform"] = "Test Platform", ["platformId"] = "testplat", ["publisher"] = "Test Press" };
    }

    /// <summary>Views of <paramref name="items"/> articles on day <paramref name="dayOfMonth"/> of last month, each by its own reader.</summary>
    internal static string Views(int dayOfMonth, int items, string prefix = "a")
    {
        var day = LastMonth.AddDays(dayOfMonth - 1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return new JsonArray([.. Enumerable.Range(0, items).Select(i => (JsonNode)new JsonObject
        {
            ["type"] = "record-view", ["timestamp"] = $"{day}T10:00:00Z", ["ip"] = $"20.1.{i / 250}.{i % 250 + 1}", ["user_agent"] = Browser,
            ["item_id"] = $"{prefix}{i}", ["item_name"] = $"Article {prefix}{i}", ["data_type"] = "Article", ["title_id"] = "j1", ["title_name"] = "Journal of Tests",
        })]).ToJsonString();
    }

    internal static async Task PostAsync(HttpClient client, string events)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent(events, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    internal static async Task AggregateAsync(HttpClient client, string query = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/aggregate" + query);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.AdminKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    internal static async Task<string> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return body;
    }

    /// <summary>Total_Item_Investigations of the month in a PR.</summary>
    internal static long Investigations(string pr) =>
        JsonNode.Parse(pr)!["Report_Items"]!.AsArray()
            .SelectMany(i => i!["Attribute_Performance"]!.AsArray())
            .Sum(p => p!["Performance"]?["Total_Item_Investigations"]?[Month]?.GetValue<long>() ?? 0);

    /// <summary>Changes the stored monthly metrics behind the server's back, as nothing but aggregation should: only a cache keeps the old answer.</summary>
    private static async Task OverwriteMonthlyMetricsAsync(TallyHost host)
    {
        var metrics = host.Get<IMetricStore>();
        var rows = await metrics.ReadCounterMetricsAsync(
            new CounterQuery(MetricPeriod.Month, LastMonth, LastMonth, new Dictionary<CounterDimension, IReadOnlyList<string?>>(), CounterNames.Dimensions, ByMonth: true),
            CancellationToken.None);
        Assert.NotEmpty(rows);
        foreach (var row in rows) row[CounterMetric.TotalItemInvestigations] = 999;
        await metrics.ReplaceCounterMetricsAsync(MetricPeriod.Month, LastMonth, rows, CancellationToken.None);
    }

    [Fact]
    public async Task A_closed_month_is_served_from_cache_until_late_events_are_aggregated()
    {
        await using var host = await TallyHost.StartAsync(Counter);
        await PostAsync(host.Client, Views(5, 3));
        await AggregateAsync(host.Client);
        var first = await GetAsync(host.Client, PrPath);
        Assert.Equal(3, Investigations(first));

        await OverwriteMonthlyMetricsAsync(host);
        Assert.Equal(first, await GetAsync(host.Client, PrPath));

        await PostAsync(host.Client, Views(9, 1, prefix: "late"));
        Assert.Equal(first, await GetAsync(host.Client, PrPath));
        await AggregateAsync(host.Client);
        Assert.Equal(4, Investigations(await GetAsync(host.Client, PrPath)));
    }

    [Fact]
    public async Task A_restatement_of_the_month_refreshes_its_cached_report()
    {
        await using var host = await TallyHost.StartAsync(Counter);
        await PostAsync(host.Client, Views(5, 3));
        await AggregateAsync(host.Client);
        Assert.Equal(3, Investigations(await GetAsync(host.Client, PrPath)));
        await OverwriteMonthlyMetricsAsync(host);
        Assert.Equal(3, Investigations(await GetAsync(host.Client, PrPath)));

        // A restatement of another month leaves this one's report alone; one of this month recomputes it from raw events.
        var otherMonth = LastMonth.AddMonths(-1);
        await AggregateAsync(host.Client, $"?rebuild=true&from={otherMonth:yyyy-MM-dd}&to={otherMonth.AddMonths(1).AddDays(-1):yyyy-MM-dd}");
        Assert.Equal(3, Investigations(await GetAsync(host.Client, PrPath)));
        await OverwriteMonthlyMetricsAsync(host);
        await AggregateAsync(host.Client, $"?rebuild=true&from={LastMonth:yyyy-MM-dd}&to={LastMonth.AddMonths(1).AddDays(-1):yyyy-MM-dd}");
        Assert.Equal(3, Investigations(await GetAsync(host.Client, PrPath)));
        await OverwriteMonthlyMetricsAsync(host);
        Assert.Equal(3, Investigations(await GetAsync(host.Client, PrPath)));
    }

    [Fact]
    public async Task A_query_node_never_serves_bytes_made_stale_by_another_node()
    {
        var connection = await SharedDatabase.CreateAsync();
        void Shared(JsonObject config)
        {
            Counter(config);
            config["storage"] = new JsonObject { ["engine"] = "postgres", ["connection"] = connection };
        }
        await using var worker = await TallyHost.StartAsync(Shared);
        await using var query = await TallyHost.StartAsync(Shared);
        var irPath = $"/r51/reports/ir?customer_id=0000000000000000&begin_date={Month}&end_date={Month}";

        await PostAsync(worker.Client, Views(5, 3));
        await AggregateAsync(worker.Client);
        Assert.Equal(3, Investigations(await GetAsync(query.Client, PrPath)));
        Assert.Contains("\"Article a0\"", await GetAsync(query.Client, irPath));

        await PostAsync(worker.Client, Views(9, 1, prefix: "late"));
        await AggregateAsync(worker.Client);
        Assert.Equal(4, Investigations(await GetAsync(query.Client, PrPath)));

        using var rename = new HttpRequestMessage(HttpMethod.Put, "/api/v1/items/a0") { Content = new StringContent("""{"name":"Renamed"}""", Encoding.UTF8, "application/json") };
        rename.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
        using (var renamed = await worker.Client.SendAsync(rename)) Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        var ir = await GetAsync(query.Client, irPath);
        Assert.Contains("\"Renamed\"", ir);
        Assert.DoesNotContain("\"Article a0\"", ir);
    }
}

/// <summary>Measures what the whole process allocates, so it runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "Alone";
}

/// <summary>An item report is written to the response as it is built, not held as a tree of JSON nodes.</summary>
[Collection(AloneCollection.Name)]
public sealed class SushiStreamingTests
{
    [Fact]
    public async Task A_large_item_report_is_streamed_allocating_less_than_a_tree_of_its_JSON_alone_would()
    {
        const int items = 6000;
        await using var host = await TallyHost.StartAsync(SushiReportCacheTests.Counter);
        await SushiReportCacheTests.PostAsync(host.Client, SushiReportCacheTests.Views(5, items));
        await SushiReportCacheTests.AggregateAsync(host.Client);
        // This month is still open, so the report is written afresh every time, not kept.
        var month = DateTime.UtcNow.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var path = $"/r51/reports/ir?customer_id=0000000000000000&begin_date={SushiReportCacheTests.Month}&end_date={month}";
        var text = await SushiReportCacheTests.GetAsync(host.Client, path);
        var treeFrom = GC.GetTotalAllocatedBytes(precise: true);
        var tree = JsonNode.Parse(text);
        var treeBytes = GC.GetTotalAllocatedBytes(precise: true) - treeFrom;
        GC.KeepAlive(tree);

        var buffer = new byte[64 * 1024];
        var before = GC.GetTotalAllocatedBytes(precise: true);
        using (var response = await host.Client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead))
        {
            await using var body = await response.Content.ReadAsStreamAsync();
            while (await body.ReadAsync(buffer) > 0)
            {
            }
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(text.Length > 1_000_000, $"the report has {text.Length:N0} characters");
        // Reading the facts, their metadata, and serving the request, client included, cost less than the tree of nodes the text would make.
        Assert.True(allocated < treeBytes, $"{allocated:N0} bytes allocated for a report whose tree of nodes takes {treeBytes:N0}");
    }
}

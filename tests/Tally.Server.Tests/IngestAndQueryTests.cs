using System.Net;
using System.Text.Json;

namespace Tally.Server.Tests;

/// <summary>The whole path over real HTTP: events in, processed, stored, aggregated, queried.</summary>
public sealed class IngestAndQueryTests : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private const string Googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    private TallyHost _host = null!;
    private static readonly string Today = DateTime.UtcNow.ToString("yyyy-MM-dd");

    public async Task InitializeAsync() => _host = await TallyHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static string View(string item, string ip, string ua = Browser, string? id = null, string? timestamp = null)
    {
        var e = new Dictionary<string, string> { ["type"] = "record-view", ["item_id"] = item, ["ip"] = ip, ["user_agent"] = ua };
        if (id is not null) e["id"] = id;
        if (timestamp is not null) e["timestamp"] = timestamp;
        return JsonSerializer.Serialize(e);
    }

    [Fact]
    public async Task Stored_events_are_aggregated_into_counts_unique_visitors_and_sums_with_robots_excluded()
    {
        var body = string.Join('\n',
            View("a", "10.0.0.1"), View("a", "10.0.0.1"), View("a", "10.0.0.2"), View("b", "10.0.0.1"),
            View("a", "66.249.66.1", Googlebot),
            $$"""{"type":"file-download","item_id":"a","ip":"10.0.0.1","user_agent":"{{Browser}}","size":1000}""",
            $$"""{"type":"file-download","item_id":"a","ip":"10.0.0.2","user_agent":"{{Browser}}","size":3000}""");
        using var response = await _host.PostEventsAsync(body, contentType: "application/x-ndjson");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(7, result.GetProperty("received").GetInt32());
        Assert.Equal(7, result.GetProperty("stored").GetInt32());
        Assert.Equal(7, result.GetProperty("ids").GetArrayLength());

        await _host.AggregateAsync();

        var top = await _host.GetJsonAsync("/api/v1/stats/record-view-top/totals");
        Assert.Equal(2, top.GetProperty("itemsMax").GetInt32());
        var a = top.GetProperty("items")[0];
        Assert.Equal("a", a.GetProperty("item_id").GetString());
        Assert.Equal(3, a.GetProperty("count").GetDouble());
        Assert.Equal(2, a.GetProperty("unique_visitors").GetDouble());
        Assert.Equal(1, top.GetProperty("items")[1].GetProperty("count").GetDouble());

        var volume = await _host.GetJsonAsync($"/api/v1/stats/file-download-volume/timeline?dateStart={Today}&dateEnd={Today}");
        Assert.Equal(4000, Assert.Single(volume.EnumerateArray()).GetProperty("value").GetDouble());
        Assert.Equal(2000, volume[0].GetProperty("avg_size").GetDouble());
    }

    [Fact]
    public async Task Timeline_is_zero_filled_per_day_and_per_month_and_filters_by_field()
    {
        var old = DateTime.UtcNow.Date.AddDays(-40).ToString("yyyy-MM-dd'T'12:00:00'Z'");
        var body = $"[{View("a", "10.0.0.1")},{View("b", "10.0.0.1")},{View("a", "10.0.0.3", timestamp: old)}]";
        Assert.Equal(HttpStatusCode.Accepted, (await _host.PostEventsAsync(body)).StatusCode);
        await _host.AggregateAsync();

        var from = DateTime.UtcNow.Date.AddDays(-45);
        var daily = await _host.GetJsonAsync($"/api/v1/stats/record-view-histogram/timeline?dateStart={from:yyyy-MM-dd}&dateEnd={Today}");
        Assert.Equal(46, daily.GetArrayLength());
        Assert.Equal(3, daily.EnumerateArray().Sum(p => p.GetProperty("value").GetDouble()));
        Assert.Equal(2, daily[45].GetProperty("value").GetDouble());
        Assert.Equal(Today, daily[45].GetProperty("date").GetString());

        var monthly = await _host.GetJsonAsync($"/api/v1/stats/record-view-histogram/timeline?dateStart={from:yyyy-MM-dd}&dateEnd={Today}&interval=month");
        Assert.Equal(3, monthly.EnumerateArray().Sum(p => p.GetProperty("value").GetDouble()));
        Assert.All(monthly.EnumerateArray(), p => Assert.EndsWith("-01", p.GetProperty("date").GetString()));

        var onlyA = await _host.GetJsonAsync($"/api/v1/stats/record-view-histogram/timeline?dateStart={from:yyyy-MM-dd}&dateEnd={Today}&item_id=a");
        Assert.Equal(2, onlyA.EnumerateArray().Sum(p => p.GetProperty("value").GetDouble()));
        var notA = await _host.GetJsonAsync($"/api/v1/stats/record-view-histogram/timeline?dateStart={from:yyyy-MM-dd}&dateEnd={Today}&not_item_id=a");
        Assert.Equal(1, notA.EnumerateArray().Sum(p => p.GetProperty("value").GetDouble()));
    }

    [Fact]
    public async Task Csv_carries_the_same_numbers_as_json()
    {
        await _host.PostEventsAsync($"[{View("a", "10.0.0.1")},{View("a", "10.0.0.2")},{View("b", "10.0.0.1")}]");
        await _host.AggregateAsync();
        var json = await _host.GetJsonAsync("/api/v1/stats/record-view-top/totals");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/stats/record-view-top/totals");
        request.Headers.Accept.ParseAdd("text/csv");
        using var response = await _host.Client.SendAsync(request);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("item_id,count,unique_visitors,unique_sessions,value", lines[0]);
        Assert.Equal(json.GetProperty("items").GetArrayLength() + 1, lines.Length);
        Assert.Equal("a,2,2,2,2", lines[1]);
        Assert.Equal("b,1,1,1,1", lines[2]);
    }

    [Fact]
    public async Task Invenio_style_stats_answers_each_alias()
    {
        await _host.PostEventsAsync($"[{View("a", "10.0.0.1")},{View("b", "10.0.0.1")},{View("b", "10.0.0.2")}]");
        await _host.AggregateAsync();
        using var response = await _host.Client.PostAsync("/api/v1/stats", new StringContent(
            JsonSerializer.Serialize(new
            {
                views = new { stat = "record-view-histogram", @params = new { start_date = Today, end_date = Today } },
                top = new { stat = "record-view-top", @params = new { size = 1 } },
            }),
            System.Text.Encoding.UTF8, "application/json"));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, body.GetProperty("views").GetProperty("buckets")[0].GetProperty("value").GetDouble());
        var top = Assert.Single(body.GetProperty("top").GetProperty("buckets").EnumerateArray());
        Assert.Equal("b", top.GetProperty("key").GetString());
        Assert.Equal(2, top.GetProperty("value").GetDouble());
    }

    [Fact]
    public async Task The_same_id_twice_is_stored_and_counted_once()
    {
        var first = await _host.PostEventsAsync(View("a", "10.0.0.1", id: "order-1"));
        var second = await _host.PostEventsAsync($"[{View("a", "10.0.0.1", id: "order-1")},{View("a", "10.0.0.1", id: "order-2")}]");
        var again = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        // Answered from the inbox: its worker, not the request, finds the duplicate.
        Assert.True(again.GetProperty("queued").GetBoolean());
        Assert.Equal("order-1", again.GetProperty("ids")[0].GetString());
        var raw = (await _host.GetJsonAsync("/api/v1/events?delta=3600")).GetProperty("raw_messages").EnumerateArray().Select(e => e.GetProperty("id").GetString()).ToList();
        Assert.Equal(["order-1", "order-2"], raw.Order());

        await _host.AggregateAsync();
        var top = await _host.GetJsonAsync("/api/v1/stats/record-view-top/totals");
        Assert.Equal(2, top.GetProperty("items")[0].GetProperty("count").GetDouble());
    }

    [Fact]
    public async Task Gzip_bodies_are_accepted()
    {
        var compressed = HttpKit.Gzip(string.Join('\n', Enumerable.Range(0, 500).Select(i => View($"i{i}", "10.0.0.1"))));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new ByteArrayContent(compressed) };
        request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.Authorization = new("Bearer", TestConfig.WriteKey);
        using var response = await _host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(500, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("stored").GetInt32());
    }

    [Fact]
    public async Task Raw_events_are_anonymized_filterable_and_paged()
    {
        await _host.PostEventsAsync(string.Join('\n', Enumerable.Range(0, 30).Select(i => View(i % 3 == 0 ? "a" : "b", $"10.0.0.{i}"))));
        var page = await _host.GetJsonAsync("/api/v1/events?delta=3600&rows_per_page=7&page=2&order=asc");
        Assert.Equal(30, page.GetProperty("total").GetInt32());
        Assert.Equal(5, page.GetProperty("pages").GetInt32());
        Assert.Equal(7, page.GetProperty("count").GetInt32());
        var message = page.GetProperty("raw_messages")[0];
        Assert.False(message.GetProperty("data").TryGetProperty("ip", out _), "raw ip must not be stored");
        Assert.False(message.GetProperty("data").TryGetProperty("user_agent", out _), "raw user agent must not be stored");
        Assert.Equal(16, message.GetProperty("visitor").GetString()!.Length);

        var onlyA = await _host.GetJsonAsync("/api/v1/events?delta=3600&item_id=a&type=record-view");
        Assert.Equal(10, onlyA.GetProperty("total").GetInt32());
        Assert.All(onlyA.GetProperty("raw_messages").EnumerateArray(), m => Assert.Equal("a", m.GetProperty("data").GetProperty("item_id").GetString()));
    }

    [Fact]
    public async Task Types_health_and_openapi_describe_the_server()
    {
        var types = await _host.GetJsonAsync("/api/v1/types");
        var view = types.EnumerateArray().Single(t => t.GetProperty("name").GetString() == "record-view");
        Assert.Contains(view.GetProperty("fields").EnumerateArray(), f => f.GetProperty("name").GetString() == "item_id" && f.GetProperty("required").GetBoolean());
        Assert.Equal("ok", (await _host.GetJsonAsync("/healthz")).GetProperty("status").GetString());
        var openApi = await _host.GetJsonAsync("/openapi/v1.json");
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/api/v1/events", out _));
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/api/v1/stats/{query}/timeline", out _));
    }
}

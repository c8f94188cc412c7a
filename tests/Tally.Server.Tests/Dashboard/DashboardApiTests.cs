using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tally.Server.Hosting;
using Tally.Hosting;

namespace Tally.Server.Tests.Dashboard;

/// <summary>What the dashboard stands on, over real HTTP: its files, the live stream, saved queries, robot share and CSV.</summary>
public sealed partial class DashboardApiTests : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private const string Googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    private static readonly string Today = DateTime.UtcNow.ToString("yyyy-MM-dd");
    private TallyHost _host = null!;

    /// <summary>The built-in types, aggregations and queries: the ones the dashboard is made for.</summary>
    public async Task InitializeAsync() => _host = await TallyHost.StartAsync(DefaultTypes);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static void DefaultTypes(System.Text.Json.Nodes.JsonObject config)
    {
        config.Remove("eventTypes");
        config.Remove("aggregations");
        config.Remove("queries");
    }

    private static string View(string item, string userAgent = Browser, string? id = null) =>
        JsonSerializer.Serialize(new Dictionary<string, string?> { ["type"] = "record-view", ["item_id"] = item, ["user_agent"] = userAgent, ["id"] = id, ["ip"] = "10.1.2.3" }
            .Where(p => p.Value is not null).ToDictionary());

    private static string Download(string item) =>
        JsonSerializer.Serialize(new { type = "file-download", item_id = item, user_agent = Browser, ip = "10.1.2.4", size = 100 });

    private async Task PostAsync(params string[] events)
    {
        using var response = await _host.PostEventsAsync($"[{string.Join(',', events)}]");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string? key = TestConfig.WriteKey, string? accept = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        return await _host.Client.SendAsync(request);
    }

    private async Task<string> GetTextAsync(string path, string accept)
    {
        using var response = await SendAsync(HttpMethod.Get, path, key: null, accept: accept);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return text;
    }

    /// <summary>The problem's "errors" must name exactly this field.</summary>
    private static async Task AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var problem = await HttpKit.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }

    // ---- live updates ----

    private sealed class LiveStream(HttpResponseMessage response, IAsyncEnumerator<SseItem<string>> items) : IAsyncDisposable
    {
        public async Task<SseItem<string>> NextAsync(string skipping = "ping")
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (true)
            {
                var next = items.MoveNextAsync().AsTask();
                Assert.Same(next, await Task.WhenAny(next, Task.Delay(Timeout.Infinite, timeout.Token).ContinueWith(_ => { })));
                Assert.True(await next, "the stream ended");
                if (items.Current.EventType != skipping) return items.Current;
            }
        }

        public Task Completion(CancellationToken cancellationToken) => Task.Run(async () =>
        {
            while (await items.MoveNextAsync()) cancellationToken.ThrowIfCancellationRequested();
        }, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await items.DisposeAsync();
            response.Dispose();
        }
    }

    private async Task<LiveStream> OpenLiveAsync(HttpClient? client = null)
    {
        var response = await (client ?? _host.Client).GetAsync("/api/v1/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = await response.Content.ReadAsStreamAsync();
        var live = new LiveStream(response, SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator());
        var hello = await live.NextAsync();
        Assert.Equal("hello", hello.EventType);
        Assert.Equal(Today, JsonDocument.Parse(hello.Data).RootElement.GetProperty("today").GetString());
        return live;
    }

    private static List<(string Type, string Date, long Events, long Robots)> Counts(SseItem<string> item) =>
        JsonDocument.Parse(item.Data).RootElement.GetProperty("counts").EnumerateArray()
            .Select(c => (c.GetProperty("type").GetString()!, c.GetProperty("date").GetString()!, c.GetProperty("events").GetInt64(), c.GetProperty("robots").GetInt64()))
            .ToList();

    [Fact]
    public async Task The_live_stream_tells_each_stored_event_once_by_type_with_robots_apart_then_that_metrics_changed()
    {
        await using var live = await OpenLiveAsync();
        await PostAsync(View("a", id: "once"), View("a"), View("b", Googlebot), Download("a"));
        var stored = await live.NextAsync();
        Assert.Equal("stored", stored.EventType);
        Assert.Equal([("file-download", Today, 1, 0), ("record-view", Today, 2, 1)], Counts(stored));

        // A resent event is not stored again, so it is not told again.
        await PostAsync(View("a", id: "once"), View("c"));
        Assert.Equal([("record-view", Today, 1, 0)], Counts(await live.NextAsync()));

        await _host.AggregateAsync();
        var aggregated = await live.NextAsync();
        Assert.Equal("aggregated", aggregated.EventType);
        Assert.Equal(2, JsonDocument.Parse(aggregated.Data).RootElement.GetProperty("days").GetInt32());
        // What the view then reads is what the live counts added up to.
        var views = await _host.GetJsonAsync($"/api/v1/stats/record-view-histogram/timeline?days=1");
        Assert.Equal(3, views[0].GetProperty("value").GetInt64());
    }

    [Fact]
    public async Task A_query_node_tells_its_live_views_when_a_worker_has_aggregated()
    {
        await using var app = await TallyServer.BuildAsync(
            new TallyHostOptions(Path.Combine(_host.DataDirectory, "data"), _host.ConfigPath, Role: ServerRole.Query), "http://127.0.0.1:0");
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            await using var live = await OpenLiveAsync(client);
            // Events and the run happen in the other process (here: the all-in-one host over the same store).
            await PostAsync(View("a"));
            await _host.AggregateAsync();
            var aggregated = await live.NextAsync();
            Assert.Equal("aggregated", aggregated.EventType);
            Assert.True(JsonDocument.Parse(aggregated.Data).RootElement.TryGetProperty("last_run", out _));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task Stopping_the_server_ends_open_live_streams_rather_than_waiting_for_them()
    {
        await using var live = await OpenLiveAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ended = live.Completion(cancel.Token);
        var clock = Stopwatch.StartNew();
        await _host.StopKeepingDataAsync();
        await ended;
        // The host would otherwise wait out its 30 s shutdown timeout for the open request.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {clock.Elapsed}");
    }

    // ---- robot share ----

    [Fact]
    public async Task The_with_robots_histograms_count_what_the_others_filter_out_and_the_list_says_which_is_which()
    {
        await PostAsync(View("a"), View("a"), View("b", Googlebot), View("c", "python-requests/2.32.3"), Download("a"));
        await _host.AggregateAsync();
        var humans = await _host.GetJsonAsync("/api/v1/stats/record-view-histogram/timeline?days=1");
        var all = await _host.GetJsonAsync("/api/v1/stats/record-view-with-robots-histogram/timeline?days=1");
        Assert.Equal((2, 4), (humans[0].GetProperty("value").GetInt64(), all[0].GetProperty("value").GetInt64()));

        var queries = (await _host.GetJsonAsync("/api/v1/stats")).EnumerateArray().ToDictionary(q => q.GetProperty("name").GetString()!);
        Assert.True(queries["record-view-with-robots-histogram"].GetProperty("include_robots").GetBoolean());
        Assert.False(queries["record-view-histogram"].GetProperty("include_robots").GetBoolean());
        Assert.Equal(["item_id", "country", "institution"], queries["record-view-places"].GetProperty("filters").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(["item_id country", "item_id institution", "country institution"],
            queries["record-view-places"].GetProperty("groupings").EnumerateArray().Select(g => string.Join(' ', g.EnumerateArray().Select(f => f.GetString()))));
    }

    [Fact]
    public async Task Places_answer_any_two_of_their_fields_together_and_refuse_all_three_naming_the_filter()
    {
        await PostAsync(View("a"), View("a"), View("b"));
        await _host.AggregateAsync();
        // The item page's question: where item a is read, by country and by institution.
        var byCountry = await _host.GetJsonAsync("/api/v1/stats/record-view-places/totals?days=1&item_id=a");
        Assert.Equal(2, byCountry.GetProperty("items").EnumerateArray().Sum(r => r.GetProperty("count").GetInt64()));
        var byInstitution = await _host.GetJsonAsync("/api/v1/stats/record-view-places/totals?days=1&item_id=a&groupBy=institution");
        Assert.Equal(2, byInstitution.GetProperty("items").EnumerateArray().Sum(r => r.GetProperty("count").GetInt64()));
        // The places' country ranking filtered by item and institution would need all three fields: refused, also in a timeline's filters.
        using var refused = await SendAsync(HttpMethod.Get, "/api/v1/stats/record-view-places/totals?days=1&item_id=a&institution=x", key: null);
        await AssertProblemAsync(refused, "institution");
        using var timeline = await SendAsync(HttpMethod.Get, "/api/v1/stats/record-view-places/timeline?days=1&item_id=a&country=DE&not_institution=x", key: null);
        await AssertProblemAsync(timeline, "not_institution");
        // Hostile values do not change the answer: a long value repeated (within the request line's limit), and a broken
        // percent-encoding, still name the filter.
        var huge = string.Concat(Enumerable.Repeat("%E2%82%AC", 200));
        var many = string.Concat(Enumerable.Repeat($"&institution={huge}", 3));
        using var hostile = await SendAsync(HttpMethod.Get, $"/api/v1/stats/record-view-places/totals?days=1&item_id=%ZZ%C3{many}", key: null);
        await AssertProblemAsync(hostile, "institution");
    }

    // ---- saved queries ----

    [Fact]
    public async Task A_saved_query_answers_as_its_stat_does_in_JSON_and_CSV_and_parameters_in_the_URL_override_the_saved_ones()
    {
        await PostAsync(View("a"), View("a"), View("b"));
        await _host.AggregateAsync();
        using (var created = await SendAsync(HttpMethod.Put, "/api/v1/queries/top-items",
                   """{"title":"Top items","stat":"record-view-top","params":{"days":30,"count":5},"chart":"bar"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("/api/v1/queries/top-items", created.Headers.Location?.OriginalString);
            var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(("totals", "/embed/top-items", "/api/v1/queries/top-items/result"),
                (body.GetProperty("view").GetString(), body.GetProperty("links").GetProperty("embed").GetString(), body.GetProperty("links").GetProperty("result").GetString()));
        }

        foreach (var accept in new[] { "application/json", "text/csv" })
        {
            Assert.Equal(await GetTextAsync("/api/v1/stats/record-view-top/totals?days=30&count=5", accept),
                await GetTextAsync("/api/v1/queries/top-items/result", accept));
            Assert.Equal(await GetTextAsync("/api/v1/stats/record-view-top/totals?days=30&count=1", accept),
                await GetTextAsync("/api/v1/queries/top-items/result?count=1", accept));
        }
        // A date given in the URL replaces the saved relative range instead of contradicting it.
        Assert.Equal(await GetTextAsync($"/api/v1/stats/record-view-top/totals?dateStart={Today}&count=5", "text/csv"),
            await GetTextAsync($"/api/v1/queries/top-items/result?dateStart={Today}", "text/csv"));
        using var wrong = await SendAsync(HttpMethod.Get, "/api/v1/queries/top-items/result?interval=week", key: null);
        await AssertProblemAsync(wrong, "interval");
    }

    [Fact]
    public async Task Saved_queries_are_listed_replaced_kept_across_a_restart_and_deleted()
    {
        (await SendAsync(HttpMethod.Put, "/api/v1/queries/views", """{"stat":"record-view-histogram","params":{"interval":"month"},"chart":"line"}""")).Dispose();
        DateTime created;
        using (var replaced = await SendAsync(HttpMethod.Put, "/api/v1/queries/views",
                   """{"title":"Views per day","stat":"record-view-histogram","params":{"days":"7"},"chart":"area"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
            var body = JsonDocument.Parse(await replaced.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(("Views per day", "area"), (body.GetProperty("title").GetString(), body.GetProperty("chart").GetString()));
            Assert.Equal("""{"days":"7"}""", body.GetProperty("params").GetRawText());
            created = body.GetProperty("created").GetDateTime();
            Assert.True(body.GetProperty("updated").GetDateTime() > created);
        }

        _host = await _host.RestartAsync();
        var listed = Assert.Single((await _host.GetJsonAsync("/api/v1/queries")).EnumerateArray());
        Assert.Equal(("views", created), (listed.GetProperty("name").GetString(), listed.GetProperty("created").GetDateTime()));
        Assert.Equal("name,title,stat,view,chart,params,result,embed,updated", (await GetTextAsync("/api/v1/queries", "text/csv")).Split("\r\n")[0]);

        using (var anonymous = await SendAsync(HttpMethod.Delete, "/api/v1/queries/views", key: null))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var deleted = await SendAsync(HttpMethod.Delete, "/api/v1/queries/views"))
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        foreach (var path in new[] { "/api/v1/queries/views", "/api/v1/queries/views/result" })
        {
            using var gone = await SendAsync(HttpMethod.Get, path, key: null);
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
        using (var again = await SendAsync(HttpMethod.Delete, "/api/v1/queries/views"))
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Theory]
    [InlineData("ok", """{"stat":"nope","chart":"bar"}""", "stat")]
    [InlineData("ok", """{"chart":"bar"}""", "stat")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"donut"}""", "chart")]
    [InlineData("ok", """{"stat":"record-view-top"}""", "chart")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","view":"list"}""", "view")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","params":{"interval":"week"}}""", "params.interval")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","params":{"days":7,"dateStart":"2026-01-01"}}""", "params.days")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","params":{"colour":"red"}}""", "params.colour")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","params":[1]}""", "params")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","params":{"country":{"a":1}}}""", "params")]
    [InlineData("ok", """{"stat":"record-view-top","chart":"bar","colour":"red"}""", "colour")]
    [InlineData("ok", """{"stat":7,"chart":"bar"}""", "stat")]
    [InlineData("ok", """[1,2]""", "body")]
    [InlineData("ok", """{"stat":""", "body")]
    [InlineData("-starts-with-dash", """{"stat":"record-view-top","chart":"bar"}""", "name")]
    [InlineData("has space", """{"stat":"record-view-top","chart":"bar"}""", "name")]
    public async Task A_bad_saved_query_is_refused_naming_the_field_and_nothing_is_saved(string name, string body, string field)
    {
        using var response = await SendAsync(HttpMethod.Put, $"/api/v1/queries/{Uri.EscapeDataString(name)}", body);
        await AssertProblemAsync(response, field);
        Assert.Equal(0, (await _host.GetJsonAsync("/api/v1/queries")).GetArrayLength());
    }

    [Fact]
    public async Task Saving_needs_a_write_key()
    {
        using var anonymous = await SendAsync(HttpMethod.Put, "/api/v1/queries/views", """{"stat":"record-view-top","chart":"bar"}""", key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var unknown = await SendAsync(HttpMethod.Put, "/api/v1/queries/views", """{"stat":"record-view-top","chart":"bar"}""", key: "not-a-key-0123456789");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal(0, (await _host.GetJsonAsync("/api/v1/queries")).GetArrayLength());
    }

    // ---- item names ----

    [Fact]
    public async Task Several_items_are_looked_up_at_once_and_unknown_ones_are_left_out_rather_than_a_404()
    {
        using (var put = await SendAsync(HttpMethod.Put, "/api/v1/items/a", """{"name":"Ocean survey","doi":"10.5555/a"}"""))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var known = await _host.GetJsonAsync("/api/v1/items?id=a&id=unknown&id=a");
        var item = Assert.Single(known.EnumerateObject());
        Assert.Equal(("a", "Ocean survey", "10.5555/a"), (item.Name, item.Value.GetProperty("name").GetString(), item.Value.GetProperty("doi").GetString()));
        Assert.Empty((await _host.GetJsonAsync("/api/v1/items?id=unknown")).EnumerateObject());

        var tooMany = string.Join('&', Enumerable.Range(0, 101).Select(i => $"id=i{i}"));
        foreach (var query in new[] { "", "?id=", $"?{tooMany}" })
        {
            using var response = await SendAsync(HttpMethod.Get, $"/api/v1/items{query}", key: null);
            await AssertProblemAsync(response, "id");
        }
    }

    // ---- COUNTER as CSV ----

    [Fact]
    public async Task A_SUSHI_report_as_CSV_holds_the_same_cells_as_its_TSV()
    {
        await PostAsync(View("a"), Download("a"));
        await _host.AggregateAsync();
        var month = DateTime.UtcNow.ToString("yyyy-MM");
        var path = $"/r51/reports/pr?customer_id=0000000000000000&begin_date={month}&end_date={month}";
        static string[] Lines(string text) => text.TrimStart('\uFEFF')[..^2].Split("\r\n");
        var tsv = Lines(await GetTextAsync(path, "text/tab-separated-values"));
        var csv = Lines(await GetTextAsync(path, "text/csv"));
        // Created is the time of each answer, and values with ';' are quoted; both forms pad every row to the table's width.
        static string[] Cells(string line, char separator) => line.Split(separator).Select(c => c.Trim('"')).ToArray();
        Assert.Equal(tsv.Length, csv.Length);
        for (var i = 0; i < tsv.Length; i++)
        {
            if (tsv[i].StartsWith("Created\t", StringComparison.Ordinal) || tsv[i].Contains("Report_Filters", StringComparison.Ordinal) || tsv[i].Contains("Report_Attributes", StringComparison.Ordinal)) continue;
            Assert.Equal(Cells(tsv[i], '\t'), Cells(csv[i], ','));
        }
        Assert.Contains(csv, line => line.StartsWith("Platform,", StringComparison.Ordinal) && line.Contains(",Metric_Type,Reporting_Period_Total,", StringComparison.Ordinal));
        Assert.Contains(csv, line => line.EndsWith(",Total_Item_Requests,1,1", StringComparison.Ordinal));
    }

    // ---- the dashboard's files ----

    [Theory]
    [InlineData("/")]
    [InlineData("/items/record-00042")]
    [InlineData("/counter")]
    [InlineData("/events")]
    [InlineData("/queries")]
    public async Task Every_dashboard_page_is_the_app_with_a_policy_that_only_allows_this_server(string path)
    {
        using var response = await _host.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var policy = string.Join("", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", policy);
        Assert.Contains("frame-ancestors 'self'", policy);
        var html = await response.Content.ReadAsStringAsync();
        // Every script, style and icon comes from this server, so the page works with no network.
        var references = Reference().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("/assets/vendor/echarts.min.js", references);
        Assert.All(references, r => Assert.DoesNotMatch("^(?:[a-z]+:)?//", r));
        foreach (var reference in references.Where(r => r.StartsWith("/assets/", StringComparison.Ordinal)))
        {
            using var asset = await _host.Client.GetAsync(reference);
            Assert.True(asset.IsSuccessStatusCode, $"{reference} answered {(int)asset.StatusCode}");
        }
    }

    [Fact]
    public async Task The_embed_page_may_be_framed_by_other_sites()
    {
        using var response = await _host.Client.GetAsync("/embed/anything");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("frame-ancestors *", string.Join("", response.Headers.GetValues("Content-Security-Policy")));
    }

    [Fact]
    public async Task Assets_are_sent_gzipped_when_asked_and_revalidate_to_304_while_unchanged()
    {
        using var plain = new HttpClient { BaseAddress = _host.Client.BaseAddress };
        using var first = await plain.GetAsync("/assets/vendor/echarts.min.js");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("text/javascript", first.Content.Headers.ContentType?.MediaType);
        var size = (await first.Content.ReadAsByteArrayAsync()).Length;
        Assert.True(size > 500_000, $"echarts.min.js is {size} bytes");

        using var zipped = new HttpRequestMessage(HttpMethod.Get, "/assets/vendor/echarts.min.js");
        zipped.Headers.AcceptEncoding.ParseAdd("gzip");
        using var compressed = await plain.SendAsync(zipped);
        Assert.Equal(["gzip"], compressed.Content.Headers.ContentEncoding);
        Assert.True((await compressed.Content.ReadAsByteArrayAsync()).Length < size / 2);

        Assert.NotEqual(first.Headers.ETag, compressed.Headers.ETag);

        // A list of tags, or a weak one as a proxy may make of it, revalidates too.
        var plainTag = first.Headers.ETag!.Tag;
        foreach (var (ifNoneMatch, gzip) in new[] { (plainTag, false), ($"\"other\", {plainTag}", false), ($"W/{compressed.Headers.ETag!.Tag}", true) })
        {
            using var again = new HttpRequestMessage(HttpMethod.Get, "/assets/vendor/echarts.min.js");
            again.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
            if (gzip) again.Headers.AcceptEncoding.ParseAdd("gzip");
            using var unchanged = await plain.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        }
    }

    [Theory]
    [InlineData("/assets/nothing-here.js")]
    [InlineData("/assets/..%2Ftally.json")]
    [InlineData("/assets/vendor/..%2F..%2Fappsettings.json")]
    [InlineData("/assets/%2Fetc%2Fpasswd")]
    public async Task Only_dashboard_files_are_served_from_assets(string path)
    {
        using var response = await _host.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [GeneratedRegex("""(?:src|href)="([^"]+)""")]
    private static partial Regex Reference();
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Ingest;

namespace Tally.Server.Tests;

/// <summary>
/// The faults a hostile-input campaign found, each as a user would meet it: requests that overflow dates or
/// ask for centuries get a 4xx at once, broken encodings are refused whole, what is stored can always be
/// read back, and no type keeps a raw IP.
/// </summary>
public sealed class BoundedRequestTests : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private TallyHost _host = null!;

    public async Task InitializeAsync() => _host = await TallyHost.StartAsync(config =>
    {
        // The built-in types (the bus's "message" type among them), as a new user has them.
        config.Remove("eventTypes");
        config.Remove("aggregations");
        config.Remove("queries");
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, string? key = TestConfig.WriteKey)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return _host.Client.SendAsync(request);
    }

    private static ByteArrayContent Bytes(byte[] body, string? encoding = null)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (encoding is not null) content.Headers.ContentEncoding.Add(encoding);
        return content;
    }

    private static string Lines(int count) =>
        string.Join('\n', Enumerable.Range(0, count).Select(i => $$"""{"type":"record-view","item_id":"gz-{{i}}","user_agent":"{{Browser}}"}"""));

    [Theory]
    [InlineData("/r51/reports/ir?customer_id=0000000000000000&begin_date=0001-01&end_date=9999-12")]
    [InlineData("/r51/reports/ir?customer_id=0000000000000000&begin_date=1900-01&end_date=1900-12")]
    [InlineData("/r51/reports/pr?customer_id=0000000000000000&begin_date=9999-11&end_date=9999-12")]
    [InlineData("/r51/reports/tr?customer_id=0000000000000000&begin_date=2000-01&end_date=2026-12")]
    public async Task Sushi_requests_outside_the_window_or_too_wide_get_exception_3020_at_once(string path)
    {
        var started = DateTime.UtcNow;
        using var response = await _host.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var exception = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(3020, exception.GetProperty("Code").GetInt32());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2));
    }

    [Theory]
    [InlineData("/api/v1/stats/record-view-histogram/timeline?dateStart=0001-01-01&dateEnd=9999-11-30&interval=day", "dateStart")]
    [InlineData("/api/v1/stats/record-view-histogram/timeline?dateEnd=9999-12-31", "dateEnd")]
    [InlineData("/api/v1/stats/record-view-top/totals?dateStart=1995-01-01&dateEnd=2026-01-01", "dateStart")]
    [InlineData("/api/v1/stats/record-view-top/totals?days=99999", "days")]
    [InlineData("/api/v1/events?start=1e300", "start")]
    [InlineData("/api/v1/events?start=NaN", "start")]
    [InlineData("/api/v1/events?end=0001-01-01T00:00:00Z", "end")]
    [InlineData("/api/v1/events?start=2020-01-01T00:00:00Z", "start")]
    [InlineData("/api/v1/events?delta=2147483647", "delta")]
    [InlineData("/api/v1/events?page=2147483647", "page")]
    public async Task Overflowing_or_too_wide_dates_are_400s_naming_the_parameter(string path, string parameter)
    {
        var problem = await HttpKit.ProblemAsync(await _host.Client.GetAsync(path), HttpStatusCode.BadRequest, parameter);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task A_gzip_body_cut_short_is_refused_whole_never_taken_as_a_shorter_batch()
    {
        var whole = HttpKit.Gzip(Lines(3));
        var cut = HttpKit.Gzip(Lines(3))[..^6];
        await HttpKit.ProblemAsync(await SendAsync(HttpMethod.Post, "/api/v1/events", Bytes(cut, "gzip")), HttpStatusCode.BadRequest, "body");
        var corrupt = (byte[])whole.Clone();
        corrupt[^7] ^= 0x5a;
        await HttpKit.ProblemAsync(await SendAsync(HttpMethod.Post, "/api/v1/events", Bytes(corrupt, "gzip")), HttpStatusCode.BadRequest, "body");
        await HttpKit.ProblemAsync(await SendAsync(HttpMethod.Post, "/api/v1/events", Bytes(Encoding.UTF8.GetBytes(Lines(3)), "gzip")), HttpStatusCode.BadRequest, "body");
        await HttpKit.ProblemAsync(await SendAsync(HttpMethod.Post, "/api/v1/events", Bytes(whole, "br")), HttpStatusCode.UnsupportedMediaType, "Content-Encoding");
        Assert.Equal(0, await _host.RecentEventCountAsync());

        using var accepted = await SendAsync(HttpMethod.Post, "/api/v1/events", Bytes(whole, "gzip"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(3, await _host.RecentEventCountAsync());
    }

    [Theory]
    [InlineData("POST", "/api/v1/stats", null)]
    [InlineData("PUT", "/api/v1/items", TestConfig.WriteKey)]
    [InlineData("PUT", "/api/v1/items/record-1", TestConfig.WriteKey)]
    [InlineData("PUT", "/api/v1/queries/q1", TestConfig.WriteKey)]
    public async Task Json_bodies_that_are_not_text_are_400s_on_every_endpoint(string method, string path, string? key)
    {
        var invalidUtf8 = "{\"a\":\"x\xff\"}"u8.ToArray();
        invalidUtf8[7] = 0xff;
        await HttpKit.ProblemAsync(await SendAsync(new HttpMethod(method), path, Bytes(invalidUtf8), key), HttpStatusCode.BadRequest, "body");
        await HttpKit.ProblemAsync(await SendAsync(new HttpMethod(method), path, Bytes("""{"name":"\udfff"}"""u8.ToArray()), key), HttpStatusCode.BadRequest, "name");
        await HttpKit.ProblemAsync(await SendAsync(new HttpMethod(method), path, Bytes("""{"name":"a\u0000b"}"""u8.ToArray()), key), HttpStatusCode.BadRequest, "name");
        await HttpKit.ProblemAsync(await SendAsync(new HttpMethod(method), path, Bytes(Encoding.UTF8.GetBytes(new string('[', 10_000))), key), HttpStatusCode.BadRequest, "body");
        await HttpKit.ProblemAsync(await SendAsync(new HttpMethod(method), path, Bytes("""{"name":"trunc"""u8.ToArray()), key), HttpStatusCode.BadRequest, "body");
    }

    [Fact]
    public async Task A_huge_user_agent_is_one_rejected_event_and_its_batch_keeps_the_good_ones()
    {
        var huge = new string('A', 5_000_000);
        var body = $$"""[{"type":"record-view","item_id":"ok-1"},{"type":"record-view","item_id":"bad","user_agent":"{{huge}}"},{"type":"record-view","item_id":"ok-2"}]""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
        // The default body limit (16 MB) admits it; the value limit (ingest.maxValueLength) decides.
        using var response = await _host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, result.GetProperty("stored").GetInt32());
        var rejected = Assert.Single(result.GetProperty("rejected").EnumerateArray());
        Assert.Equal("user_agent", rejected.GetProperty("field").GetString());
        Assert.Contains("4096", rejected.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Undeclared_fields_that_are_not_text_or_too_long_are_rejected_by_name()
    {
        using var response = await _host.PostEventsAsync($$$"""
            {"type":"record-view","item_id":"a","note":"\udfff"}
            {"type":"record-view","item_id":"b","nested":{"deep":["ok","a\u0000b"]}}
            {"type":"record-view","item_id":"c","{{{new string('p', 200)}}}":1}
            {"type":"record-view","item_id":"d","url":"{{{new string('u', 5000)}}}"}
            {"type":"record-view","item_id":"kept","note":"fine é ✓"}
            """, contentType: "application/x-ndjson");
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, result.GetProperty("stored").GetInt32());
        Assert.Equal(["note", "nested", new string('p', 64) + "…", "url"],
            result.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("field").GetString()));
        var page = await _host.GetJsonAsync("/api/v1/events?delta=3600");
        Assert.Equal("fine é ✓", page.GetProperty("raw_messages")[0].GetProperty("data").GetProperty("note").GetString());
    }

    [Fact]
    public async Task Rows_stored_before_the_door_checked_them_are_still_served()
    {
        // Written straight to the store, as an older Tally accepted them: a lone surrogate and an address among the undeclared fields.
        var type = _host.Get<TallySchema>().EventTypes["message"];
        var values = new object?[type.Fields.Count];
        values[type.OrdinalOf("topic")] = "org.example.old";
        var old = new TallyEvent(type, "old-poison", DateTime.UtcNow.AddMinutes(-1), values, """{"note":"\udfff","ip":"198.51.100.23","peer":{"addr":"198.51.100.24","n":1}}""");
        await _host.Get<GroupCommitWriter>().WriteAsync([old], CancellationToken.None);

        var page = await _host.GetJsonAsync("/api/v1/events?delta=3600&type=message");
        var data = page.GetProperty("raw_messages")[0].GetProperty("data");
        Assert.Equal("\uFFFD", data.GetProperty("note").GetString());
        Assert.False(data.TryGetProperty("ip", out _));
        Assert.Equal("""{"n":1}""", data.GetProperty("peer").GetRawText());
        using var csv = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events?delta=3600&type=message");
        csv.Headers.Accept.ParseAdd("text/csv");
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.SendAsync(csv)).StatusCode);
    }

    [Fact]
    public async Task No_type_keeps_a_raw_ip_by_default_not_even_a_bus_message()
    {
        using var response = await _host.PostEventsAsync("""
            {"type":"message","topic":"org.example.a","ip":"203.0.113.77","body":{"client":"203.0.113.78","hops":["2001:db8::77"],"user_agent":"curl/8"}}
            {"type":"record-view","item_id":"r1","ip":"203.0.113.79","user_agent":"curl/8","note":"203.0.113.80"}
            """, contentType: "application/x-ndjson");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(2, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("stored").GetInt32());
        var page = await _host.GetJsonAsync("/api/v1/events?delta=3600");
        Assert.Equal("org.example.a", page.GetProperty("raw_messages").EnumerateArray().Single(m => m.GetProperty("type").GetString() == "message")
            .GetProperty("data").GetProperty("topic").GetString());
        var served = page.GetRawText();
        foreach (var address in (string[])["203.0.113.77", "203.0.113.78", "2001:db8::77", "203.0.113.79", "203.0.113.80"])
            Assert.DoesNotContain(address, served);

        await _host.StopKeepingDataAsync();
        foreach (var file in Directory.EnumerateFiles(_host.DataDirectory, "*", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            foreach (var address in (string[])["203.0.113.77", "203.0.113.78", "203.0.113.79", "203.0.113.80"])
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(address)) < 0, $"{address} is at rest in {file}");
        }
        _host = await _host.RestartAsync();
    }

    [Fact]
    public async Task One_request_cannot_scatter_events_over_centuries_or_more_periods_than_allowed()
    {
        var months = Enumerable.Range(0, 100).Select(i => new DateTime(2015, 1, 15, 12, 0, 0, DateTimeKind.Utc).AddMonths(i));
        var body = string.Join('\n', months.Select((m, i) => $$"""{"type":"record-view","item_id":"m{{i}}","timestamp":"{{m:yyyy-MM-ddTHH:mm:ssZ}}"}"""))
            + "\n" + """{"type":"record-view","item_id":"ancient","timestamp":"1049-06-01T00:00:00Z"}""";
        using var response = await _host.PostEventsAsync(body, contentType: "application/x-ndjson");
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(64, result.GetProperty("stored").GetInt32());
        var rejected = result.GetProperty("rejected").EnumerateArray().ToList();
        Assert.Equal(37, rejected.Count);
        Assert.All(rejected, r => Assert.Equal("timestamp", r.GetProperty("field").GetString()));
        Assert.Contains("ingest.maxPartitionsPerRequest", rejected[0].GetProperty("reason").GetString());
        Assert.Contains("ingest.earliestDate", rejected[^1].GetProperty("reason").GetString());

        await _host.AggregateAsync();
        var reports = await _host.GetJsonAsync("/r51/reports");
        Assert.Equal("2015-01", reports[0].GetProperty("First_Month_Available").GetString());
    }

    [Fact]
    public async Task Sushi_without_credentials_is_flagged_by_check()
    {
        await _host.StopKeepingDataAsync();
        var (exit, output, _) = await TallyProcess.RunAsync(_host.DataDirectory, "check", "--data", Path.Combine(_host.DataDirectory, "data"), "--config", _host.ConfigPath);
        Assert.Equal(0, exit);
        Assert.Contains("counter.credentials is empty", output);
        _host = await _host.RestartAsync();
    }
}

/// <summary>Anonymous reads are rate-limited per address, with Retry-After; a known key is not limited.</summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private TallyHost _host = null!;

    public async Task InitializeAsync() => _host = await TallyHost.StartAsync(config =>
        config["limits"] = new JsonObject { ["anonymousRequestsPerMinute"] = 3 });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task The_request_past_the_limit_gets_429_with_retry_after_and_sushi_gets_exception_1020()
    {
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync("/api/v1/stats")).StatusCode);
        using var limited = await _host.Client.GetAsync("/api/v1/stats");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero, limited.Headers.ToString());
        Assert.Contains("limits.anonymousRequestsPerMinute", await limited.Content.ReadAsStringAsync());

        using var sushi = await _host.Client.GetAsync("/r51/status");
        Assert.Equal(HttpStatusCode.TooManyRequests, sushi.StatusCode);
        Assert.Equal(1020, JsonDocument.Parse(await sushi.Content.ReadAsStringAsync()).RootElement.GetProperty("Code").GetInt32());

        using var keyed = new HttpRequestMessage(HttpMethod.Get, "/api/v1/stats");
        keyed.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.SendAsync(keyed)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync("/healthz")).StatusCode);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests;

/// <summary>Every kind of bad input gets a clear problem+json answer naming the field, and nothing valid is lost.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private TallyHost _host = null!;

    public async Task InitializeAsync() => _host = await TallyHost.StartAsync(config =>
        config["ingest"] = new JsonObject { ["maxBodyBytes"] = 4096, ["maxEventsPerRequest"] = 20 });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_batch_keeps_its_valid_events_and_lists_each_rejected_one_by_index_field_and_reason()
    {
        var future = DateTime.UtcNow.AddDays(2).ToString("O");
        using var response = await _host.PostEventsAsync($$"""
            [{"type":"record-view","item_id":"ok-1","user_agent":"{{Browser}}"},
             {"type":"no-such-type","item_id":"x"},
             {"type":"record-view"},
             {"type":"record-view","item_id":"x","timestamp":"yesterday"},
             {"type":"record-view","item_id":"x","timestamp":"{{future}}"},
             {"type":"file-download","item_id":"x","size":"big"},
             {"type":"file-download","item_id":"ok-2","size":10}]
            """);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(7, result.GetProperty("received").GetInt32());
        Assert.Equal(2, result.GetProperty("stored").GetInt32());
        var rejected = result.GetProperty("rejected").EnumerateArray()
            .Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("field").GetString(), r.GetProperty("reason").GetString()!)).ToList();
        Assert.Equal([1, 2, 3, 4, 5], rejected.Select(r => r.Item1));
        Assert.Equal(["type", "item_id", "timestamp", "timestamp", "size"], rejected.Select(r => r.Item2));
        Assert.All(rejected, r => Assert.False(string.IsNullOrWhiteSpace(r.Item3)));
        Assert.Equal(2, await _host.RecentEventCountAsync());
    }

    [Fact]
    public async Task A_body_with_no_valid_event_is_a_validation_problem_naming_the_field()
    {
        var problem = await HttpKit.ProblemAsync(await _host.PostEventsAsync("""{"type":"record-view","user_agent":"x"}"""), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("item_id", out _), problem.ToString());

        problem = await HttpKit.ProblemAsync(await _host.PostEventsAsync("""{"type":"disabled-or-unknown","item_id":"a"}"""), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("type", out _), problem.ToString());
        Assert.Equal(0, await _host.RecentEventCountAsync());
    }

    [Fact]
    public async Task Malformed_json_is_a_problem_that_says_where()
    {
        var problem = await HttpKit.ProblemAsync(await _host.PostEventsAsync("""{"type":"record-view","item_id": """), HttpStatusCode.BadRequest);
        Assert.Contains("line 1", problem.GetProperty("detail").GetString());
        await HttpKit.ProblemAsync(await _host.PostEventsAsync("not json at all"), HttpStatusCode.BadRequest);
        Assert.Equal(0, await _host.RecentEventCountAsync());
    }

    [Fact]
    public async Task Oversize_bodies_and_batches_are_refused_whole_with_413()
    {
        var big = string.Join('\n', Enumerable.Range(0, 100).Select(i => $$"""{"type":"record-view","item_id":"item-{{i}}"}"""));
        var problem = await HttpKit.ProblemAsync(await _host.PostEventsAsync(big), HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("maxBodyBytes", problem.GetProperty("detail").GetString());

        var many = string.Join('\n', Enumerable.Range(0, 21).Select(i => $$"""{"type":"record-view","item_id":"{{i}}"}"""));
        problem = await HttpKit.ProblemAsync(await _host.PostEventsAsync(many), HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("maxEventsPerRequest", problem.GetProperty("detail").GetString());
        Assert.Equal(0, await _host.RecentEventCountAsync());
    }

    [Fact]
    public async Task Writing_needs_a_key_and_admin_tasks_need_an_admin_key()
    {
        using var anonymous = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent("""{"type":"record-view","item_id":"a"}""") };
        await HttpKit.ProblemAsync(await _host.Client.SendAsync(anonymous), HttpStatusCode.Unauthorized);
        await HttpKit.ProblemAsync(await _host.PostEventsAsync("""{"type":"record-view","item_id":"a"}""", key: "wrong-key-wrong-key"), HttpStatusCode.Unauthorized);

        using var aggregate = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/aggregate");
        aggregate.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
        await HttpKit.ProblemAsync(await _host.Client.SendAsync(aggregate), HttpStatusCode.Forbidden);
        Assert.Equal(0, await _host.RecentEventCountAsync());
    }

    [Theory]
    [InlineData("/api/v1/stats/record-view-top/totals?dateStart=2026-13-01", "dateStart")]
    [InlineData("/api/v1/stats/record-view-top/totals?dateStart=2026-02-01&dateEnd=2026-01-01", "dateStart")]
    [InlineData("/api/v1/stats/record-view-top/totals?count=0", "count")]
    [InlineData("/api/v1/stats/record-view-histogram/timeline?interval=week", "interval")]
    [InlineData("/api/v1/stats/record-view-histogram/timeline?colour=red", "colour")]
    [InlineData("/api/v1/events?rows_per_page=1000", "rows_per_page")]
    [InlineData("/api/v1/events?start=soon", "start")]
    [InlineData("/api/v1/events?type=nope", "type")]
    [InlineData("/api/v1/events?colour=red", "colour")]
    public async Task Bad_query_parameters_are_named_in_the_problem(string path, string parameter)
    {
        var problem = await HttpKit.ProblemAsync(await _host.Client.GetAsync(path), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), problem.ToString());
    }

    [Fact]
    public async Task Unknown_queries_and_paths_are_404_problems()
    {
        await HttpKit.ProblemAsync(await _host.Client.GetAsync("/api/v1/stats/nope/totals"), HttpStatusCode.NotFound);
        await HttpKit.ProblemAsync(await _host.Client.GetAsync("/api/v1/nothing-here"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Invenio_stats_with_a_bad_alias_names_it()
    {
        using var response = await _host.Client.PostAsync("/api/v1/stats",
            new StringContent("""{"views":{"stat":"nope"}}""", Encoding.UTF8, "application/json"));
        var problem = await HttpKit.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("views.stat", out _), problem.ToString());

        using var badParams = await _host.Client.PostAsync("/api/v1/stats",
            new StringContent("""{"views":{"stat":"record-view-histogram","params":{"interval":"hourly"}}}""", Encoding.UTF8, "application/json"));
        problem = await HttpKit.ProblemAsync(badParams, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("views.params.interval", out _), problem.ToString());
    }
}

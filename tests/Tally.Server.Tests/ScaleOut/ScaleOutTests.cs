using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Server.Tests.Bus;

namespace Tally.Server.Tests.ScaleOut;

/// <summary>
/// Tally scaled out as docs/scale-out.md describes: ingest nodes queue events in RabbitMQ, worker processes
/// store them in a shared PostgreSQL database or two-shard ClickHouse cluster, and a query node
/// serves the API, each its own process.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ScaleOutTests
{
    private const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

    /// <summary>A test configuration over a new, empty shared store and a new queue.</summary>
    private static async Task<(string Root, string Config, string Queue)> ClusterConfigAsync(string engine = "postgres")
    {
        var root = TestPaths.NewTempDirectory();
        var queue = Broker.NewQueue();
        var connection = engine == "postgres"
            ? await SharedDatabase.CreateAsync()
            : $"{ClickHouseServers.Node}?database=s_{Guid.NewGuid():N}&cluster={ClickHouseServers.Cluster}&shards={ClickHouseServers.Shards}";
        var config = TestConfig.Write(root, c =>
        {
            c["storage"] = new JsonObject { ["engine"] = engine, ["connection"] = connection };
            c["queue"] = new JsonObject { ["uri"] = Broker.Uri, ["exchange"] = queue, ["name"] = queue, ["prefetch"] = 20 };
            c["schedule"] = new JsonObject { ["aggregateEverySeconds"] = 3600 };
        });
        return (root, config, queue);
    }

    private static Task<TallyProcess> ServeAsync(string root, string config, string role, string name) =>
        TallyProcess.ServeAsync(root, Path.Combine(root, name), config, "--role", role);

    private static string Batch(int first, int count) => string.Concat(Enumerable.Range(first, count).Select(i =>
        $$"""{"type":"record-view","id":"load-{{i}}","timestamp":"{{DateTime.UtcNow.AddMinutes(-(i % 50)):O}}","item_id":"item-{{i % 37}}","ip":"198.51.100.{{i % 250}}","user_agent":"{{Firefox}}","user_id":"u{{i % 400}}"}""" + "\n"));

    private static HttpClient Client(string url, string key = TestConfig.WriteKey)
    {
        var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static async Task<long> StoredAsync(HttpClient query)
    {
        using var json = JsonDocument.Parse(await query.GetStringAsync("/api/v1/events?type=record-view&delta=864000&rows_per_page=1"));
        return json.RootElement.GetProperty("total").GetInt64();
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("clickhouse")]
    public async Task Two_ingest_nodes_and_two_workers_under_load_lose_nothing_and_count_nothing_twice_when_a_worker_is_killed(string engine)
    {
        var (root, config, queue) = await ClusterConfigAsync(engine);
        // The first worker sets the schema up; the others start against it.
        using var firstWorker = await ServeAsync(root, config, "worker", "worker-1");
        var rest = await Task.WhenAll(
            ServeAsync(root, config, "worker", "worker-2"), ServeAsync(root, config, "ingest", "ingest-1"),
            ServeAsync(root, config, "ingest", "ingest-2"), ServeAsync(root, config, "query", "query"));
        using var secondWorker = rest[0];
        using var ingest1 = rest[1];
        using var ingest2 = rest[2];
        using var queryNode = rest[3];
        await Broker.WaitForConsumersAsync(queue, 2);
        var ingests = new[] { Client(ingest1.Url), Client(ingest2.Url) };
        using var query = Client(queryNode.Url, TestConfig.AdminKey);

        const int Requests = 200, PerRequest = 100, Total = Requests * PerRequest;
        var accepted = 0;
        var killed = false;
        var load = Enumerable.Range(0, 4).Select(sender => Task.Run(async () =>
        {
            for (var r = sender; r < Requests; r += 4)
            {
                using var body = new StringContent(Batch(r * PerRequest, PerRequest), Encoding.UTF8, "application/x-ndjson");
                using var response = await ingests[r % 2].PostAsync("/api/v1/events", body);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                Assert.True(json.RootElement.GetProperty("queued").GetBoolean());
                Assert.Equal(PerRequest, json.RootElement.GetProperty("stored").GetInt32());
                // Midway through the load, and while the workers are busy, one of them dies without warning.
                if (Interlocked.Add(ref accepted, PerRequest) >= Total / 3 && !killed)
                {
                    killed = true;
                    firstWorker.Kill();
                }
            }
        })).ToList();
        await Task.WhenAll(load);
        Assert.True(killed);

        var deadline = Stopwatch.StartNew();
        while (await StoredAsync(query) < Total && deadline.Elapsed < TimeSpan.FromMinutes(3)) await Task.Delay(500);
        await Broker.WaitForDrainedAsync(queue);
        Assert.Equal(Total, await StoredAsync(query));

        // The numbers users read: aggregation over the shared store counts every event once.
        using (var aggregate = await query.PostAsync("/api/v1/admin/aggregate", null)) aggregate.EnsureSuccessStatusCode();
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd");
        var from = DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd");
        using var totals = JsonDocument.Parse(await query.GetStringAsync($"/api/v1/stats/record-view-top/totals?dateStart={from}&dateEnd={today}&count=100"));
        Assert.Equal(37, totals.RootElement.GetProperty("itemsMax").GetInt32());
        Assert.Equal(Total, totals.RootElement.GetProperty("items").EnumerateArray().Sum(i => i.GetProperty("count").GetDouble()));
    }

    [Fact]
    public async Task An_ingest_node_checks_input_as_serve_does_and_a_query_node_takes_no_events()
    {
        var (root, config, _) = await ClusterConfigAsync();
        using var worker = await ServeAsync(root, config, "worker", "worker");
        using var ingestNode = await ServeAsync(root, config, "ingest", "ingest");
        using var queryNode = await ServeAsync(root, config, "query", "query");
        using var ingest = Client(ingestNode.Url);

        using var bad = await ingest.PostAsync("/api/v1/events", new StringContent("""[{"type":"record-view","id":"ok-1","item_id":"a"},{"type":"record-view"}]""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, bad.StatusCode);
        using var partly = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
        Assert.Equal("item_id", partly.RootElement.GetProperty("rejected")[0].GetProperty("field").GetString());
        using var none = await ingest.PostAsync("/api/v1/events", new StringContent("""{"type":"record-view"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
        using (var anonymous = await new HttpClient().PostAsync(ingestNode.Url + "/api/v1/events", new StringContent("{}")))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await ingest.GetAsync("/api/v1/events?delta=60")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await ingest.GetAsync("/r51/status")).StatusCode);

        using var query = Client(queryNode.Url);
        using var refused = await query.PostAsync("/api/v1/events", new StringContent("""{"type":"record-view","item_id":"a"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, refused.StatusCode);
        var deadline = Stopwatch.StartNew();
        while (await StoredAsync(query) < 1 && deadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(200);
        using var stored = JsonDocument.Parse(await query.GetStringAsync("/api/v1/events?type=record-view&delta=864000"));
        Assert.Equal("ok-1", Assert.Single(stored.RootElement.GetProperty("raw_messages").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Check_and_setup_work_on_a_store_named_with_store_and_a_bad_one_is_named_in_the_error()
    {
        var root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(root);
        var store = "postgres:" + await SharedDatabase.CreateAsync();
        var (before, _, differences) = await TallyProcess.RunAsync(root, "check", "--store", store, "--config", config);
        Assert.Equal(1, before);
        Assert.Contains("'record-view' is configured but not set up", differences, StringComparison.Ordinal);
        var (setup, output, _) = await TallyProcess.RunAsync(root, "setup", "--store", store, "--config", config);
        Assert.Equal(0, setup);
        Assert.Contains("postgres:", output, StringComparison.Ordinal);
        Assert.Equal(0, (await TallyProcess.RunAsync(root, "check", "--store", store, "--config", config)).ExitCode);

        var (unreachable, _, error) = await TallyProcess.RunAsync(root, "check", "--store", "postgres:Host=127.0.0.1;Port=1;Password=hidden", "--config", config);
        Assert.Equal(2, unreachable);
        Assert.Contains("--store", error, StringComparison.Ordinal);
        Assert.Contains("Password=***", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hidden", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Worker_and_ingest_roles_refuse_to_start_without_a_queue()
    {
        var root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(root);
        foreach (var role in new[] { "worker", "ingest" })
        {
            var (exitCode, _, error) = await TallyProcess.RunAsync(root, "serve", "--role", role, "--config", config, "--data", Path.Combine(root, "data"));
            Assert.Equal(2, exitCode);
            Assert.Contains("queue.uri", error, StringComparison.Ordinal);
        }
    }
}

/// <summary>New databases on the PostgreSQL server ./test starts (scripts/postgres.sh).</summary>
public static class SharedDatabase
{
    public static string Server => Environment.GetEnvironmentVariable("TALLY_TEST_POSTGRES")
        ?? throw new InvalidOperationException("TALLY_TEST_POSTGRES is not set: run the tests with ./test, which starts PostgreSQL");

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public static async Task<string> CreateAsync()
    {
        var name = "tally_" + Guid.NewGuid().ToString("N")[..12];
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(Server);
        await using (var connection = new Npgsql.NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        builder.Database = name;
        return builder.ConnectionString;
    }
}

using System.Net;
using System.Net.Sockets;
using Tally.Core.Aggregate;
using Tally.Core.Store;
using Tally.Storage.ClickHouse;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>The servers scripts/clickhouse.sh started (one node, and a cluster of two shards), named by the variables it prints.</summary>
public static class ClickHouseTestServers
{
    public static Uri Endpoint => new(Required("TALLY_TEST_CLICKHOUSE"));

    /// <summary>The HTTP endpoint of each shard of the cluster; the first is <see cref="Endpoint"/>.</summary>
    public static IReadOnlyList<Uri> Shards => Required("TALLY_TEST_CLICKHOUSE_SHARDS").Split(',').Select(s => new Uri($"http://{s}/")).ToList();

    public static string Cluster => Required("TALLY_TEST_CLICKHOUSE_CLUSTER");

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Run ./test, or start the test servers first: eval \"$(scripts/clickhouse.sh start)\" (and scripts/clickhouse.sh stop \"$TALLY_TEST_CLICKHOUSE_DIR\" afterwards).");

    public static ClickHouseStoreOptions Options(string database, bool cluster) => ClickHouseStoreOptions.Parse(cluster
        ? $"{Endpoint}?database={database}&cluster={Cluster}&shards={Required("TALLY_TEST_CLICKHOUSE_SHARDS")}"
        : $"{Endpoint}?database={database}");

    /// <summary>A client of one server, in <paramref name="database"/> or in none.</summary>
    public static ClickHouseHttpClient Client(Uri endpoint, string? database = null) =>
        new(endpoint, database is null ? [] : [new("database", database)]);

    public static async Task DropDatabasesAsync(IEnumerable<string> databases)
    {
        foreach (var shard in Shards)
        {
            using var client = Client(shard);
            foreach (var database in databases) await client.ExecuteAsync($"DROP DATABASE IF EXISTS {database}", CancellationToken.None);
        }
    }

    /// <summary>A loopback port nothing listens on.</summary>
    public static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Stores in fresh databases (t_ and a GUID, on every shard in a cluster); a reopen opens the last one again; all are dropped at the end.</summary>
public sealed class ClickHouseTempStores(bool cluster)
{
    private readonly List<string> _databases = [];
    private ClickHouseStoreOptions? _current;

    /// <summary>The database of the store opened last.</summary>
    public string Database => _current?.Database ?? throw new InvalidOperationException("no store was opened");

    public async Task<ClickHouseEventStore> OpenFreshAsync()
    {
        var database = $"t_{Guid.NewGuid():N}";
        _databases.Add(database);
        _current = ClickHouseTestServers.Options(database, cluster);
        return await ClickHouseEventStore.OpenAsync(_current, CancellationToken.None);
    }

    public Task<ClickHouseEventStore> ReopenAsync() =>
        ClickHouseEventStore.OpenAsync(_current ?? throw new InvalidOperationException("no store was opened"), CancellationToken.None);

    public Task CleanUpAsync() => ClickHouseTestServers.DropDatabasesAsync(_databases);
}

/// <summary>The store contract on one ClickHouse node.</summary>
public sealed class ClickHouseEventStoreContractTests : EventStoreContract
{
    private readonly ClickHouseTempStores _stores = new(cluster: false);

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override async Task<IEventStore> ReopenAsync() => await _stores.ReopenAsync();

    protected override Task CleanUpAsync() => _stores.CleanUpAsync();
}

/// <summary>Aggregation, statistics and retention over one ClickHouse node.</summary>
public sealed class ClickHouseAggregationTests : AggregationContract
{
    private readonly ClickHouseTempStores _stores = new(cluster: false);

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override Task CleanUpAsync() => _stores.CleanUpAsync();
}

/// <summary>The store contract on a cluster of two shards: Distributed tables over local ones.</summary>
public sealed class ClickHouseClusterEventStoreContractTests : EventStoreContract
{
    private readonly ClickHouseTempStores _stores = new(cluster: true);

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override async Task<IEventStore> ReopenAsync() => await _stores.ReopenAsync();

    protected override Task CleanUpAsync() => _stores.CleanUpAsync();
}

/// <summary>Aggregation, statistics and retention over a cluster of two shards.</summary>
public sealed class ClickHouseClusterAggregationTests : AggregationContract
{
    private readonly ClickHouseTempStores _stores = new(cluster: true);

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override Task CleanUpAsync() => _stores.CleanUpAsync();
}

/// <summary>One ClickHouse node computes the rows the reference computes.</summary>
public sealed class ClickHouseMetricComputerTests : MetricComputerContract
{
    private readonly ClickHouseTempStores _stores = new(cluster: false);

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override Task CleanUpAsync() => _stores.CleanUpAsync();
}

/// <summary>Two shards compute the rows the reference computes, each on its own events.</summary>
public sealed class ClickHouseClusterMetricComputerTests : MetricComputerContract
{
    private readonly ClickHouseTempStores _stores = new(cluster: true);

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override Task CleanUpAsync() => _stores.CleanUpAsync();
}

/// <summary>What only a cluster shows: where rows land, and what a missing shard looks like.</summary>
public sealed class ClickHouseClusterTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly ClickHouseTempStores _stores = new(cluster: true);
    private ClickHouseEventStore? _store;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        await _stores.CleanUpAsync();
    }

    [Fact]
    public async Task A_sessions_events_land_on_one_shard_and_many_sessions_spread_over_both()
    {
        var schema = Schema();
        _store = await _stores.OpenFreshAsync();
        await _store.SetupAsync(schema, None);
        const int sessions = 60;
        var events = Enumerable.Range(0, sessions).SelectMany(s => Enumerable.Range(0, 5)
            .Select(i => Probe(schema, $"s{s}-e{i}", Now.AddMinutes(-s).AddSeconds(i), session: 1_000_003L * s - 77, visitor: s))).ToList();
        Assert.All(await _store.AppendAsync(events, None), Assert.True);

        var perShard = new List<Dictionary<long, long>>();
        foreach (var shard in ClickHouseTestServers.Shards)
        {
            using var client = ClickHouseTestServers.Client(shard, _stores.Database);
            perShard.Add((await client.QueryListAsync("SELECT session, count() FROM ev_probe_local GROUP BY session",
                row => (Session: row.GetInt64(0), Events: row.GetInt64(1)), None)).ToDictionary(r => r.Session, r => r.Events));
        }
        Assert.Equal(2, perShard.Count);
        Assert.All(perShard, shard => Assert.NotEmpty(shard));
        Assert.Empty(perShard[0].Keys.Intersect(perShard[1].Keys));
        Assert.Equal(sessions, perShard.Sum(s => s.Count));
        Assert.All(perShard.SelectMany(s => s.Values), count => Assert.Equal(5L, count));
        // Reads go through the Distributed table and see every shard.
        Assert.Equal(sessions * 5, (await _store.ScanAllAsync(schema.EventTypes["probe"])).Count);
    }

    [Fact]
    public async Task An_unreachable_shard_fails_opening_with_its_address()
    {
        var port = ClickHouseTestServers.UnusedPort();
        var options = ClickHouseStoreOptions.Parse(
            $"{ClickHouseTestServers.Endpoint}?database=t_{Guid.NewGuid():N}&cluster={ClickHouseTestServers.Cluster}&shards={ClickHouseTestServers.Endpoint.Authority},127.0.0.1:{port}");
        var error = await Assert.ThrowsAsync<ClickHouseException>(() => ClickHouseEventStore.OpenAsync(options, None));
        Assert.Null(error.Code);
        Assert.Contains($"http://127.0.0.1:{port}/", error.Message, StringComparison.Ordinal);
        Assert.Contains("unreachable", error.Message, StringComparison.Ordinal);
        await ClickHouseTestServers.DropDatabasesAsync([options.Database]);
    }
}

/// <summary>
/// Ids across processes, which share no lock: a second store instance on the same database stands in for
/// another process. A duplicate that slips in through a race must still be read, and counted, once.
/// </summary>
public sealed class ClickHouseExactlyOnceTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly ClickHouseTempStores _stores = new(cluster: false);
    private readonly List<ClickHouseEventStore> _open = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _open) await store.DisposeAsync();
        await _stores.CleanUpAsync();
    }

    private async Task<(ClickHouseEventStore First, ClickHouseEventStore Second)> TwoInstancesAsync(Core.Configuration.TallySchema schema)
    {
        _open.Add(await _stores.OpenFreshAsync());
        _open.Add(await _stores.ReopenAsync());
        await _open[0].SetupAsync(schema, None);
        return (_open[0], _open[1]);
    }

    [Fact]
    public async Task Another_instance_sees_stored_ids_as_stored()
    {
        var schema = Schema();
        var (first, second) = await TwoInstancesAsync(schema);
        Assert.Equal(new[] { true, true }, await first.AppendAsync([Probe(schema, "a", Now), Probe(schema, "b", Now)], None));
        Assert.Equal(new[] { false, true }, await second.AppendAsync([Probe(schema, "a", Now), Probe(schema, "c", Now)], None));
    }

    [Fact]
    public async Task A_duplicate_row_that_slipped_in_is_scanned_paged_and_counted_once()
    {
        var schema = Schema();
        var (store, _) = await TwoInstancesAsync(schema);
        var probe = schema.EventTypes["probe"];
        await store.AppendAsync([Probe(schema, "dup", Now, n: 1), Probe(schema, "other", Now.AddMinutes(-1))], None);
        using (var client = ClickHouseTestServers.Client(ClickHouseTestServers.Endpoint, _stores.Database))
            await client.ExecuteAsync("INSERT INTO ev_probe SELECT * FROM ev_probe WHERE id = 'dup'", None);

        Assert.Equal(["dup", "other"], (await store.ScanAllAsync(probe)).Select(e => e.Id).Order());
        var page = await store.QueryEventsAsync(new RawEventQuery(Now.AddHours(-1), Now.AddHours(1), [probe], [], 1, 10, true), None);
        Assert.Equal(2L, page.Total);
        Assert.Equal(["dup", "other"], page.Events.Select(e => e.Id));
        Assert.Equal(new[] { false }, await store.AppendAsync([Probe(schema, "dup", Now)], None));
    }

    [Fact]
    public async Task A_duplicate_row_that_slipped_in_is_aggregated_once()
    {
        var schema = Schema(change: options =>
        {
            options.ProbeOptions().Counter = "request";
            options.ProbeOptions().Pipeline.AddRange([new() { Step = "robot-flag" }, new() { Step = "anonymize" }]);
            options.Aggregations.Add(new() { Name = "probe-items", EventType = "probe", GroupBy = ["item_id", "flag"], SumFields = ["n", "x"] });
        });
        var (store, _) = await TwoInstancesAsync(schema);
        var probe = schema.EventTypes["probe"];
        var aggregation = schema.Aggregations["probe-items"];
        await store.AppendAsync(
        [
            Probe(schema, "dup", Now, n: 3, x: 0.5, flag: true),
            Probe(schema, "other", Now.AddMinutes(-1), item: "b", n: 4, visitor: 2, session: 2),
            Probe(schema, "late", Now.AddMinutes(1), visitor: 3, session: 3),
        ], None);
        using (var client = ClickHouseTestServers.Client(ClickHouseTestServers.Endpoint, _stores.Database))
            await client.ExecuteAsync("INSERT INTO ev_probe SELECT * FROM ev_probe WHERE id = 'dup'", None);

        async Task<List<string>> ComputeAsync(IMetricComputer computer)
        {
            Assert.Equal(3, await computer.ComputeDaysAsync(probe, [aggregation], [Today], schema.Referrers, None));
            await computer.ComputeCounterDaysAsync([probe], [Today], None);
            var rows = (await MetricQuery.ReadEveryGroupingAsync(store, aggregation, MetricPeriod.Day, Today, Today, None))
                .Select(r => $"g{r.Grouping} {string.Join("|", r.Keys)} n={r.Count} v={r.UniqueVisitors} s={r.UniqueSessions} {string.Join(" ", r.Sums)} {string.Join(" ", r.SumCounts)}");
            var counter = (await store.ReadCounterMetricsAsync(new CounterQuery(MetricPeriod.Day, Today, Today, new Dictionary<CounterDimension, IReadOnlyList<string?>>(), CounterNames.Dimensions, false), None))
                .Select(r => $"{string.Join("|", r.Keys)} {string.Join(" ", r.Values)}");
            return [.. rows.Concat(counter).Order(StringComparer.Ordinal)];
        }

        var expected = await ComputeAsync(new ReferenceMetricComputer(store, store));
        Assert.Contains("g3 a|true n=1 v=1 s=1 3 0.5 1 1", expected);
        Assert.Equal(expected, await ComputeAsync(store.Computer));
    }

    [Fact]
    public async Task Two_instances_appending_the_same_ids_at_once_lose_none_and_keep_each_once()
    {
        var schema = Schema();
        var (first, second) = await TwoInstancesAsync(schema);
        var events = Enumerable.Range(0, 2000).Select(i => Probe(schema, $"id{i}", Now.AddSeconds(-i), n: i)).ToList();
        async Task<bool[]> AppendAllAsync(ClickHouseEventStore store) =>
            (await Task.WhenAll(events.Chunk(100).Select(chunk => store.AppendAsync(chunk, None)))).SelectMany(r => r).ToArray();

        var results = await Task.WhenAll(Task.Run(() => AppendAllAsync(first)), Task.Run(() => AppendAllAsync(second)));
        // Every event was acknowledged by at least one instance: a race may acknowledge it twice, never zero times.
        Assert.All(Enumerable.Range(0, events.Count), i => Assert.True(results[0][i] || results[1][i]));
        var scanned = await first.ScanAllAsync(schema.EventTypes["probe"]);
        Assert.Equal(events.Select(e => e.Id).Order(), scanned.Select(e => e.Id).Order());
    }
}

/// <summary>What the contract leaves out: the months that have COUNTER metrics, and times ClickHouse cannot hold.</summary>
public sealed class ClickHouseStoreLimitsTests : IAsyncLifetime
{
    private readonly ClickHouseTempStores _stores = new(cluster: false);
    private ClickHouseEventStore _store = null!;

    public async Task InitializeAsync() => _store = await _stores.OpenFreshAsync();

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _stores.CleanUpAsync();
    }

    [Fact]
    public async Task Counter_months_are_none_until_a_month_has_rows_and_an_emptied_month_no_longer_counts()
    {
        var none = CancellationToken.None;
        Assert.Null(await _store.GetCounterMonthsAsync(none));
        CounterRow Row(DateOnly month) => new(month, ["a", null, null, null, null, null, null, null]) { [CounterMetric.TotalItemRequests] = 1 };
        var (january, march, may) = (new DateOnly(2026, 1, 1), new DateOnly(2026, 3, 1), new DateOnly(2026, 5, 1));
        foreach (var month in new[] { march, january, may })
            await _store.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, [Row(month)], none);
        Assert.Equal((january, may), await _store.GetCounterMonthsAsync(none));

        await _store.ReplaceCounterMetricsAsync(MetricPeriod.Month, may, [], none);
        Assert.Equal((january, march), await _store.GetCounterMonthsAsync(none));
    }

    [Fact]
    public async Task An_event_before_1970_is_refused_naming_it_and_its_batch_is_not_stored()
    {
        var schema = Schema();
        await _store.SetupAsync(schema, CancellationToken.None);
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            _store.AppendAsync([Probe(schema, "fine", Now), Probe(schema, "ancient", new DateTime(1969, 12, 31, 0, 0, 0, DateTimeKind.Utc))], CancellationToken.None));
        Assert.Contains("'ancient'", error.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ScanAllAsync(schema.EventTypes["probe"]));
        Assert.Equal(new[] { true }, await _store.AppendAsync([Probe(schema, "fine", Now)], CancellationToken.None));
    }
}

/// <summary>Reading the store URL.</summary>
public sealed class ClickHouseStoreOptionsTests
{
    [Fact]
    public void A_single_node_is_its_own_only_shard()
    {
        var options = ClickHouseStoreOptions.Parse("http://127.0.0.1:8123/?database=tally");
        Assert.Equal((new Uri("http://127.0.0.1:8123/"), "tally", (string?)null, false), (options.Endpoint, options.Database, options.Cluster, options.IsCluster));
        Assert.Equal([new Uri("http://127.0.0.1:8123/")], options.Shards);
    }

    [Fact]
    public void A_cluster_lists_every_shard_and_the_password_is_kept_out_of_its_description()
    {
        var options = ClickHouseStoreOptions.Parse("http://ch1:8123/?database=tally&cluster=two&shards=ch1:8123,ch2:8124&user=tally&password=s%26cret");
        Assert.Equal("two", options.Cluster);
        Assert.Equal([new Uri("http://ch1:8123/"), new Uri("http://ch2:8124/")], options.Shards);
        Assert.Equal(("tally", "s&cret"), (options.User, options.Password));
        Assert.DoesNotContain("s&cret", options.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://h:1/?database=x", "http")]
    [InlineData("http://h:1/", "database")]
    [InlineData("http://h:1/?database=a-b", "identifier")]
    [InlineData("http://h:1/?database=x&cluster=c", "shards")]
    [InlineData("http://h:1/?database=x&cluster=c&shards=h", "'h'")]
    [InlineData("http://h:1/?database=x&colour=red", "'colour'")]
    public void A_bad_url_is_refused_naming_the_problem(string url, string mention)
    {
        var error = Assert.Throws<FormatException>(() => ClickHouseStoreOptions.Parse(url));
        Assert.Contains(mention, error.Message, StringComparison.Ordinal);
    }
}

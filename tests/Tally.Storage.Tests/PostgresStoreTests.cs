using Npgsql;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Storage.Postgres;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>The store contract on a real PostgreSQL 15 server, each store in a schema of its own.</summary>
public sealed class PostgresEventStoreContractTests : EventStoreContract
{
    private readonly PostgresTempStores _stores = new();

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override async Task<IEventStore> ReopenAsync() => await _stores.ReopenAsync();

    protected override Task CleanUpAsync() => _stores.DropAllAsync();
}

/// <summary>PostgreSQL computes the rows the reference computes.</summary>
public sealed class PostgresMetricComputerTests : MetricComputerContract
{
    private readonly PostgresTempStores _stores = new();

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override Task CleanUpAsync() => _stores.DropAllAsync();
}

/// <summary>Aggregation, statistics and retention over a real PostgreSQL store.</summary>
public sealed class PostgresAggregationTests : AggregationContract
{
    private readonly PostgresTempStores _stores = new();

    protected override async Task<IEventStore> OpenFreshAsync() => await _stores.OpenFreshAsync();

    protected override Task CleanUpAsync() => _stores.DropAllAsync();
}

/// <summary>What only PostgreSQL promises: native partitions, partition pruning, and writers in several processes.</summary>
public sealed class PostgresStoreTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly PostgresTempStores _stores = new();
    private readonly List<IEventStore> _open = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _open) await store.DisposeAsync();
        await _stores.DropAllAsync();
    }

    private async Task<PostgresEventStore> FreshAsync(TallySchema schema)
    {
        var store = await _stores.OpenFreshAsync();
        _open.Add(store);
        await store.SetupAsync(schema, None);
        return store;
    }

    /// <summary>A second instance on the same store, as another worker process would open it.</summary>
    private async Task<PostgresEventStore> AnotherAsync()
    {
        var store = await _stores.ReopenAsync();
        _open.Add(store);
        return store;
    }

    [Fact]
    public async Task Events_live_in_native_range_partitions_of_one_table_per_type()
    {
        var schema = Schema("day");
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "a", Now), Probe(schema, "b", Now.AddDays(-1)), Probe(schema, "c", Now.AddDays(-1).AddHours(1))], None);

        Assert.Equal("r", await _stores.ScalarAsync<string>(
            "SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = to_regclass('events_probe')"));
        var bounds = await _stores.ColumnAsync<string>("""
            SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass('events_probe') AND c.relispartition ORDER BY 1
            """);
        Assert.Equal(
        [
            "ev_probe_20260314 FOR VALUES FROM ('2026-03-14 00:00:00+00') TO ('2026-03-15 00:00:00+00')",
            "ev_probe_20260315 FOR VALUES FROM ('2026-03-15 00:00:00+00') TO ('2026-03-16 00:00:00+00')",
        ], bounds);
        Assert.Equal(2L, await _stores.ScalarAsync<long>("SELECT count(*) FROM ONLY ev_probe_20260314"));
    }

    [Fact]
    public async Task A_range_scan_reads_only_the_partitions_it_overlaps()
    {
        var schema = Schema("month");
        var store = await FreshAsync(schema);
        await store.AppendAsync([.. Enumerable.Range(0, 6).Select(m => Probe(schema, $"e{m}", Now.AddMonths(-m)))], None);

        var plan = string.Join("\n", await _stores.ColumnAsync<string>(
            "EXPLAIN SELECT * FROM events_probe WHERE ts >= '2026-01-10 00:00:00+00' AND ts < '2026-01-20 00:00:00+00'"));
        Assert.Contains("ev_probe_202601", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("ev_probe_202512", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("ev_probe_202602", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_detaches_and_drops_the_partition_table_and_frees_its_ids()
    {
        var schema = Schema("month");
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "old", Now.AddMonths(-2)), Probe(schema, "new", Now)], None);
        Assert.Equal(2L, await _stores.ScalarAsync<long>("SELECT count(*) FROM tally_event_ids"));

        Assert.Equal(["ev_probe_202601"], await store.DropPartitionsBeforeAsync(schema.EventTypes["probe"], Now.AddMonths(-1), None));
        Assert.Null(await _stores.ScalarAsync<string>("SELECT to_regclass('ev_probe_202601')::text"));
        Assert.Equal(["new"], await _stores.ColumnAsync<string>("SELECT id FROM tally_event_ids"));
        Assert.Equal(1L, await _stores.ScalarAsync<long>("SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('events_probe')"));
    }

    [Fact]
    public async Task Two_instances_appending_the_same_ids_at_once_store_each_once()
    {
        var schema = Schema("hour");
        var first = await FreshAsync(schema);
        var second = await AnotherAsync();
        // Both start with no partitions, so they also race to make the same ones.
        async Task<int> WriteAsync(IEventStore store, int offset)
        {
            var stored = 0;
            for (var round = 0; round < 20; round++)
            {
                var batch = Enumerable.Range(0, 200).Select(i => (i * 7 + offset + round * 50) % 1000)
                    .Select(i => Probe(schema, $"id{i}", Now.AddMinutes(-i), n: offset)).ToList();
                stored += (await store.AppendAsync(batch, None)).Count(s => s);
            }
            return stored;
        }
        var counts = await Task.WhenAll(Task.Run(() => WriteAsync(first, 0)), Task.Run(() => WriteAsync(second, 3)));

        var ids = (await first.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(ids.Count, counts.Sum());
        Assert.Equal(ids.Count, await _stores.ScalarAsync<long>("SELECT count(*) FROM tally_event_ids"));
    }

    [Fact]
    public async Task Another_instance_writes_beside_an_open_transaction_that_stays_invisible_until_commit()
    {
        var schema = Schema();
        var probe = schema.EventTypes["probe"];
        var first = await FreshAsync(schema);
        var second = await AnotherAsync();
        await using (var append = await first.BeginAppendAsync(None))
        {
            await append.AppendAsync([Probe(schema, "long", Now)], None);
            // Another process neither waits for the transaction nor sees it; a shared id waits for its outcome.
            Assert.Equal(new[] { true }, await second.AppendAsync([Probe(schema, "beside", Now)], None));
            Assert.Equal(["beside"], (await second.ScanAllAsync(probe)).Select(e => e.Id));
            var repeat = second.AppendAsync([Probe(schema, "long", Now)], None);
            await Eventually.UntilAsync(async () => await _stores.ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%tally_event_ids%'") > 0,
                "the shared id's claim waits on the open transaction's lock");
            Assert.False(repeat.IsCompleted);
            Assert.Equal(new AppendCounts(1, 0), await append.CommitAsync(None));
            Assert.Equal(new[] { false }, await repeat);
        }
        Assert.Equal(["beside", "long"], (await second.ScanAllAsync(probe)).Select(e => e.Id).Order());
    }

    [Fact]
    public async Task Stores_in_two_schemas_of_one_database_are_separate()
    {
        var schema = Schema();
        var one = await FreshAsync(schema);
        var two = await FreshAsync(schema);
        await one.AppendAsync([Probe(schema, "e1", Now)], None);
        await one.SetSettingAsync("k", "one", None);

        Assert.Equal(new[] { true }, await two.AppendAsync([Probe(schema, "e1", Now)], None));
        Assert.Null(await two.GetSettingAsync("k", None));
        Assert.Single(await two.ScanAllAsync(schema.EventTypes["probe"]));
    }
}

/// <summary>
/// PostgreSQL stores for tests: each fresh store gets a new schema (named by the connection string's
/// Search Path) on the server TALLY_TEST_POSTGRES names; a reopen opens the last one again, and every
/// schema is dropped at the end.
/// </summary>
public sealed class PostgresTempStores
{
    private readonly List<string> _schemas = [];

    private static string Server => Environment.GetEnvironmentVariable("TALLY_TEST_POSTGRES") is { Length: > 0 } server
        ? server
        : throw new InvalidOperationException(
            "TALLY_TEST_POSTGRES is not set: run the tests with ./test, or start a throwaway server first with " +
            "eval \"$(scripts/postgres.sh start)\" (and scripts/postgres.sh stop \"$TALLY_TEST_POSTGRES_DIR\" afterwards).");

    private string Current => _schemas.Count > 0 ? _schemas[^1] : throw new InvalidOperationException("no store was opened");

    public Task<PostgresEventStore> OpenFreshAsync()
    {
        var schema = $"t_{Guid.NewGuid():N}";
        var connectionString = ConnectionString(schema);
        _schemas.Add(schema);
        return PostgresEventStore.OpenAsync(connectionString, CancellationToken.None);
    }

    public Task<PostgresEventStore> ReopenAsync() => PostgresEventStore.OpenAsync(ConnectionString(Current), CancellationToken.None);

    private static string ConnectionString(string schema) => new NpgsqlConnectionStringBuilder(Server) { SearchPath = schema }.ToString();

    /// <summary>The first column of the first row of a query in the last store's schema.</summary>
    public async Task<T?> ScalarAsync<T>(string sql) => (await ColumnAsync<T?>(sql)).FirstOrDefault();

    /// <summary>The first column of a query's rows, in the last store's schema; times print in UTC.</summary>
    public async Task<List<T>> ColumnAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Server) { SearchPath = Current, Timezone = "UTC", Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<T>();
        while (await reader.ReadAsync()) values.Add(reader.IsDBNull(0) ? default! : reader.GetFieldValue<T>(0));
        return values;
    }

    public async Task DropAllAsync()
    {
        if (_schemas.Count == 0) return;
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Server) { Pooling = false }.ToString());
        await connection.OpenAsync();
        foreach (var schema in _schemas)
        {
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
        _schemas.Clear();
    }
}

using DuckDB.NET.Data;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Storage.DuckDb;

namespace Tally.Storage.Tests;

/// <summary>The store contract on real DuckDB files, each store in its own temporary folder.</summary>
public sealed class DuckDbEventStoreContractTests : EventStoreContract
{
    private readonly DuckDbTempStores _stores = new();

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(_stores.OpenFresh());

    protected override Task<IEventStore> ReopenAsync() => Task.FromResult<IEventStore>(_stores.Reopen());

    protected override Task CleanUpAsync()
    {
        _stores.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Open_creates_tally_duckdb_in_the_data_directory()
    {
        await using var store = _stores.OpenFresh();
        Assert.Equal(Path.Combine(_stores.Current!, "data", "tally.duckdb"), store.Path);
        Assert.True(File.Exists(store.Path));
    }

    [Fact]
    public async Task DuckDB_holds_the_memory_limit_storage_memoryLimit_sets_or_a_gibibyte_and_a_size_it_refuses_names_the_setting()
    {
        var folder = Path.Combine(Directory.CreateTempSubdirectory("tally-duckdb-").FullName, "data");
        try
        {
            await using (var store = DuckDbEventStore.Open(folder, "300MB"))
                Assert.Equal("286.1 MiB", MemoryLimit(store));
            var refused = Assert.Throws<ConfigurationException>(() => DuckDbEventStore.Open(folder, "a lot"));
            Assert.Contains("storage.memoryLimit", refused.Message);
            Assert.Contains("'a lot' is not a size DuckDB takes", refused.Message);
            // The refused size left the file closed: it opens again, and without a limit set it holds DuckDB to 1 GiB, not 80 % of the machine.
            await using var reopened = DuckDbEventStore.Open(folder);
            Assert.True(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >= 2L << 30, "this test expects a machine of 2 GiB or more");
            Assert.Equal("1.0 GiB", MemoryLimit(reopened));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }

    /// <summary>DuckDB's memory_limit as it reports it; connections in one process share the open database, and so its settings.</summary>
    private static string MemoryLimit(DuckDbEventStore store)
    {
        using var connection = new DuckDBConnection($"Data Source={store.Path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT current_setting('memory_limit')";
        return (string)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task A_transaction_past_the_point_where_it_settles_its_claims_still_stores_each_id_once()
    {
        var schema = StoreTestKit.Schema();
        await using var store = _stores.OpenFresh();
        await store.SetupAsync(schema, CancellationToken.None);
        await store.AppendAsync([StoreTestKit.Probe(schema, "before", StoreTestKit.Now)], CancellationToken.None);
        const int batch = 100_000;
        var total = 0;
        await using (var append = await store.BeginAppendAsync(CancellationToken.None))
        {
            // The first batch holds "early"; the claims settle after DuckDbEventStore.SettleEvery events, and the
            // repeats of "early" and "before" come after that, so they are judged against settled ids.
            while (total <= DuckDbEventStore.SettleEvery)
            {
                var at = StoreTestKit.Now.AddSeconds(-total);
                await append.AppendAsync([.. Enumerable.Range(total, batch).Select(i => StoreTestKit.Probe(schema, i == 0 ? "early" : $"e{i}", at))], CancellationToken.None);
                total += batch;
            }
            await append.AppendAsync([StoreTestKit.Probe(schema, "early", StoreTestKit.Now, item: "repeat"), StoreTestKit.Probe(schema, "before", StoreTestKit.Now, item: "repeat"),
                StoreTestKit.Probe(schema, "late", StoreTestKit.Now)], CancellationToken.None);
            Assert.Equal(new AppendCounts(Stored: total + 1, Duplicates: 2), await append.CommitAsync(CancellationToken.None));
        }
        var stored = await store.ScanAllAsync(schema.EventTypes["probe"]);
        Assert.Equal(total + 2, stored.Count);
        Assert.Equal(total + 2, stored.Select(e => e.Id).Distinct().Count());
        Assert.DoesNotContain(stored, e => e["item_id"] as string == "repeat");
    }

    [Fact]
    public async Task After_a_reopen_a_repeat_that_loses_deletes_only_itself_never_the_stored_event_it_repeats()
    {
        var schema = StoreTestKit.Schema();
        await using (var store = _stores.OpenFresh())
        {
            await store.SetupAsync(schema, CancellationToken.None);
            await using var append = await store.BeginAppendAsync(CancellationToken.None);
            await append.AppendAsync([StoreTestKit.Probe(schema, "a", StoreTestKit.Now), StoreTestKit.Probe(schema, "b", StoreTestKit.Now)], CancellationToken.None);
            await append.CommitAsync(CancellationToken.None);
        }
        // A new process numbers its events past every number the last one took, so the losers it deletes by number are its own.
        await using (var store = _stores.Reopen())
        {
            await using (var append = await store.BeginAppendAsync(CancellationToken.None))
            {
                await append.AppendAsync([StoreTestKit.Probe(schema, "a", StoreTestKit.Now, item: "repeat"), StoreTestKit.Probe(schema, "b", StoreTestKit.Now, item: "repeat"),
                    StoreTestKit.Probe(schema, "c", StoreTestKit.Now)], CancellationToken.None);
                Assert.Equal(new AppendCounts(1, 2), await append.CommitAsync(CancellationToken.None));
            }
            var stored = await store.ScanAllAsync(schema.EventTypes["probe"]);
            Assert.Equal(["a", "b", "c"], stored.Select(e => e.Id).Order());
            Assert.DoesNotContain(stored, e => e["item_id"] as string == "repeat");
        }
    }

    [Fact]
    public async Task A_store_from_before_sequence_numbers_opens_keeps_its_events_and_still_knows_their_ids()
    {
        var schema = StoreTestKit.Schema();
        string path;
        await using (var store = _stores.OpenFresh())
        {
            await store.SetupAsync(schema, CancellationToken.None);
            await store.AppendAsync([StoreTestKit.Probe(schema, "old-ü日本", StoreTestKit.Now)], CancellationToken.None);
            path = store.Path;
        }
        // What a store written before events were numbered looks like: partitions without the seq column, no counter.
        await using (var connection = new DuckDBConnection($"Data Source={path}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name FROM tally_partitions";
            var partitions = new List<string>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read()) partitions.Add(reader.GetString(0));
            }
            foreach (var partition in partitions)
            {
                command.CommandText = $"ALTER TABLE {partition} DROP COLUMN seq";
                command.ExecuteNonQuery();
            }
            command.CommandText = "DROP TABLE tally_event_seq";
            command.ExecuteNonQuery();
            // Its ids were keyed in .NET: the first 128 bits, big-endian, of the SHA-256 of the id's UTF-8.
            var key = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("old-ü日本")));
            command.CommandText = $"UPDATE tally_event_ids SET id = '{key}'::UHUGEINT";
            Assert.Equal(1, command.ExecuteNonQuery());
        }
        await using (var store = _stores.Reopen())
        {
            Assert.Equal(new[] { false, true }, await store.AppendAsync([StoreTestKit.Probe(schema, "old-ü日本", StoreTestKit.Now, item: "repeat"), StoreTestKit.Probe(schema, "new", StoreTestKit.Now)], CancellationToken.None));
            await using (var append = await store.BeginAppendAsync(CancellationToken.None))
            {
                await append.AppendAsync([StoreTestKit.Probe(schema, "new", StoreTestKit.Now, item: "repeat"), StoreTestKit.Probe(schema, "newer", StoreTestKit.Now)], CancellationToken.None);
                Assert.Equal(new AppendCounts(1, 1), await append.CommitAsync(CancellationToken.None));
            }
            var stored = await store.ScanAllAsync(schema.EventTypes["probe"]);
            Assert.Equal(["new", "newer", "old-ü日本"], stored.Select(e => e.Id).Order(StringComparer.Ordinal));
            Assert.DoesNotContain(stored, e => e["item_id"] as string == "repeat");
        }
    }
}

/// <summary>Aggregation, statistics and retention over a real DuckDB store in a temporary folder.</summary>
public sealed class DuckDbAggregationTests : AggregationContract
{
    private readonly DuckDbTempStores _stores = new();

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(_stores.OpenFresh());

    protected override Task CleanUpAsync()
    {
        _stores.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>DuckDB's set-based metric SQL against the C# reference, on a real DuckDB file.</summary>
public sealed class DuckDbMetricComputerTests : MetricComputerContract
{
    private readonly DuckDbTempStores _stores = new();

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(_stores.OpenFresh());

    protected override Task CleanUpAsync()
    {
        _stores.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>DuckDB stores in temporary folders: each fresh store gets its own folder, a reopen opens the last one again, and every folder is deleted at the end.</summary>
public sealed class DuckDbTempStores : IDisposable
{
    private readonly List<string> _directories = [];

    public string? Current { get; private set; }

    public DuckDbEventStore OpenFresh()
    {
        Current = Directory.CreateTempSubdirectory("tally-duckdb-").FullName;
        _directories.Add(Current);
        return DuckDbEventStore.Open(Path.Combine(Current, "data"));
    }

    public DuckDbEventStore Reopen() =>
        DuckDbEventStore.Open(Path.Combine(Current ?? throw new InvalidOperationException("no store was opened"), "data"));

    public void Dispose()
    {
        foreach (var directory in _directories)
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}

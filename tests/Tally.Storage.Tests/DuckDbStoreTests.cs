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
    public async Task DuckDB_holds_the_memory_limit_storage_memoryLimit_sets_and_a_size_it_refuses_names_the_setting()
    {
        var folder = Path.Combine(Directory.CreateTempSubdirectory("tally-duckdb-").FullName, "data");
        try
        {
            await using (var store = DuckDbEventStore.Open(folder, "300MB"))
            {
                // Connections in one process share the open database, and so its settings.
                await using var connection = new DuckDBConnection($"Data Source={store.Path}");
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT current_setting('memory_limit')";
                Assert.Equal("286.1 MiB", command.ExecuteScalar());
            }
            var refused = Assert.Throws<ConfigurationException>(() => DuckDbEventStore.Open(folder, "a lot"));
            Assert.Contains("storage.memoryLimit", refused.Message);
            Assert.Contains("'a lot' is not a size DuckDB takes", refused.Message);
            // The refused size left the file closed: it opens again.
            await using var reopened = DuckDbEventStore.Open(folder);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
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

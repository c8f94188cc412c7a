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

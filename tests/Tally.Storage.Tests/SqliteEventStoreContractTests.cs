using Tally.Core.Store;

namespace Tally.Storage.Tests;

/// <summary>The store contract on real SQLite files, each store in its own temporary folder.</summary>
public sealed class SqliteEventStoreContractTests : EventStoreContract
{
    private readonly SqliteTempStores _stores = new();

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(_stores.OpenFresh());

    protected override Task<IEventStore> ReopenAsync() => Task.FromResult<IEventStore>(_stores.Reopen());

    protected override Task CleanUpAsync()
    {
        _stores.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Open_creates_tally_db_in_the_data_directory()
    {
        await using var store = _stores.OpenFresh();
        Assert.Equal(Path.Combine(_stores.Current!, "data", "tally.db"), store.Path);
        Assert.True(File.Exists(store.Path));
    }
}

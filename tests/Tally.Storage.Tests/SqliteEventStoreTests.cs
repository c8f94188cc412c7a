using Microsoft.Data.Sqlite;
using Tally.Core.Store;
using Tally.Storage.Sqlite;

namespace Tally.Storage.Tests;

/// <summary>The contract on real SQLite files in a temp folder.</summary>
public sealed class SqliteEventStoreTests : EventStoreContract
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tally-sqlite-").FullName;

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(SqliteEventStore.Open(_directory));

    protected override Task<IEventStore> ReopenAsync() => OpenFreshAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Storage.ClickHouse;
using Tally.Storage.DuckDb;
using Tally.Storage.Postgres;
using Tally.Storage.Sqlite;

namespace Tally.Hosting;

/// <summary>Opens the store a location names, whichever engine it is.</summary>
public static class StoreFactory
{
    /// <summary>The store --store names (<paramref name="given"/>), else the configured one; with no engine configured, the embedded one <see cref="EmbeddedIn"/> chooses.</summary>
    public static StoreLocation Configured(string? given, StorageOptions storage, string dataDirectory) =>
        given is null ? StoreLocation.FromOptions(storage, dataDirectory, EmbeddedIn) : StoreLocation.Parse(given, "--store");

    /// <summary>DuckDB, unless the folder holds a SQLite store and no DuckDB one: a site from before DuckDB was the default keeps its data.</summary>
    public static string EmbeddedIn(string folder) =>
        Holds(new StoreLocation(StoreLocation.Sqlite, folder)) && !Holds(new StoreLocation(StoreLocation.DuckDb, folder)) ? StoreLocation.Sqlite : StoreLocation.DuckDb;

    /// <summary>Whether the location holds a store already: an embedded engine's file in its folder; a server is taken to.</summary>
    public static bool Holds(StoreLocation location) => location.Engine switch
    {
        StoreLocation.Sqlite => File.Exists(Path.Combine(location.Connection, SqliteEventStore.FileName)),
        StoreLocation.DuckDb => File.Exists(Path.Combine(location.Connection, DuckDbEventStore.FileName)),
        _ => true,
    };

    /// <exception cref="ConfigurationException">The store cannot be reached or opened; the message says where and why.</exception>
    public static async Task<IEventStore> OpenAsync(StoreLocation location, string setting, StorageOptions storage, CancellationToken cancellationToken)
    {
        try
        {
            return location.Engine switch
            {
                StoreLocation.Sqlite => SqliteEventStore.Open(location.Connection),
                StoreLocation.DuckDb => DuckDbEventStore.Open(location.Connection, storage.MemoryLimit),
                StoreLocation.Postgres => await PostgresEventStore.OpenAsync(location.Connection, cancellationToken),
                StoreLocation.ClickHouse => await ClickHouseEventStore.OpenAsync(ClickHouseStoreOptions.Parse(location.Connection), cancellationToken),
                _ => throw new ConfigurationException(setting, $"unknown engine '{location.Engine}'"),
            };
        }
        catch (Exception e) when (e is not (ConfigurationException or OperationCanceledException))
        {
            throw new ConfigurationException(setting, $"cannot open the store {location}: {e.Message}");
        }
    }
}

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
    /// <exception cref="ConfigurationException">The store cannot be reached or opened; the message says where and why.</exception>
    public static async Task<IEventStore> OpenAsync(StoreLocation location, string setting, CancellationToken cancellationToken)
    {
        try
        {
            return location.Engine switch
            {
                StoreLocation.Sqlite => SqliteEventStore.Open(location.Connection),
                StoreLocation.DuckDb => DuckDbEventStore.Open(location.Connection),
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

using Tally.Core.Store;

namespace Tally.Storage.Tests;

/// <summary>Aggregation, statistics and retention over a real SQLite store in a temporary folder.</summary>
public sealed class SqliteAggregationTests : AggregationContract
{
    private readonly SqliteTempStores _stores = new();

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(_stores.OpenFresh());

    protected override Task CleanUpAsync()
    {
        _stores.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>SQLite computes the rows the reference computes.</summary>
public sealed class SqliteMetricComputerTests : MetricComputerContract
{
    private readonly SqliteTempStores _stores = new();

    protected override Task<IEventStore> OpenFreshAsync() => Task.FromResult<IEventStore>(_stores.OpenFresh());

    protected override Task CleanUpAsync()
    {
        _stores.Dispose();
        return Task.CompletedTask;
    }
}

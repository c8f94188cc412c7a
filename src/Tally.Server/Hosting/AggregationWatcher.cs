using Microsoft.Extensions.Hosting;
using Tally.Core.Aggregate;
using Tally.Core.Store;
using Tally.Server.Live;

namespace Tally.Server.Hosting;

/// <summary>
/// On a query node, which neither stores nor aggregates: watches the shared store for a new aggregation
/// run by a worker, and tells the live feed, so open dashboards read the new metrics.
/// </summary>
public sealed class AggregationWatcher(ISettingStore store, UsageFeed feed, TimeProvider clock) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var seen = await store.GetSettingAsync(Aggregator.LastRunSetting, stoppingToken);
            using var timer = new PeriodicTimer(Interval, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var lastRun = await store.GetSettingAsync(Aggregator.LastRunSetting, stoppingToken);
                if (lastRun is null || lastRun == seen) continue;
                seen = lastRun;
                feed.AggregatedElsewhere(lastRun);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

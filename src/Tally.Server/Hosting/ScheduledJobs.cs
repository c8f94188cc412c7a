using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Server.Runtime;

namespace Tally.Server.Hosting;

/// <summary>What `serve` does on its own: aggregation and retention on the configured schedule.</summary>
public sealed class ScheduledJobs(TallyRuntime runtime, ILogger<ScheduledJobs> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = runtime.Schema.Options.Schedule;
        return Task.WhenAll(
            EveryAsync(TimeSpan.FromSeconds(schedule.AggregateEverySeconds), "aggregation", async ct =>
            {
                var result = await runtime.Aggregator.RunAsync(cancellationToken: ct);
                if (result.Days > 0)
                    logger.LogInformation("Aggregated {Days} day(s), {Events} event(s) in {Elapsed} ms", result.Days, result.Events, (long)result.Elapsed.TotalMilliseconds);
            }, stoppingToken),
            EveryAsync(TimeSpan.FromSeconds(schedule.RetentionEverySeconds), "retention", async ct =>
            {
                var result = await runtime.Retention.RunAsync(ct);
                if (result.DroppedPartitions.Count > 0)
                    logger.LogInformation("Retention dropped {Partitions}", string.Join(", ", result.DroppedPartitions));
            }, stoppingToken));
    }

    private async Task EveryAsync(TimeSpan interval, string name, Func<CancellationToken, Task> job, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, runtime.Clock);
        try
        {
            do
            {
                try { await job(stoppingToken); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A failed run is retried on the next tick; the data it needed is still marked.
                    logger.LogError(e, "Scheduled {Job} failed", name);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

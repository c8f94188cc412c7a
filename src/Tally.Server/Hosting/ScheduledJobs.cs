using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Retention;
using Tally.Sources.Logs;

namespace Tally.Server.Hosting;

/// <summary>What `serve` does on its own: aggregation, retention and PKP log loading on the configured schedule.</summary>
/// <param name="pkp">The PKP usageStats folder's loader, when sources.pkp.directory is set.</param>
public sealed class ScheduledJobs(
    TallySchema schema, Aggregator aggregator, RetentionService retention, TimeProvider clock, ILogger<ScheduledJobs> logger, PkpLogLoader? pkp = null) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = schema.Options.Schedule;
        var jobs = new List<Task>
        {
            EveryAsync(TimeSpan.FromSeconds(schedule.AggregateEverySeconds), "aggregation", async ct =>
            {
                var result = await aggregator.RunAsync(cancellationToken: ct);
                if (result.Days > 0)
                    logger.LogInformation("Aggregated {Days} day(s), {Events} event(s) in {Elapsed} ms", result.Days, result.Events, (long)result.Elapsed.TotalMilliseconds);
            }, stoppingToken),
            EveryAsync(TimeSpan.FromSeconds(schedule.RetentionEverySeconds), "retention", async ct =>
            {
                var result = await retention.RunAsync(ct);
                if (result.DroppedPartitions.Count > 0)
                    logger.LogInformation("Retention dropped {Partitions}", string.Join(", ", result.DroppedPartitions));
            }, stoppingToken),
        };
        if (pkp is not null)
            jobs.Add(EveryAsync(TimeSpan.FromSeconds(schema.Options.Sources.Pkp.LoadEverySeconds), "PKP log loading", ct => LoadPkpAsync(pkp, ct), stoppingToken));
        return Task.WhenAll(jobs);
    }

    private async Task LoadPkpAsync(PkpLogLoader loader, CancellationToken cancellationToken)
    {
        PkpLoadResult result;
        try { result = await loader.RunAsync(null, cancellationToken); }
        catch (LoaderBusyException e)
        {
            logger.LogInformation("PKP log loading skipped: {Reason}", e.Message);
            return;
        }
        foreach (var file in result.Archived)
            logger.LogInformation("PKP log {File}: {Lines} lines, {Stored} stored, {Duplicates} already stored, {Rejected} rejected, in {Elapsed} ms",
                file.File, file.Lines, file.Stored, file.Duplicates, file.Rejected, (long)file.Elapsed.TotalMilliseconds);
        foreach (var file in result.Rejected)
            logger.LogWarning("PKP log {File} cannot be read; moved to {Folder} with the reason beside it", file, Path.Combine(loader.Root, PkpLogLoader.Reject));
    }

    private async Task EveryAsync(TimeSpan interval, string name, Func<CancellationToken, Task> job, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, clock);
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

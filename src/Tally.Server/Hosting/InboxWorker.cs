using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Core.Ingest;
using Tally.Queue.Inbox;

namespace Tally.Server.Hosting;

/// <summary>Stores what the data folder's inbox holds, a large batch at a time, for as long as serve runs.</summary>
public sealed class InboxWorker(EventInbox inbox, IngestService ingest, ILogger<InboxWorker> logger) : BackgroundService
{
    /// <summary>How long a few waiting events wait for more before they are stored: a tenth of a second keeps DuckDB's commits to about ten a second under single-event traffic.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await inbox.StoreNextAsync(ingest.StoreProcessedAsync, stoppingToken)) await inbox.WaitForBatchAsync(Linger, stoppingToken);
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The events stay on disk in the inbox; a store that is back takes them on the next try.
                failures++;
                var delay = TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(failures - 1, 5)));
                logger.LogError(e, "Storing the inbox's events failed ({Failures} time(s) in a row); they wait on disk and are tried again in {Delay}", failures, delay);
                await Task.Delay(delay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        // Requests have stopped by now: a clean stop leaves the inbox empty, so that tally migrate and copies of the
        // folder hold every acknowledged event in the store.
        await inbox.StoreWaitingAsync(ingest.StoreProcessedAsync, CancellationToken.None);
    }
}

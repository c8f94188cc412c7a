using System.Globalization;
using Tally.Core.Aggregate;
using Tally.Core.Ingest;
using Tally.Core.Store;

namespace Tally.Hosting.Demo;

public sealed record DemoProgress(int DaysDone, int DaysTotal, long Stored);

/// <summary>Loads demo history through the real ingest path (straight to the store, as a bulk load), then aggregates it.</summary>
public sealed class DemoData(IngestService ingest, ISettingStore store, Aggregator aggregator, TimeProvider clock)
{
    public const string SeededSetting = "demo.seeded";
    public const int DefaultDays = 90;
    public const int DefaultEventsPerDay = 2500;

    /// <summary>Whether this data folder already holds demo history.</summary>
    public async Task<bool> IsSeededAsync(CancellationToken cancellationToken) =>
        await store.GetSettingAsync(SeededSetting, cancellationToken) is not null;

    public async Task<long> SeedAsync(int days, int eventsPerDay, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var from = now.Date.AddDays(-days + 1);
        var generator = new DemoGenerator();
        long stored = 0;
        foreach (var batch in generator.History(from, now, eventsPerDay, batchSize: 5000))
        {
            var result = await ingest.StoreBodyAsync(batch.Ndjson, cancellationToken);
            stored += result.Stored;
            progress?.Report(new DemoProgress(batch.Through.DayNumber - DateOnly.FromDateTime(from).DayNumber + 1, days, stored));
        }
        await store.SetSettingAsync(SeededSetting, now.ToString("O", CultureInfo.InvariantCulture), cancellationToken);
        await aggregator.RunAsync(cancellationToken: cancellationToken);
        return stored;
    }
}

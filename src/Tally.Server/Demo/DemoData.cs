using Microsoft.Extensions.Hosting;
using Tally.Server.Runtime;

namespace Tally.Server.Demo;

public sealed record DemoProgress(int DaysDone, int DaysTotal, long Stored);

/// <summary>Loads demo history through the real ingest path, then aggregates it.</summary>
public static class DemoData
{
    public const string SeededSetting = "demo.seeded";
    public const int DefaultDays = 90;
    public const int DefaultEventsPerDay = 2500;

    /// <summary>Whether this data folder already holds demo history.</summary>
    public static async Task<bool> IsSeededAsync(TallyRuntime runtime, CancellationToken cancellationToken) =>
        await runtime.Store.GetSettingAsync(SeededSetting, cancellationToken) is not null;

    public static async Task<long> SeedAsync(TallyRuntime runtime, int days, int eventsPerDay, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var now = runtime.Clock.GetUtcNow().UtcDateTime;
        var from = now.Date.AddDays(-days + 1);
        var generator = new DemoGenerator();
        long stored = 0;
        foreach (var batch in generator.History(from, now, eventsPerDay, batchSize: 5000))
        {
            var result = await runtime.Ingest.IngestAsync(batch.Ndjson, cancellationToken);
            stored += result.Stored;
            progress?.Report(new DemoProgress(batch.Through.DayNumber - DateOnly.FromDateTime(from).DayNumber + 1, days, stored));
        }
        await runtime.Store.SetSettingAsync(SeededSetting, now.ToString("O", System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        await runtime.Aggregator.RunAsync(cancellationToken: cancellationToken);
        return stored;
    }
}

/// <summary>With --demo, keeps a trickle of live visits coming, so numbers move while you watch.</summary>
public sealed class DemoTraffic(TallyRuntime runtime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var generator = new DemoGenerator(seed: Environment.TickCount);
            var random = new Random();
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 + random.Next(2500)), runtime.Clock, stoppingToken);
                await runtime.Ingest.IngestAsync(generator.Live(runtime.Clock.GetUtcNow().UtcDateTime, 1 + random.Next(3)), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

using Microsoft.Extensions.Hosting;
using Tally.Core.Ingest;
using Tally.Hosting.Demo;

namespace Tally.Server.Hosting;

/// <summary>With --demo, keeps a trickle of live visits coming, so numbers move while you watch.</summary>
public sealed class DemoTraffic(IngestService ingest, TimeProvider clock) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var generator = new DemoGenerator(seed: Environment.TickCount);
            var random = new Random();
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 + random.Next(2500)), clock, stoppingToken);
                await ingest.IngestAsync(generator.Live(clock.GetUtcNow().UtcDateTime, 1 + random.Next(3)), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

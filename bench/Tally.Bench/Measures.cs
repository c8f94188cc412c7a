using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Sources.Logs;

namespace Tally.Bench;

/// <summary>The measurements and same-run baselines both benches take: bare passes, latencies over HTTP, peak memory.</summary>
public static class Measures
{
    /// <summary>A bare Utf8JsonReader pass over a file's lines, the floor any import of it is compared with.</summary>
    public static async Task<TimeSpan> TimeBareLogPassAsync(string path, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        long tokens = 0;
        await foreach (var line in LineReader.ReadAsync(file, cancellationToken)) tokens += JsonBaseline.CountTokens(line.Span);
        return tokens > 0 ? watch.Elapsed : throw new InvalidOperationException($"{path} is empty");
    }

    /// <summary>A bare scan of the raw rows in [from, to) with the fields aggregation reads, the floor aggregation is compared with.</summary>
    public static async Task<TimeSpan> TimeScanAsync(IServiceProvider services, DateTime from, DateTime to, CancellationToken cancellationToken)
    {
        var schema = services.GetRequiredService<TallySchema>();
        var store = services.GetRequiredService<IRawEventReader>();
        var watch = Stopwatch.StartNew();
        foreach (var type in schema.EventTypes.Values)
        {
            var fields = schema.AggregationsOf(type).SelectMany(a => a.GroupBy.Concat(a.SumFields)).Distinct().ToList();
            await foreach (var _ in store.ScanAsync(type, from, to, fields, withExtra: false, cancellationToken))
            {
            }
        }
        return watch.Elapsed;
    }

    /// <summary>
    /// Latency of GETs against the same-run floor of a trivial GET, interleaved so both see the same machine:
    /// p95 as the figure, p50 in the description, and of several paths the one slowest at its median.
    /// </summary>
    public static async Task<BenchResult> LatencyAsync(HttpClient client, string name, string what, IReadOnlyList<string> paths, int repetitions, string target,
        CancellationToken cancellationToken)
    {
        var floor = new List<double>();
        var byPath = paths.Distinct().ToDictionary(p => p, _ => new List<double>());
        for (var i = 0; i < repetitions; i++)
        {
            foreach (var path in paths)
            {
                byPath[path].Add(await TimeGetAsync(client, path, cancellationToken));
                floor.Add(await TimeGetAsync(client, "/api/v1/types", cancellationToken));
            }
        }
        var latencies = byPath.Values.SelectMany(l => l).Order().ToList();
        floor.Sort();
        var medians = byPath.ToDictionary(p => p.Key, p => Percentile(p.Value.Order().ToList(), 0.5));
        var slowest = medians.MaxBy(m => m.Value);
        var detail = byPath.Count > 1 ? $"; slowest {slowest.Key.Split('?')[0]}, p50 {slowest.Value:F2} ms" : "";
        return new BenchResult(name, $"{what}, p50 {Percentile(latencies, 0.5):F2} ms{detail}",
            Percentile(latencies, 0.95), "ms p95", "GET /api/v1/types p95 (ms)", Percentile(floor, 0.95), target);
    }

    private static async Task<double> TimeGetAsync(HttpClient client, string path, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(path, cancellationToken);
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
        Require(response, HttpStatusCode.OK);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    public static void Require(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
            throw new InvalidOperationException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, expected {(int)expected}.");
    }

    public static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

/// <summary>The process's peak resident memory while it runs, sampled every 20 ms.</summary>
public sealed class PeakMemory : IAsyncDisposable
{
    private readonly Process _process = Process.GetCurrentProcess();
    private readonly CancellationTokenSource _sampling = new();
    private readonly Task _sampler;
    private long _peak;

    private PeakMemory() => _sampler = Task.Run(SampleAsync, CancellationToken.None);

    /// <summary>Collects garbage first, so the peak is the work's own and not what came before.</summary>
    public static PeakMemory Start()
    {
        GC.Collect();
        return new PeakMemory();
    }

    /// <summary>The resident memory now, in bytes.</summary>
    public static long Current()
    {
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    private async Task SampleAsync()
    {
        while (!_sampling.IsCancellationRequested)
        {
            _process.Refresh();
            _peak = Math.Max(_peak, _process.WorkingSet64);
            try { await Task.Delay(20, _sampling.Token); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>Stops sampling; the peak in bytes.</summary>
    public async Task<long> StopAsync()
    {
        await _sampling.CancelAsync();
        await _sampler;
        return _peak;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _sampling.Dispose();
        _process.Dispose();
    }
}

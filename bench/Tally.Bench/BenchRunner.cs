using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Ingest;
using Tally.Core.Query.Sushi;
using Tally.Core.Query;
using Tally.Core.Store;
using Tally.Queue.Inbox;
using Tally.Hosting;
using Tally.Hosting.Demo;
using Tally.Server.Hosting;
using Tally.Sources.Logs;

namespace Tally.Bench;

/// <param name="Goals">Which groups to run: parse, pipeline, http (ingest, aggregation, queries, SUSHI) and import.</param>
/// <param name="Store">The engine's server to create throw-away stores on; null benches the embedded default, DuckDB, in temporary folders.</param>
/// <param name="Scale">Events for <see cref="ScaleBench"/>, which then runs instead of the goal groups.</param>
public sealed record BenchSettings(
    int Events, int BatchSize, int Concurrency, TimeSpan SingleDuration, int QueryRepetitions, string? ConfigPath, int PkpLines, IReadOnlySet<string> Goals,
    StoreLocation? Store = null, string Psql = "psql", string ClickHouseClient = "clickhouse-client", int ClickHouseTcpPort = 9000, int? Scale = null)
{
    public static readonly string[] AllGoals = ["import", "parse", "pipeline", "http"];
}

/// <summary>One measured goal: Tally's figure, the same-run baseline it is compared with, and the ratio.</summary>
public sealed record BenchResult(string Goal, string Measure, double Value, string Unit, string Baseline, double BaselineValue, string Target)
{
    public double Ratio => BaselineValue == 0 ? 0 : Value / BaselineValue;
}

/// <summary>
/// Measures the performance goals docs/benchmarks.md lists on this machine, each next to a baseline taken in the same run
/// (the machine is shared and noisy, so absolute numbers alone mislead).
/// </summary>
public sealed class BenchRunner(BenchSettings settings, BenchStores stores, Action<string> status)
{
    public const string BenchKey = "bench-key-0123456789abcdef";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(CancellationToken cancellationToken)
    {
        var results = new List<BenchResult>();
        var root = stores.Root;
        // Import first, while the process is small, so its peak memory is the import's own.
        if (settings.Goals.Contains("import")) results.AddRange(await PkpImportAsync(root, cancellationToken));
        if (settings.Goals.Overlaps(["parse", "pipeline", "http"]))
        {
            status("generating events");
            var batches = Generate();
            var all = Concat(batches);
            var eventCount = CountLines(all);
            if (settings.Goals.Contains("parse")) results.Add(await ParseAsync(root, batches, all, eventCount, cancellationToken));
            if (settings.Goals.Contains("pipeline")) results.Add(await PipelineAsync(root, batches, eventCount, cancellationToken));
            if (settings.Goals.Contains("http")) results.AddRange(await HttpAsync(root, batches, eventCount, cancellationToken));
        }
        return results;
    }

    private List<ReadOnlyMemory<byte>> Generate()
    {
        const int days = 60;
        return DemoWorkload.Batches(days, settings.Events / days, settings.BatchSize).ToList();
    }

    private string Engine => stores.EngineName;

    /// <summary>Tally's services over a new, empty store of the engine under test.</summary>
    private async Task<ServiceProvider> OpenAsync(string root, string name, CancellationToken cancellationToken) =>
        await TallyServices.OpenAsync(await FreshOptionsAsync(root, name, cancellationToken), cancellationToken: cancellationToken);

    private async Task<TallyHostOptions> FreshOptionsAsync(string root, string name, CancellationToken cancellationToken) =>
        new(Path.Combine(root, name), settings.ConfigPath, AdminKey: BenchKey, Store: await stores.FreshAsync(name, cancellationToken));

    /// <summary>
    /// PKP log import through the whole pipeline into the store (tally import pkp), against a bare
    /// Utf8JsonReader pass over the same file's lines; and the peak memory of importing a file a
    /// quarter the size, to show memory does not grow with the file.
    /// </summary>
    private async Task<IReadOnlyList<BenchResult>> PkpImportAsync(string root, CancellationToken cancellationToken)
    {
        var day = DateTime.UtcNow.Date.AddDays(-1);
        var name = $"usage_events_{day:yyyyMMdd}.log";
        var small = Math.Max(1000, settings.PkpLines / 4);
        status($"writing PKP logs of {small:N0} and {settings.PkpLines:N0} lines");
        var smallLog = Path.Combine(root, "pkp-small", "usageEventLogs", name);
        var largeLog = Path.Combine(root, "pkp-large", "usageEventLogs", name);
        Directory.CreateDirectory(Path.GetDirectoryName(smallLog)!);
        Directory.CreateDirectory(Path.GetDirectoryName(largeLog)!);
        await PkpLogSample.WriteAsync(smallLog, small, day, cancellationToken);
        await PkpLogSample.WriteAsync(largeLog, settings.PkpLines, day, cancellationToken);

        status("bare pass over the PKP log");
        var bare = await Measures.TimeBareLogPassAsync(largeLog, cancellationToken);

        status($"tally import pkp, {small:N0} lines");
        var (_, smallPeak) = await ImportMeasuringMemoryAsync(root, "pkp-small", small, cancellationToken);
        status($"tally import pkp, {settings.PkpLines:N0} lines");
        var (elapsed, largePeak) = await ImportMeasuringMemoryAsync(root, "pkp-large", settings.PkpLines, cancellationToken);
        return
        [
            new BenchResult("PKP log import", $"tally import pkp: parse + robots + anonymize + durable {Engine}, one transaction", settings.PkpLines / elapsed.TotalSeconds, "lines/s",
                "bare Utf8JsonReader pass over the file's lines", settings.PkpLines / bare.TotalSeconds, "≥ 250,000 lines/s"),
            new BenchResult("PKP import memory", $"peak RSS importing {settings.PkpLines:N0} lines", largePeak / 1e6, "MB",
                $"peak RSS importing {small:N0} lines", smallPeak / 1e6, "flat, < 300 MB"),
        ];
    }

    /// <summary>Runs the PKP loader over one folder while sampling the process's resident memory.</summary>
    private async Task<(TimeSpan Elapsed, long PeakBytes)> ImportMeasuringMemoryAsync(string root, string folder, int lines, CancellationToken cancellationToken)
    {
        await using var services = await OpenAsync(root, folder + "-data", cancellationToken);
        await using var memory = PeakMemory.Start();
        var watch = Stopwatch.StartNew();
        var result = await services.GetRequiredService<LogImports>().PkpLoader(Path.Combine(root, folder)).RunAsync(null, cancellationToken);
        var elapsed = watch.Elapsed;
        var peak = await memory.StopAsync();
        var stored = result.Archived.Sum(f => f.Stored);
        if (stored != lines) throw new InvalidOperationException($"the PKP import stored {stored} of {lines} lines");
        return (elapsed, peak);
    }

    /// <summary>EventParser (validation, typed fields, ids) against a bare Utf8JsonReader pass over the same bytes.</summary>
    private async Task<BenchResult> ParseAsync(string root, List<ReadOnlyMemory<byte>> batches, byte[] all, int eventCount, CancellationToken cancellationToken)
    {
        status("parsing");
        await using var services = await OpenAsync(root, "parse", cancellationToken);
        var bare = BestOf(3, () => JsonBaseline.CountTokens(all));
        var parsed = BestOf(3, () => batches.Sum(b => (long)services.GetRequiredService<EventParser>().Parse(b.Span).Events.Count));
        return new BenchResult("Parse", "EventParser", eventCount / parsed.TotalSeconds, "events/s",
            "bare Utf8JsonReader pass", eventCount / bare.TotalSeconds, "≥ 50 % of baseline");
    }

    /// <summary>accept → process → store, against the engine's own bulk load of the same rows.</summary>
    private async Task<BenchResult> PipelineAsync(string root, List<ReadOnlyMemory<byte>> batches, int eventCount, CancellationToken cancellationToken)
    {
        await using var services = await OpenAsync(root, "pipeline", cancellationToken);
        status(stores.BulkPath);
        var rows = batches.Select(b => (IReadOnlyList<TallyEvent>)services.GetRequiredService<EventParser>().Parse(b.Span).Events).ToList();
        var bulk = await stores.BulkLoadAsync(rows, cancellationToken);
        status($"full pipeline into {Engine}");
        var watch = Stopwatch.StartNew();
        foreach (var batch in batches) await services.GetRequiredService<IngestService>().IngestAsync(batch, cancellationToken);
        var pipeline = watch.Elapsed;
        return new BenchResult($"Pipeline into {Engine}", "parse + robots + anonymize + durable store", eventCount / pipeline.TotalSeconds, "events/s",
            stores.BulkPath, eventCount / bulk.TotalSeconds, "≥ 50 % of baseline");
    }

    /// <summary>Real HTTP on loopback against a real server: batch ingest, single-event POSTs, aggregation and queries.</summary>
    private async Task<IReadOnlyList<BenchResult>> HttpAsync(string root, List<ReadOnlyMemory<byte>> batches, int eventCount, CancellationToken cancellationToken)
    {
        await using var app = await TallyServer.BuildAsync(await FreshOptionsAsync(root, "http", cancellationToken), "http://127.0.0.1:0", cancellationToken);
        var services = app.Services;
        await app.StartAsync(cancellationToken);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Concurrency * 2 })
        {
            BaseAddress = new Uri(app.Urls.First()),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BenchKey);
        var results = new List<BenchResult>();

        status("HTTP batch ingest");
        var next = -1;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < batches.Count)
            {
                using var content = new ReadOnlyMemoryContent(batches[i]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                using var response = await client.PostAsync("/api/v1/events", content, cancellationToken);
                Measures.Require(response, HttpStatusCode.Accepted);
            }
        }));
        var batchRate = eventCount / watch.Elapsed.TotalSeconds;
        // A 202 means the events are on disk in the inbox; the rate at which the store takes them is the other half.
        await services.GetRequiredService<EventInbox>().WaitUntilStoredAsync(cancellationToken);
        var storedRate = eventCount / watch.Elapsed.TotalSeconds;
        var pipelineAlone = await TimeIngestWithoutHttpAsync(root, batches, cancellationToken);
        results.Add(new BenchResult("HTTP batch ingest", $"{settings.BatchSize}-event NDJSON POSTs, {settings.Concurrency} clients, durable 202 (inbox); all stored at {storedRate:N0} events/s",
            batchRate, "events/s", "same pipeline without HTTP", eventCount / pipelineAlone.TotalSeconds, "≥ 100,000 events/s"));

        status("single-event POSTs");
        var floor = await SinglesAsync(client, valid: false, cancellationToken);
        var singles = await SinglesAsync(client, valid: true, cancellationToken);
        results.Add(new BenchResult("Single-event POSTs", $"{settings.Concurrency} clients, p50 {singles.P50:F2} ms, p99 {singles.P99:F2} ms",
            singles.Rate, "requests/s", $"400 round trip on the same server: a refused event (p99 {floor.P99:F2} ms)", floor.Rate, "≥ 15,000 req/s, p99 < 10 ms"));

        status("aggregation");
        var scan = await Measures.TimeScanAsync(services, DateTime.MinValue, DateTime.MaxValue, cancellationToken);
        var aggregation = await services.GetRequiredService<Aggregator>().RunAsync(rebuild: true, cancellationToken: cancellationToken);
        var stored = aggregation.Events;
        results.Add(new BenchResult("Aggregation", $"rebuild of {stored:N0} events, {aggregation.Days} days; 10 M would take {10_000_000 / (stored / aggregation.Elapsed.TotalSeconds):F1} s",
            stored / aggregation.Elapsed.TotalSeconds, "events/s", "bare scan of the same raw rows", stored / scan.TotalSeconds, "10 M events < 15 s"));

        status("queries");
        results.Add(await QueriesAsync(client, services, cancellationToken));
        status("SUSHI reports");
        results.Add(await SushiReportsAsync(client, services, cancellationToken));
        await app.StopAsync(cancellationToken);
        return results;
    }

    private async Task<TimeSpan> TimeIngestWithoutHttpAsync(string root, List<ReadOnlyMemory<byte>> batches, CancellationToken cancellationToken)
    {
        await using var services = await OpenAsync(root, "no-http", cancellationToken);
        var next = -1;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < batches.Count) await services.GetRequiredService<IngestService>().IngestAsync(batches[i], cancellationToken);
        }));
        return watch.Elapsed;
    }

    private sealed record LatencyStats(double Rate, double P50, double P95, double P99);

    /// <summary>
    /// Single-event POSTs for the set time. Invalid ones measure the HTTP floor: the same route, key check and parse,
    /// refused with a 400 before the store (a request without a key would meet the anonymous rate limit instead).
    /// </summary>
    private async Task<LatencyStats> SinglesAsync(HttpClient client, bool valid, CancellationToken cancellationToken)
    {
        var latencies = new List<double>[settings.Concurrency];
        var deadline = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = [];
            var n = 0;
            while (deadline.Elapsed < settings.SingleDuration)
            {
                var time = valid ? "" : "\"timestamp\":\"not a time\",";
                var body = $$"""{"type":"record-view",{{time}}"item_id":"record-{{n++ % 5000}}","ip":"10.0.{{worker}}.{{n % 250}}","user_agent":"Mozilla/5.0 bench"}""";
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                var started = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request, cancellationToken);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                Measures.Require(response, valid ? HttpStatusCode.Accepted : HttpStatusCode.BadRequest);
            }
        }));
        var all = latencies.SelectMany(l => l).Order().ToList();
        return new LatencyStats(all.Count / deadline.Elapsed.TotalSeconds, Measures.Percentile(all, 0.50), Measures.Percentile(all, 0.95), Measures.Percentile(all, 0.99));
    }

    /// <summary>Every registered query's timeline and totals over the last 60 days, p95 over all of them.</summary>
    private Task<BenchResult> QueriesAsync(HttpClient client, IServiceProvider services, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var range = string.Create(CultureInfo.InvariantCulture, $"dateStart={today.AddDays(-59):yyyy-MM-dd}&dateEnd={today:yyyy-MM-dd}");
        var paths = services.GetRequiredService<TallySchema>().Queries.Keys
            .SelectMany(q => new[] { $"/api/v1/stats/{q}/timeline?{range}", $"/api/v1/stats/{q}/totals?{range}&count=10", $"/api/v1/stats/{q}/timeline?{range}&interval=month" })
            .ToList();
        return Measures.LatencyAsync(client, "Queries", $"{paths.Count} timelines and top-10s", paths, settings.QueryRepetitions, "p95 < 20 ms", cancellationToken);
    }

    /// <summary>Monthly COUNTER reports for all usage, the way a SUSHI harvester asks for them.</summary>
    private Task<BenchResult> SushiReportsAsync(HttpClient client, IServiceProvider services, CancellationToken cancellationToken)
    {
        var month = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyy-MM}");
        var paths = services.GetRequiredService<SushiService>().Supported
            .Select(r => $"/r51/reports/{r.PathId}?customer_id=0000000000000000&begin_date={month}&end_date={month}")
            .ToList();
        return Measures.LatencyAsync(client, "SUSHI reports", $"{paths.Count} monthly reports (PR, TR, IR and views)", paths, settings.QueryRepetitions, "p95 < 20 ms", cancellationToken);
    }

    private static TimeSpan BestOf(int runs, Func<long> work)
    {
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            work();
            if (watch.Elapsed < best) best = watch.Elapsed;
        }
        return best;
    }

    private static byte[] Concat(List<ReadOnlyMemory<byte>> batches)
    {
        var all = new byte[batches.Sum(b => b.Length)];
        var offset = 0;
        foreach (var batch in batches)
        {
            batch.Span.CopyTo(all.AsSpan(offset));
            offset += batch.Length;
        }
        return all;
    }

    private static int CountLines(byte[] ndjson) => ndjson.AsSpan().Count((byte)'\n');
}

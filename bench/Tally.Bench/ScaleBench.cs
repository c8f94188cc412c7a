using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Server.Hosting;
using Tally.Sources.Logs;

namespace Tally.Bench;

/// <summary>
/// `tally bench --scale N`: N events of realistic usage over two months, taken the way a site takes them (tally import
/// ndjson, tally aggregate, a day's new events and an incremental run, then reports from tally serve over loopback),
/// each figure beside its goal at 10 M events and, where one makes sense, a baseline from the same run.
/// </summary>
public sealed class ScaleBench(BenchSettings settings, BenchStores stores, Action<string> status)
{
    /// <summary>New events before the incremental run, or N when that is fewer.</summary>
    public const int MoreEvents = 100_000;
    private const int Days = 61;
    private const int TopCount = 10;

    public async Task<IReadOnlyList<BenchResult>> RunAsync(CancellationToken cancellationToken)
    {
        var scale = settings.Scale ?? throw new InvalidOperationException("the scale bench needs --scale");
        var today = DateTime.UtcNow.Date;
        var yesterday = today.AddDays(-1);
        var moreEvents = Math.Min(MoreEvents, scale);
        var history = Path.Combine(stores.Root, "history.ndjson");
        var more = Path.Combine(stores.Root, "more.ndjson");
        status($"generating {scale:N0} events over the {Days} days before yesterday");
        var generated = await ScaleWorkload.WriteAsync(history, scale, yesterday.AddDays(-Days), yesterday, seed: 2026, cancellationToken);
        status($"generating {moreEvents:N0} events of yesterday");
        var moreGenerated = await ScaleWorkload.WriteAsync(more, moreEvents, yesterday, today, seed: 2027, cancellationToken);

        var options = new TallyHostOptions(Path.Combine(stores.Root, "scale"), settings.ConfigPath, AdminKey: BenchRunner.BenchKey,
            Store: await stores.FreshAsync("scale", cancellationToken));
        var results = new List<BenchResult>();
        await using (var services = await TallyServices.OpenAsync(options, cancellationToken: cancellationToken))
        {
            results.AddRange(await ImportAndAggregateAsync(services, history, generated, more, moreGenerated, yesterday, today, cancellationToken));
        }
        var storedEvents = generated + moreGenerated;
        var disk = await stores.DiskBytesAsync(options.Store!, cancellationToken);
        var source = new FileInfo(history).Length + new FileInfo(more).Length;
        results.Add(new BenchResult("Disk", $"{Engine} after import and aggregation, {disk / 1e6:F0} MB for {storedEvents:N0} events", (double)disk / storedEvents, "B/event",
            "the NDJSON the events came in", (double)source / storedEvents, "< 60 B/event"));
        results.AddRange(await ReadsAsync(options, today, cancellationToken));
        return results;
    }

    private string Engine => stores.EngineName;

    /// <summary>tally import ndjson of the history, a full aggregation, then a day's new events and an incremental aggregation.</summary>
    private async Task<IReadOnlyList<BenchResult>> ImportAndAggregateAsync(IServiceProvider services, string history, long lines, string more, long moreLines,
        DateTime newFrom, DateTime newTo, CancellationToken cancellationToken)
    {
        var importer = services.GetRequiredService<LogImports>().Importer(new NdjsonLogFormat(services.GetRequiredService<EventParser>()));
        status("bare pass over the NDJSON");
        var bare = await Measures.TimeBareLogPassAsync(history, cancellationToken);

        status($"tally import ndjson, {lines:N0} lines");
        var idle = PeakMemory.Current();
        LogImportResult imported;
        long peak;
        await using (var memory = PeakMemory.Start())
        {
            imported = await importer.ImportFileAsync(history, history + ".rejected.ndjson", null, cancellationToken);
            peak = await memory.StopAsync();
        }
        Expect(imported, lines);

        var aggregator = services.GetRequiredService<Aggregator>();
        status("bare scan of the raw rows");
        var scan = await Measures.TimeScanAsync(services, DateTime.MinValue, DateTime.MaxValue, cancellationToken);
        status($"aggregation of {imported.Stored:N0} events");
        var full = await aggregator.RunAsync(rebuild: true, cancellationToken: cancellationToken);

        status($"tally import ndjson, {moreLines:N0} more lines, and an incremental aggregation");
        Expect(await importer.ImportFileAsync(more, more + ".rejected.ndjson", null, cancellationToken), moreLines);
        var newScan = await Measures.TimeScanAsync(services, newFrom, newTo, cancellationToken);
        var incremental = await aggregator.RunAsync(cancellationToken: cancellationToken);

        var rate = full.Events / full.Elapsed.TotalSeconds;
        return
        [
            new BenchResult("NDJSON import", $"tally import ndjson of {lines:N0} lines: parse + robots + anonymize + durable {Engine}, one transaction",
                lines / imported.Elapsed.TotalSeconds, "lines/s", "bare Utf8JsonReader pass over the file's lines", lines / bare.TotalSeconds, "≥ 250,000 lines/s"),
            new BenchResult("Import memory", $"peak RSS importing {lines:N0} lines", peak / 1e6, "MB", "RSS before the import, store open", idle / 1e6, "flat, < 300 MB"),
            new BenchResult("Aggregation", $"rebuild of {full.Events:N0} events, {full.Days} type-days, {full.Elapsed.TotalSeconds:F1} s; 10 M would take {10_000_000 / rate:F1} s",
                rate, "events/s", "bare scan of the same raw rows", full.Events / scan.TotalSeconds, "10 M events < 15 s"),
            new BenchResult("Incremental aggregation", $"after {moreLines:N0} new events: {incremental.Days} type-days again, {incremental.Months} ended month(s) rolled up",
                incremental.Elapsed.TotalSeconds, "s", "bare scan of the new day's raw rows (s)", newScan.TotalSeconds, "< 1 s"),
        ];
    }

    private static void Expect(LogImportResult result, long lines)
    {
        if (result.Lines != lines || result.Rejected > 0)
            throw new InvalidOperationException($"{result.File}: read {result.Lines:N0} of {lines:N0} lines, {result.Rejected:N0} rejected");
    }

    /// <summary>SUSHI reports for last month and every registered query over 90 days, from a real server on loopback.</summary>
    private async Task<IReadOnlyList<BenchResult>> ReadsAsync(TallyHostOptions options, DateTime today, CancellationToken cancellationToken)
    {
        await using var app = await TallyServer.BuildAsync(options, "http://127.0.0.1:0", cancellationToken);
        await app.StartAsync(cancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BenchRunner.BenchKey);
        var repetitions = settings.QueryRepetitions;
        var results = new List<BenchResult>();

        var month = string.Create(CultureInfo.InvariantCulture, $"{today.AddMonths(-1):yyyy-MM}");
        foreach (var (report, target) in new[] { ("PR", "p95 < 20 ms"), ("TR", "p95 < 20 ms"), ("IR", "p95 < 500 ms") })
        {
            status($"SUSHI {report}");
            var path = $"/r51/reports/{report.ToLowerInvariant()}?customer_id=0000000000000000&begin_date={month}&end_date={month}";
            // The first request after aggregation builds the report; the closed month's later ones may be served from the cache.
            var floor = await Measures.TimeGetAsync(client, "/api/v1/types", cancellationToken);
            results.Add(new BenchResult($"SUSHI {report}, first", $"{month}, The World, the first request after aggregation",
                await Measures.TimeGetAsync(client, path, cancellationToken), "ms", "GET /api/v1/types (ms)", floor, target.Replace("p95 ", "")));
            results.Add(await Measures.LatencyAsync(client, $"SUSHI {report}", $"{month}, The World, after the first", [path], repetitions, target, cancellationToken));
        }

        var range = string.Create(CultureInfo.InvariantCulture, $"dateStart={today.AddDays(-90):yyyy-MM-dd}&dateEnd={today.AddDays(-1):yyyy-MM-dd}");
        var queries = app.Services.GetRequiredService<TallySchema>().Queries.Keys.ToList();
        status("query timelines");
        results.Add(await Measures.LatencyAsync(client, "Query timelines", $"{queries.Count} queries, 90 days by day",
            queries.Select(q => $"/api/v1/stats/{q}/timeline?{range}").ToList(), repetitions, "p95 < 20 ms", cancellationToken));
        status("query top-N");
        results.Add(await Measures.LatencyAsync(client, "Query top-N", $"{queries.Count} queries, top {TopCount} over 90 days",
            queries.Select(q => $"/api/v1/stats/{q}/totals?{range}&count={TopCount}").ToList(), repetitions, "p95 < 20 ms", cancellationToken));
        await app.StopAsync(cancellationToken);
        return results;
    }
}

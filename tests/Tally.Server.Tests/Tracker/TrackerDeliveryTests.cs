using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tally.Server.Tests.Logs;
using Tally.Sources.Logs;
using Tally.Tracker;

namespace Tally.Server.Tests.Tracker;

/// <summary>The tracker SDK's backends delivering to a real Tally: over HTTP through restarts of either side, and as PKP logs.</summary>
public sealed class TrackerDeliveryTests
{
    private const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static HttpBackendOptions Options(string url, string spool) => new()
    {
        Url = new Uri(url),
        ApiKey = TestConfig.WriteKey,
        SpoolDirectory = spool,
        BatchSize = 40,
        FlushInterval = TimeSpan.FromMilliseconds(200),
        MinRetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(500),
        ShutdownTimeout = TimeSpan.FromSeconds(1),
    };

    /// <summary>Emits <paramref name="count"/> record views, each inside a reader's request context, as an application would.</summary>
    private static void EmitViews(global::Tally.Tracker.Tracker tracker, int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            using var request = tracker.Context("request", new Dictionary<string, object?> { ["ip"] = $"198.51.100.{i % 200}", ["user_agent"] = Firefox, ["user_id"] = $"reader-{i % 50}" });
            tracker.Emit("record-view", new Dictionary<string, object?> { ["item_id"] = $"record-{i % 17}", ["n"] = i });
        }
    }

    private static async Task<long> StoredAsync(string url)
    {
        using var http = new HttpClient();
        using var json = JsonDocument.Parse(await http.GetStringAsync($"{url}/api/v1/events?type=record-view&delta=86400&rows_per_page=1"));
        return json.RootElement.GetProperty("total").GetInt64();
    }

    private static long SpooledLines(string spool) =>
        Directory.GetFiles(spool, "*.ndjson.gz").Sum(path => long.Parse(Path.GetFileName(path).Split('-')[2].Split('.')[0], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Events_wait_in_the_spool_while_tally_is_away_and_arrive_once_across_restarts_of_either_side()
    {
        var root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(root);
        var data = Path.Combine(root, "data");
        var spool = Path.Combine(root, "spool");
        var url = $"http://127.0.0.1:{FreePort()}";

        // Tally is not running: the application emits, then stops; its events stay on disk.
        await using (var firstRun = new HttpBackend(Options(url, spool)))
        {
            EmitViews(new global::Tally.Tracker.Tracker(firstRun), 0, 100);
        }
        Assert.Equal(100, SpooledLines(spool));

        // What a kill -9 in the middle of a write leaves: an open segment with a torn last line.
        var torn = string.Concat(Enumerable.Range(0, 2).Select(i => $$"""{"type":"record-view","id":"torn-{{i}}","item_id":"record-x","user_agent":"{{Firefox}}"}""" + "\n"));
        await File.WriteAllTextAsync(Path.Combine(spool, "0000000000000000001-000001.open"), torn + """{"type":"record-view","id":"torn-2","item_""");

        // Tally starts; the application restarts, sends what waited and goes on.
        var tally = await TallyProcess.ServeAtAsync(url, root, data, config);
        try
        {
            var log = new ListLogger();
            await using var secondRun = new HttpBackend(Options(url, spool), logger: log);
            var tracker = new global::Tally.Tracker.Tracker(secondRun);
            EmitViews(tracker, 100, 50);
            await secondRun.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(152, await StoredAsync(url));

            // Tally is killed; the application keeps emitting; Tally comes back on the same data.
            tally.Kill();
            EmitViews(tracker, 150, 70);
            await Eventually.UntilAsync(() => log.Entries.Any(e => e.Message.Contains("is unreachable", StringComparison.Ordinal)), "the backend found Tally gone");
            Assert.True(secondRun.Pending >= 70, $"{secondRun.Pending} events pending while Tally is down");
            tally.Dispose();
            tally = await TallyProcess.ServeAtAsync(url, root, data, config);
            await secondRun.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(222, await StoredAsync(url));
            Assert.Equal(0, secondRun.Pending);
        }
        finally
        {
            tally.Dispose();
        }
        Assert.Empty(Directory.GetFiles(spool, "*.ndjson.gz"));
        Assert.Empty(Directory.GetFiles(spool, "*.open"));
    }

    [Fact]
    public async Task A_resent_event_is_stored_once_and_a_batch_tally_refuses_is_kept_with_the_reason()
    {
        await using var host = await TallyHost.StartAsync();
        var spool = Path.Combine(TestPaths.NewTempDirectory(), "spool");
        var url = host.Client.BaseAddress!.ToString().TrimEnd('/');
        var view = new TrackerEvent("record-view", DateTime.UtcNow, new Dictionary<string, object?> { ["user_agent"] = Firefox }, new Dictionary<string, object?> { ["item_id"] = "r1" });
        await using (var backend = new HttpBackend(Options(url, spool) with { BatchSize = 1 }))
        {
            backend.Send(view);
            await backend.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
            // As after a timeout that hid Tally's answer: the same event again, in a later batch.
            backend.Send(view with { Data = new Dictionary<string, object?> { ["item_id"] = "r1", ["retry"] = true } });
            backend.Send(new TrackerEvent("video.played", DateTime.UtcNow, new Dictionary<string, object?>(), new Dictionary<string, object?> { ["item_id"] = "v" }));
            await backend.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.Equal(1, await Usage.EventCountAsync(host, "type=record-view"));
        var rejected = Path.Combine(spool, "rejected");
        var kept = Assert.Single(Directory.GetFiles(rejected, "*.ndjson.gz"));
        var reason = await File.ReadAllTextAsync(kept + ".reason.txt");
        Assert.StartsWith("400 Bad Request", reason, StringComparison.Ordinal);
        Assert.Contains("'video.played' is not a known event type", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_usage_through_a_pkp_log_branch_and_an_http_branch_gives_the_same_counter_numbers()
    {
        var yesterday = DateTime.UtcNow.Date.AddDays(-1);
        var visits = PkpVisit.Day(yesterday, readers: 40);
        await using var overHttp = await TallyHost.StartAsync(Usage.BuiltInTypes);
        await using var fromLog = await TallyHost.StartAsync(Usage.BuiltInTypes);
        var usageStats = Path.Combine(fromLog.DataDirectory, "usageStats");
        var spool = Path.Combine(TestPaths.NewTempDirectory(), "spool");

        await using (var tree = new RoutingBackend([],
        [
            new("tally", new HttpBackend(Options(overHttp.Client.BaseAddress!.ToString(), spool) with { BatchSize = 500 })),
            new("pkp", new FileBackend(Path.Combine(usageStats, "usageEventLogs"), TrackerFileFormat.Pkp)),
        ]))
        {
            foreach (var visit in visits) tree.Send(AsTrackerEvent(visit));
            await tree.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        var loaded = await fromLog.Get<LogImports>().PkpLoader(usageStats).RunAsync(null, CancellationToken.None);
        Assert.Equal(visits.Count, Assert.Single(loaded.Archived).Stored);
        await overHttp.AggregateAsync();
        await fromLog.AggregateAsync();

        foreach (var report in (string[])["pr", "tr", "ir"])
        {
            var httpMetrics = await Usage.MetricsAsync(overHttp, report, yesterday, yesterday.AddDays(1));
            Assert.NotEmpty(httpMetrics);
            Assert.Equal(httpMetrics.OrderBy(m => m.Key), (await Usage.MetricsAsync(fromLog, report, yesterday, yesterday.AddDays(1))).OrderBy(m => m.Key));
        }
        foreach (var type in (string[])["context-view", "issue-view", "record-view", "file-download", "supplementary-download"])
            Assert.Equal(await Usage.EventCountAsync(overHttp, $"type={type}"), await Usage.EventCountAsync(fromLog, $"type={type}"));
    }

    /// <summary>
    /// A visit as a PKP application would emit it: Tally's fields for the HTTP branch (the same the HTTP
    /// test of the PKP loader sends), and PKP's ids for the log branch.
    /// </summary>
    private static TrackerEvent AsTrackerEvent(PkpVisit visit)
    {
        using var http = JsonDocument.Parse(visit.HttpEvent("unused"));
        var data = http.RootElement.EnumerateObject()
            .Where(p => p.Name is not ("type" or "id" or "timestamp"))
            .ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        data["assocType"] = visit.AssocType;
        data["contextId"] = 1;
        data["submissionId"] = visit.SubmissionId;
        data["representationId"] = visit.FileId is null ? null : 1;
        data["submissionFileId"] = visit.FileId;
        data["fileType"] = visit.FileType;
        data["issueId"] = visit.IssueId;
        return new TrackerEvent(http.RootElement.GetProperty("type").GetString()!, visit.Time, new Dictionary<string, object?>(), data);
    }
}

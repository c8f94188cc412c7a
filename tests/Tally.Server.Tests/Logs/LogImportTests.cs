using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Sources.Logs;

namespace Tally.Server.Tests.Logs;

/// <summary>Usage from log files: PKP's directory life cycle, atomic and exactly-once loads, access logs and NDJSON.</summary>
public sealed class LogImportTests
{
    private static readonly DateTime Today = DateTime.UtcNow.Date;
    private static readonly DateTime Yesterday = Today.AddDays(-1);

    private static string LogName(DateTime day) => $"usage_events_{day:yyyyMMdd}.log";

    private static async Task<string> WritePkpLogAsync(string folder, DateTime day, IEnumerable<string> lines)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, LogName(day));
        await File.WriteAllLinesAsync(path, lines);
        return path;
    }

    private static Task<(int ExitCode, string Out, string Error)> TallyAsync(string root, params string[] arguments) =>
        TallyProcess.RunAsync(root, [.. arguments, "--data", Path.Combine(root, "data"), "--config", Path.Combine(root, "tally.json")]);

    private static string[] FilesIn(string root, string folder) =>
        Directory.Exists(Path.Combine(root, folder)) ? Directory.GetFiles(Path.Combine(root, folder)).Select(f => Path.GetFileName(f)).Order().ToArray() : [];

    [Fact]
    public async Task A_pkp_log_counts_exactly_what_the_same_usage_sent_over_http_counts()
    {
        var visits = PkpVisit.Day(Yesterday, readers: 60);
        await using var fromLog = await TallyHost.StartAsync(Usage.BuiltInTypes);
        var usageStats = Path.Combine(fromLog.DataDirectory, "usageStats");
        await WritePkpLogAsync(Path.Combine(usageStats, "usageEventLogs"), Yesterday, visits.Select(v => v.LogLine()));
        var loaded = await fromLog.Get<LogImports>().PkpLoader(usageStats).RunAsync(null, CancellationToken.None);
        Assert.Equal(visits.Count, Assert.Single(loaded.Archived).Stored);
        await fromLog.AggregateAsync();

        await using var overHttp = await TallyHost.StartAsync(Usage.BuiltInTypes);
        using (var response = await overHttp.PostEventsAsync(string.Join('\n', visits.Select((v, i) => v.HttpEvent($"visit-{i}"))), contentType: "application/x-ndjson"))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.Equal(visits.Count, JsonDocument.Parse(body).RootElement.GetProperty("stored").GetInt32());
        }
        await overHttp.AggregateAsync();

        foreach (var report in (string[])["pr", "tr", "ir"])
        {
            var logMetrics = await Usage.MetricsAsync(fromLog, report, Yesterday, Today);
            var httpMetrics = await Usage.MetricsAsync(overHttp, report, Yesterday, Today);
            Assert.Equal(httpMetrics.OrderBy(m => m.Key), logMetrics.OrderBy(m => m.Key));
        }
        var metrics = await Usage.MetricsAsync(fromLog, "pr", Yesterday, Today);
        var requests = visits.Count(v => v.AssocType == 0x203 && v.UserAgent != PkpVisit.Googlebot);
        // Double-clicks and the crawler are not counted, and supplementary files are investigations only.
        Assert.InRange(metrics["Total_Item_Requests"], 1, requests - 1);
        Assert.True(metrics["Total_Item_Investigations"] > metrics["Total_Item_Requests"]);
        foreach (var type in (string[])["context-view", "issue-view", "record-view", "file-download", "supplementary-download"])
            Assert.Equal(await Usage.EventCountAsync(overHttp, $"type={type}"), await Usage.EventCountAsync(fromLog, $"type={type}"));
    }

    [Fact]
    public async Task The_directory_life_cycle_archives_good_files_rejects_unreadable_ones_and_leaves_todays_log()
    {
        var root = TestPaths.NewTempDirectory();
        TestConfig.Write(root, Usage.BuiltInTypes);
        var usageStats = Path.Combine(root, "usageStats");
        var waiting = Path.Combine(usageStats, "usageEventLogs");
        var good = PkpVisit.Day(Yesterday.AddDays(-1), readers: 10).Select(v => v.LogLine()).ToList();
        good.Insert(3, """{"time":"yesterday","contextId":1,"assocType":256,"institutionIds":[]}""");
        good.Insert(7, """{"time":"2026-01-01 00:00:00","contextId":1,"assocType":1048585,"submissionId":null,"institutionIds":[]}""");
        await WritePkpLogAsync(waiting, Yesterday.AddDays(-1), good);
        await WritePkpLogAsync(waiting, Yesterday, PkpVisit.Day(Yesterday, readers: 5).Select(v => v.LogLine()));
        await File.WriteAllBytesAsync(Path.Combine(waiting, "usage_events_20200101.log"), [0x1f, 0x8b, 0x00, 0xff, 0x10, 0x0a, 0x42, 0x0a]);
        var todays = await WritePkpLogAsync(waiting, Today, PkpVisit.Day(Today, readers: 3).Select(v => v.LogLine()));

        var (exit, output, error) = await TallyAsync(root, "import", "pkp", usageStats);

        Assert.Equal(1, exit); // one file could not be read at all
        Assert.Equal([LogName(Today)], FilesIn(usageStats, "usageEventLogs"));
        Assert.Empty(FilesIn(usageStats, "stage"));
        Assert.Empty(FilesIn(usageStats, "processing"));
        Assert.Equal([LogName(Yesterday.AddDays(-1)), LogName(Yesterday)], FilesIn(usageStats, "archive"));
        // The unreadable file goes whole, with the reason beside it and why each line failed.
        Assert.Equal(["usage_events_20200101.log", "usage_events_20200101.log.reason.txt", "usage_events_20200101.log.rejected.ndjson",
            LogName(Yesterday.AddDays(-1)) + ".rejected.ndjson"], FilesIn(usageStats, "reject"));
        Assert.Contains("cannot be read", output + error);
        Assert.Contains("left in usageEventLogs", output);

        var rejected = (await File.ReadAllLinesAsync(Path.Combine(usageStats, "reject", LogName(Yesterday.AddDays(-1)) + ".rejected.ndjson")))
            .Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal([4L, 8L], rejected.Select(r => r.GetProperty("line").GetInt64()));
        Assert.Equal(["time", "submissionId"], rejected.Select(r => r.GetProperty("field").GetString()));
        Assert.All(rejected, r => Assert.False(string.IsNullOrWhiteSpace(r.GetProperty("reason").GetString())));

        await using (var host = await TallyHost.StartAsync(Usage.BuiltInTypes, root))
        {
            var stored = 0L;
            foreach (var type in (string[])["context-view", "issue-view", "record-view", "file-download", "supplementary-download"])
                stored += await Usage.EventCountAsync(host, $"type={type}");
            Assert.Equal(good.Count - 2 + PkpVisit.Day(Yesterday, readers: 5).Count, stored);
            await host.StopKeepingDataAsync();
        }

        // Loading the same file again (PKP put it back, or a second copy arrived) stores nothing twice.
        File.Copy(Path.Combine(usageStats, "archive", LogName(Yesterday)), Path.Combine(waiting, LogName(Yesterday)));
        (exit, output, _) = await TallyAsync(root, "import", "pkp", usageStats);
        Assert.Equal(0, exit);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"0 stored, {PkpVisit.Day(Yesterday, readers: 5).Count:N0} already stored"), output);
        Assert.True(File.Exists(todays));
    }

    [Fact]
    public async Task Killing_the_import_between_stage_and_archive_leaves_no_partial_counts_and_a_rerun_loads_the_file_once()
    {
        var root = TestPaths.NewTempDirectory();
        TestConfig.Write(root, Usage.BuiltInTypes);
        var usageStats = Path.Combine(root, "usageStats");
        var day = PkpVisit.Day(Yesterday, readers: 200);
        const int copies = 250;
        // A large log: the same day of visits many times over, each line its own event.
        await WritePkpLogAsync(Path.Combine(usageStats, "usageEventLogs"), Yesterday, Enumerable.Range(0, copies).SelectMany(_ => day.Select(v => v.LogLine())));
        var lines = day.Count * copies;

        var info = TallyProcess.StartInfo(root, "import", "pkp", usageStats, "--data", Path.Combine(root, "data"), "--config", Path.Combine(root, "tally.json"));
        using (var import = System.Diagnostics.Process.Start(info)!)
        {
            var processing = Path.Combine(usageStats, "processing", LogName(Yesterday));
            // Killed once its progress (printed every 10 % of the file read) says it is midway through the file's one transaction.
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            string? progress;
            while ((progress = await import.StandardError.ReadLineAsync(patience.Token)) is not null
                && !System.Text.RegularExpressions.Regex.IsMatch(progress, @": [1-9][0-9]?% "))
            {
            }
            import.Kill(entireProcessTree: true);
            await import.WaitForExitAsync();
            Assert.True(File.Exists(processing), "the import was not caught while processing the file");
        }

        await using (var host = await TallyHost.StartAsync(Usage.BuiltInTypes, root))
        {
            Assert.Equal(0, await Usage.EventCountAsync(host, "type=record-view"));
            await host.StopKeepingDataAsync();
        }

        var (exit, output, error) = await TallyAsync(root, "import", "pkp", usageStats);
        Assert.True(exit == 0, output + error);
        Assert.Empty(FilesIn(usageStats, "stage"));
        Assert.Empty(FilesIn(usageStats, "processing"));
        Assert.Equal([LogName(Yesterday)], FilesIn(usageStats, "archive"));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"{lines:N0} lines, {lines:N0} stored, 0 already stored"), output);
    }

    [Fact]
    public async Task Serve_loads_pkp_logs_on_its_schedule()
    {
        var root = TestPaths.NewTempDirectory();
        var usageStats = Path.Combine(root, "usageStats");
        var visits = PkpVisit.Day(Yesterday, readers: 8);
        await WritePkpLogAsync(Path.Combine(usageStats, "usageEventLogs"), Yesterday, visits.Select(v => v.LogLine()));
        await using var host = await TallyHost.StartAsync(config =>
        {
            Usage.BuiltInTypes(config);
            config["sources"] = new JsonObject { ["pkp"] = new JsonObject { ["directory"] = usageStats, ["loadEverySeconds"] = 1 } };
        }, root);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (FilesIn(usageStats, "archive").Length == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal([LogName(Yesterday)], FilesIn(usageStats, "archive"));
        Assert.Equal(visits.Count(v => v.AssocType == 0x100), await Usage.EventCountAsync(host, "type=context-view"));
    }

    private const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private const string Bingbot = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";

    private static string Access(DateTime when, string ip, string request, int status, string agent) =>
        string.Create(CultureInfo.InvariantCulture, $"""{ip} - - [{when:dd/MMM/yyyy:HH:mm:ss} +0000] "{request}" {status} 2048 "-" "{agent}" """);

    /// <summary>A new folder configured with the built-in types and the access-log rules.</summary>
    private static string AccessLogRoot()
    {
        var root = TestPaths.NewTempDirectory();
        TestConfig.Write(root, AccessRules);
        return root;
    }

    private static void AccessRules(JsonObject config)
    {
        Usage.BuiltInTypes(config);
        config["sources"] = new JsonObject
        {
            ["accessLogRules"] = new JsonArray(
                new JsonObject { ["pattern"] = @"^/records/(?<item_id>[^/?]+)/files/[^?]+\.(?<format>pdf)$", ["type"] = "file-download" },
                new JsonObject { ["pattern"] = @"^/records/(?<item_id>[^/?]+)$", ["type"] = "record-view" }),
        };
    }

    [Fact]
    public async Task Apache_logs_count_successful_human_requests_once_per_double_click()
    {
        var root = AccessLogRoot();
        var t = Yesterday.AddHours(10);
        var log = Path.Combine(root, "access.log");
        await File.WriteAllLinesAsync(log,
        [
            Access(t, "198.51.100.7", "GET /records/rec-1 HTTP/1.1", 200, Firefox),
            Access(t.AddSeconds(30), "198.51.100.7", "GET /records/rec-1/files/paper.pdf HTTP/1.1", 200, Firefox),
            Access(t.AddSeconds(40), "198.51.100.7", "GET /records/rec-1/files/paper.pdf HTTP/1.1", 200, Firefox), // double-click
            Access(t.AddSeconds(200), "198.51.100.7", "GET /records/rec-1/files/paper.pdf HTTP/1.1", 304, Firefox),
            Access(t.AddSeconds(210), "198.51.100.7", "GET /records/rec-2/files/gone.pdf HTTP/1.1", 404, Firefox),
            Access(t.AddSeconds(220), "198.51.100.7", "HEAD /records/rec-1/files/paper.pdf HTTP/1.1", 200, Firefox),
            Access(t.AddSeconds(230), "198.51.100.7", "GET /about HTTP/1.1", 200, Firefox),
            Access(t.AddSeconds(240), "203.0.113.5", "GET /records/rec-1/files/paper.pdf HTTP/1.1", 200, Bingbot),
            Access(t.AddSeconds(250), "203.0.113.9", "GET /records/rec-3 HTTP/1.1", 200, Firefox),
            "this line is not an access log line",
            Access(t.AddSeconds(260), "203.0.113.9", "GET /records/rec-3 HTTP/1.1", 500, Firefox),
        ]);

        var (exit, output, error) = await TallyAsync(root, "import", "combined", log);
        Assert.True(exit == 0, output + error);
        Assert.Contains("11 lines, 6 stored, 0 already stored, 4 skipped, 0 dropped by filters, 1 rejected", output);
        var reject = JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(log + ".rejected.ndjson"))).RootElement;
        Assert.Equal(10, reject.GetProperty("line").GetInt32());
        Assert.Equal("this line is not an access log line", reject.GetProperty("text").GetString());

        await using var host = await TallyHost.StartAsync(AccessRules, root);
        await host.AggregateAsync();
        var metrics = await Usage.MetricsAsync(host, "pr", Yesterday, Today);
        // rec-1: a view, and downloads at +30 s, +40 s (the same click twice) and +200 s; the bot's download is not counted.
        Assert.Equal(2, metrics["Total_Item_Requests"]);
        Assert.Equal(1, metrics["Unique_Item_Requests"]);
        Assert.Equal(2 + 2, metrics["Total_Item_Investigations"]); // rec-1's view and two requests, rec-3's view
        Assert.Equal(2, metrics["Unique_Item_Investigations"]);
        using var robots = JsonDocument.Parse(await host.Client.GetStringAsync($"/api/v1/events?start={Yesterday:yyyy-MM-dd}&end={Today.AddDays(1):yyyy-MM-dd}&type=file-download"));
        Assert.Equal(1, robots.RootElement.GetProperty("raw_messages").EnumerateArray().Count(m => m.GetProperty("robot").GetBoolean()));
    }

    [Fact]
    public async Task Ndjson_import_stores_the_good_lines_and_names_each_bad_one()
    {
        var root = TestPaths.NewTempDirectory();
        TestConfig.Write(root, Usage.BuiltInTypes);
        var when = Yesterday.AddHours(9).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var file = Path.Combine(root, "events.ndjson");
        await File.WriteAllLinesAsync(file,
        [
            $$"""{"type":"record-view","timestamp":"{{when}}","item_id":"a","user_agent":"{{Firefox}}"}""",
            $$"""{"type":"record-view","item_id":"no-time"}""",
            $$"""{"type":"record-view","timestamp":"{{when}}"}""",
            "{broken",
            $$"""{"type":"file-download","id":"given-id","timestamp":"{{when}}","item_id":"b","size":10}""",
        ]);
        var rejects = Path.Combine(root, "rejects");

        var (exit, output, _) = await TallyAsync(root, "import", "ndjson", file, "--rejects", rejects);
        Assert.Equal(0, exit);
        Assert.Contains("5 lines, 2 stored", output);
        var rejected = (await File.ReadAllLinesAsync(Path.Combine(rejects, "events.ndjson.rejected.ndjson"))).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([2L, 3L, 4L], rejected.Select(r => r.GetProperty("line").GetInt64()));
        Assert.Equal(["timestamp", "item_id", "$"], rejected.Select(r => r.GetProperty("field").GetString()));

        (exit, output, _) = await TallyAsync(root, "import", "ndjson", file, "--rejects", rejects);
        Assert.Contains("0 stored, 2 already stored", output);

        var garbage = Path.Combine(root, "garbage.ndjson");
        await File.WriteAllTextAsync(garbage, "nothing\nhere\n");
        (exit, _, var error) = await TallyAsync(root, "import", "ndjson", garbage);
        Assert.Equal(1, exit);
        Assert.Contains("nothing of it was stored", error);
    }

    [Fact]
    public async Task Follow_loads_lines_as_they_are_appended_and_resumes_where_it_stopped()
    {
        var root = AccessLogRoot();
        var log = Path.Combine(root, "access.log");
        await File.WriteAllLinesAsync(log, [View(1), View(2)]);

        await using (var follow = Following.Start(root, log))
        {
            await follow.WaitForStoredAsync(2);
            // A half-written line waits until its end arrives.
            await File.AppendAllTextAsync(log, View(3) + "\n" + View(4)[..20]);
            await follow.WaitForStoredAsync(3);
            await File.AppendAllTextAsync(log, View(4)[20..] + "\n");
            await follow.WaitForStoredAsync(4);
        }

        await File.AppendAllLinesAsync(log, [View(5)]);
        await using (var again = Following.Start(root, log))
        {
            await again.WaitForStoredAsync(1);
            Assert.Contains("1 lines, 1 stored", again.Output);
        }

        await using var host = await TallyHost.StartAsync(AccessRules, root);
        Assert.Equal(5, await Usage.EventCountAsync(host, "type=record-view"));
    }

    [Theory]
    [InlineData("access.log", "access.log.1", "access.log.1.gz")]
    [InlineData("access.log.1.gz", "access.log", "access.log.1")]
    [InlineData("access.log.1", "access.log.1.gz", "access.log")]
    public async Task A_log_and_its_rotated_and_compressed_copies_give_each_line_once_in_any_order(string first, string second, string third)
    {
        var root = AccessLogRoot();
        // What logrotate leaves: the log as it was when imported, the same log grown and renamed, and that compressed.
        var files = new Dictionary<string, string[]>
        {
            ["access.log"] = [View(1), View(2), View(3)],
            ["access.log.1"] = [View(1), View(2), View(3), View(4), View(5)],
            ["access.log.1.gz"] = [View(1), View(2), View(3), View(4), View(5)],
        };
        foreach (var name in (string[])[first, second, third])
        {
            var path = Path.Combine(root, name);
            var text = string.Join("\n", files[name]) + "\n";
            await File.WriteAllBytesAsync(path, name.EndsWith(".gz", StringComparison.Ordinal) ? HttpKit.Gzip(text) : Encoding.UTF8.GetBytes(text));
            var (exit, output, error) = await TallyAsync(root, "import", "combined", path);
            Assert.True(exit == 0, output + error);
        }

        await using var host = await TallyHost.StartAsync(AccessRules, root);
        Assert.Equal(5, await Usage.EventCountAsync(host, "type=record-view"));
    }

    [Fact]
    public async Task The_same_line_in_two_different_logs_is_two_events()
    {
        var root = AccessLogRoot();
        // Two servers behind one site: the same request in the same second from the same proxy, in each one's log.
        var shared = View(9);
        var front = Path.Combine(root, "front.log");
        var back = Path.Combine(root, "back.log");
        await File.WriteAllLinesAsync(front, [View(1), shared]);
        await File.WriteAllLinesAsync(back, [View(2), shared]);
        foreach (var path in (string[])[front, back])
            Assert.Contains("2 lines, 2 stored", (await TallyAsync(root, "import", "combined", path)).Out);

        await using var host = await TallyHost.StartAsync(AccessRules, root);
        Assert.Equal(4, await Usage.EventCountAsync(host, "type=record-view"));
    }

    [Fact]
    public async Task Follow_across_a_rotation_loses_nothing_and_the_rotated_file_adds_nothing()
    {
        var root = AccessLogRoot();
        var log = Path.Combine(root, "access.log");
        await File.WriteAllLinesAsync(log, [View(1), View(2)]);

        await using (var follow = Following.Start(root, log))
        {
            await follow.WaitForStoredAsync(2);
            // logrotate renames the log; the server writes on into the renamed file until it reopens its log.
            File.Move(log, log + ".1");
            await File.AppendAllLinesAsync(log + ".1", [View(3), View(4)]);
            await File.WriteAllLinesAsync(log, [View(5)]);
            await follow.WaitForStoredAsync(5);
        }

        var (exit, output, error) = await TallyAsync(root, "import", "combined", log + ".1");
        Assert.True(exit == 0, output + error);
        Assert.Contains("4 lines, 0 stored, 4 already stored", output);
        await using var host = await TallyHost.StartAsync(AccessRules, root);
        Assert.Equal(5, await Usage.EventCountAsync(host, "type=record-view"));
    }

    [Fact]
    public async Task Two_imports_of_one_past_day_weeks_apart_across_a_salt_purge_count_like_one_import()
    {
        // Two servers' logs of a day two months ago: one reader opens five records, and one of them again
        // 10 s later on the other server (a double-click), then a sixth record.
        var day = Today.AddDays(-60).AddHours(10);
        string Read(int seconds, int record) => Access(day.AddSeconds(seconds), "198.51.100.7", $"GET /records/rec-{record} HTTP/1.1", 200, Firefox);
        string[] front = [Read(0, 1), Read(60, 2), Read(120, 3), Read(180, 4), Read(240, 5)];
        string[] back = [Read(10, 1), Read(1800, 6)];

        async Task<(string Visitors, Dictionary<string, long> Counter)> CountAsync(string root)
        {
            await using var host = await TallyHost.StartAsync(AccessRules, root);
            await host.AggregateAsync();
            var timeline = await host.GetJsonAsync($"/api/v1/stats/record-view-histogram/timeline?dateStart={day:yyyy-MM-dd}&dateEnd={day:yyyy-MM-dd}");
            return (timeline.GetRawText(), await Usage.MetricsAsync(host, "pr", day, day));
        }

        var once = AccessLogRoot();
        await File.WriteAllLinesAsync(Path.Combine(once, "both.log"), [.. front, .. back]);
        Assert.Equal(0, (await TallyAsync(once, "import", "combined", Path.Combine(once, "both.log"))).ExitCode);

        var apart = AccessLogRoot();
        await File.WriteAllLinesAsync(Path.Combine(apart, "front.log"), front);
        await File.WriteAllLinesAsync(Path.Combine(apart, "back.log"), back);
        Assert.Equal(0, (await TallyAsync(apart, "import", "combined", Path.Combine(apart, "front.log"))).ExitCode);
        // Retention runs in between: the day is far older than privacy.saltRetentionDays, but its salt was just used.
        var (exit, output, error) = await TallyAsync(apart, "retention");
        Assert.True(exit == 0, output + error);
        Assert.Equal(0, (await TallyAsync(apart, "import", "combined", Path.Combine(apart, "back.log"))).ExitCode);

        var (visitors, counter) = await CountAsync(once);
        Assert.Contains("\"unique_visitors\":1", visitors);
        Assert.Equal(6, counter["Total_Item_Investigations"]);
        var separately = await CountAsync(apart);
        Assert.Equal(visitors, separately.Visitors);
        Assert.Equal(counter.OrderBy(m => m.Key), separately.Counter.OrderBy(m => m.Key));
    }

    private static string View(int n) =>
        Access(Yesterday.AddHours(8).AddMinutes(n), $"198.51.100.{n}", $"GET /records/rec-{n} HTTP/1.1", 200, Firefox);

    /// <summary>A running <c>tally import combined --follow</c>, with what it has printed so far; disposing kills it.</summary>
    private sealed class Following : IAsyncDisposable
    {
        private readonly System.Diagnostics.Process _process;
        private readonly StringBuilder _output = new();

        private Following(System.Diagnostics.Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
        }

        public static Following Start(string root, string log) =>
            new(System.Diagnostics.Process.Start(TallyProcess.StartInfo(root, "import", "combined", "--follow", log,
                "--data", Path.Combine(root, "data"), "--config", Path.Combine(root, "tally.json")))!);

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <summary>Waits until the chunks it reported stored <paramref name="total"/> events together.</summary>
        public async Task WaitForStoredAsync(int total)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                var stored = Output.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Match(l, @"lines, (\d+) stored"))
                    .Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
                if (stored >= total) return;
                await Task.Delay(100);
            }
            throw new TimeoutException("follow did not load the lines:\n" + Output);
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}

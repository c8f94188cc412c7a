using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Tally.Hosting;

namespace Tally.Server.Tests;

/// <summary>The `tally` program as a user runs it: help, setup/check, bad configuration, aggregate and query.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _root = TestPaths.NewTempDirectory();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
    }

    private Task<(int ExitCode, string Out, string Error)> TallyAsync(params string[] arguments) =>
        TallyProcess.RunAsync(_root, arguments);

    [Theory]
    [InlineData("serve", "--urls")]
    [InlineData("setup", "--config")]
    [InlineData("check", "--data")]
    [InlineData("types", "--config")]
    [InlineData("aggregate", "--rebuild")]
    [InlineData("query", "--format")]
    [InlineData("export", "--output")]
    [InlineData("demo", "--days")]
    [InlineData("bench", "--events")]
    [InlineData("bench", "--scale")]
    [InlineData("retention", "--data")]
    public async Task Every_command_has_complete_help(string command, string option)
    {
        var (exit, output, _) = await TallyAsync(command, "--help");
        Assert.Equal(0, exit);
        Assert.Contains($"tally {command}", output);
        Assert.Contains(option, output);
        // Words a command does not take are refused, so its usage offers none.
        Assert.DoesNotContain("additional arguments", output);
    }

    [Fact]
    public async Task Bench_at_scale_imports_aggregates_adds_a_day_and_reads_from_a_server_showing_every_figure()
    {
        var markdown = Path.Combine(_root, "bench.md");
        var (exit, output, error) = await TallyAsync("bench", "--scale", "20000", "--query-repetitions", "2", "--markdown", markdown);

        Assert.True(exit == 0, output + error);
        Assert.Contains("generating 20,000 events", error);
        var rows = File.ReadAllLines(markdown).Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Skip(1).ToList();
        string[] figures = ["NDJSON import", "Import memory", "Aggregation", "Incremental aggregation", "Disk", "SUSHI PR, first", "SUSHI PR", "SUSHI TR, first", "SUSHI TR", "SUSHI IR, first", "SUSHI IR", "Query timelines", "Query top-N"];
        Assert.Equal(figures, rows.Select(r => r.Split(" | ")[0][2..]));
        // Each figure is measured, beside its baseline and goal.
        Assert.All(rows, r => Assert.Matches(@"\| \d[\d,.]* [^|]+ \| [\d,.]+ \([^|]+\) \| [\d,]+ % \| [^|]+ \|$", r));
        Assert.Contains("tally import ndjson of 20,000 lines", rows[0]);
        Assert.Contains("after 20,000 new events", rows[3]);
    }

    [Fact]
    public async Task Bench_of_the_http_goals_measures_ingest_singles_aggregation_queries_and_sushi_beside_their_baselines()
    {
        var markdown = Path.Combine(_root, "bench.md");
        var (exit, output, error) = await TallyAsync("bench", "--only", "http", "--events", "2000", "--batch", "500", "--single-seconds", "1",
            "--query-repetitions", "1", "--markdown", markdown);

        Assert.True(exit == 0, output + error);
        var rows = File.ReadAllLines(markdown).Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Skip(1).ToList();
        Assert.Equal(["HTTP batch ingest", "Single-event POSTs", "Aggregation"], rows.Take(3).Select(r => r.Split(" | ")[0][2..]));
        Assert.All(rows, r => Assert.Matches(@"\| \d[\d,.]* [^|]+ \| [\d,.]+ \([^|]+\) \| [\d,]+ % \| [^|]+ \|$", r));
        // The single-event floor is the same POST refused, which the anonymous rate limit does not stop.
        Assert.Contains("400 round trip on the same server", rows[1]);
    }

    [Fact]
    public async Task Check_fails_and_says_what_differs_until_setup_is_run()
    {
        var config = TestConfig.Write(_root);
        var (exit, _, error) = await TallyAsync("check", "--config", config);
        Assert.Equal(1, exit);
        Assert.Contains("'record-view' is configured but not set up", error);

        Assert.Equal(0, (await TallyAsync("setup", "--config", config)).ExitCode);
        var (ok, output, _) = await TallyAsync("check", "--config", config);
        Assert.Equal(0, ok);
        Assert.Contains("matches", output);

        TestConfig.Write(_root, c => c["eventTypes"]![0]!["fields"]!.AsObject()["referrer"] = new JsonObject());
        (exit, _, error) = await TallyAsync("check", "--config", config);
        Assert.Equal(1, exit);
        Assert.Contains("field 'referrer' is configured but not set up", error);
    }

    [Fact]
    public async Task Check_names_the_robot_lists_in_force_and_COUNTERs_is_always_one_of_them()
    {
        // The version is the date of the list's newest entry, as COUNTER-Robots names its releases.
        var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "third-party", "COUNTER-Robots", "COUNTER_Robots_list.json")))!.AsArray();
        var version = shipped.Max(e => e!["last_changed"]!.GetValue<string>());
        var counter = $"COUNTER-Robots {version} (built in, always applied): {shipped.Count} patterns";

        var config = TestConfig.Write(_root, c => c.Remove("robots"));
        var (_, output, _) = await TallyAsync("check", "--config", config);
        Assert.Contains(counter, output);
        Assert.Contains("crawler-user-agents (built in, robots.lists is empty)", output);

        config = TestConfig.Write(_root);
        (_, output, _) = await TallyAsync("check", "--config", config);
        Assert.Contains(counter, output);
        Assert.Contains($"{TestPaths.CounterRobots}: {shipped.Count} patterns", output);
        Assert.DoesNotContain("crawler-user-agents", output);
    }

    [Theory]
    [InlineData("partition", "weekly", "eventTypes[0].partition")]
    [InlineData("colour", "blue", "colour")]
    public async Task An_invalid_configuration_stops_the_program_naming_the_setting(string setting, string value, string named)
    {
        var config = TestConfig.Write(_root, c =>
        {
            if (setting == "partition") c["eventTypes"]![0]!["partition"] = value;
            else c[setting] = value;
        });
        var (exit, _, error) = await TallyAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        Assert.Equal(2, exit);
        Assert.Contains(named, error);
        Assert.DoesNotContain("   at ", error);
    }

    /// <summary>Stores events in this folder's store, as a server does, and stops it; returns the configuration file.</summary>
    private async Task<string> StoreEventsAsync(string events)
    {
        var config = TestConfig.Write(_root);
        var host = await TallyHost.StartAsync(dataDirectory: _root);
        await host.PostEventsAsync(events);
        await host.StopKeepingDataAsync();
        return config;
    }

    [Fact]
    public async Task Aggregate_then_query_prints_the_numbers_as_csv()
    {
        var config = await StoreEventsAsync("""
            [{"type":"record-view","item_id":"a","user_id":"u1","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"},
             {"type":"record-view","item_id":"a","user_id":"u2","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"},
             {"type":"record-view","item_id":"b","user_id":"u1","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"}]
            """);

        var (exit, output, error) = await TallyAsync("aggregate", "--config", config);
        Assert.True(exit == 0, error);
        Assert.Contains("Aggregated 3 events", output);

        (exit, output, error) = await TallyAsync("query", "record-view-top", "--config", config, "--format", "csv");
        Assert.True(exit == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["item_id,count,unique_visitors,unique_sessions,value", "a,2,2,2,2", "b,1,1,1,1"], lines);

        (exit, _, error) = await TallyAsync("query", "record-view-top", "interval=fortnight", "--config", config);
        Assert.Equal(2, exit);
        Assert.Contains("'interval'", error);
    }

    /// <summary>A configuration that maps access-log lines to events, and one file of each kind to import.</summary>
    private void WriteConfigAndLogs()
    {
        TestConfig.Write(_root, c => c["sources"] = new JsonObject
        {
            ["accessLogRules"] = new JsonArray(new JsonObject { ["pattern"] = @"^/records/(?<item_id>[^/?]+)$", ["type"] = "record-view" }),
        });
        var yesterday = DateTime.UtcNow.Date.AddDays(-1).AddHours(10);
        File.WriteAllText(Path.Combine(_root, "access.log"), System.FormattableString.Invariant(
            $"198.51.100.7 - - [{yesterday:dd/MMM/yyyy:HH:mm:ss} +0000] \"GET /records/rec-1 HTTP/1.1\" 200 2048 \"-\" \"Mozilla/5.0 Firefox/132.0\"\n"));
        File.WriteAllText(Path.Combine(_root, "events.ndjson"), System.FormattableString.Invariant(
            $$"""{"type":"record-view","item_id":"rec-1","timestamp":"{{yesterday:O}}"}""") + "\n");
    }

    private string[] Everything() => [.. Directory.GetFileSystemEntries(_root, "*", SearchOption.AllDirectories).Order()];

    [Theory]
    [InlineData("--follow", "import", "combined", "access.log", "--folow")]
    [InlineData("--rejects", "import", "ndjson", "events.ndjson", "--reject", "elsewhere")]
    [InlineData("--format", "query", "record-view-top", "--formt", "csv")]
    [InlineData("--format", "query", "record-view-top", "--formt=csv")]
    [InlineData("--begin", "report", "pr", "--begn", "2024-01")]
    [InlineData("--rebuild", "aggregate", "--rebuld")]
    [InlineData("--data", "setup", "--dta", "elsewhere")]
    [InlineData("--per-day", "demo", "--per-dya", "5")]
    [InlineData("--role", "serve", "--rol", "query")]
    [InlineData("--output", "export", "delta=60", "--ouput", "events.csv")]
    public async Task A_misspelt_option_changes_nothing_on_disk_and_the_nearest_is_suggested(string meant, params string[] arguments)
    {
        WriteConfigAndLogs();
        var before = Everything();

        var (exit, output, error) = await TallyAsync(arguments);

        Assert.True(exit == 2, output + error);
        Assert.Contains($"is not an option of 'tally {arguments[0]}", error);
        Assert.Contains($"; did you mean {meant}?", error);
        Assert.DoesNotContain("   at ", error);
        // No store was created, nothing imported, no rejects written.
        Assert.Equal(before, Everything());
    }

    [Theory]
    [InlineData("--days must be a whole number, got \"abc\"", "demo", "--days", "abc")]
    [InlineData("--days must be from 1 to 3660, got 0", "demo", "--days", "0")]
    [InlineData("--scale must be from 10000 to 1000000000, got 9999", "bench", "--scale", "9999")]
    [InlineData("--scale must be a whole number, got \"10M\"", "bench", "--scale", "10M")]
    [InlineData("--scale and --only cannot be combined", "bench", "--scale", "10000", "--only", "parse")]
    [InlineData("--from must be a date written yyyy-mm-dd, got \"2024-13-01\"", "aggregate", "--from", "2024-13-01")]
    [InlineData("--from is after --to", "aggregate", "--from", "2024-02-01", "--to", "2024-01-01")]
    [InlineData("--format must be one of csv, json, table, got \"cvs\"; did you mean csv?", "query", "record-view-top", "--format", "cvs")]
    [InlineData("--role must be one of all, ingest, query, worker, got \"ingst\"; did you mean ingest?", "serve", "--role", "ingst")]
    [InlineData("'record-veiw-top' is not a registered query; did you mean record-view-top?", "query", "record-veiw-top")]
    [InlineData("'days' must be written NAME=VALUE", "query", "record-view-top", "days")]
    [InlineData("interval", "query", "record-view-top", "interval=fortnight")]
    [InlineData("'prr' is not a COUNTER report; did you mean pr?", "report", "prr")]
    [InlineData("metric_type is given twice", "report", "pr", "metric_type=Total_Item_Requests", "metric_type=Unique_Item_Requests")]
    [InlineData("missing.log: no such file", "import", "combined", "access.log", "missing.log")]
    [InlineData("usage: no such folder", "import", "pkp", "usage")]
    [InlineData("missing.ndjson: no such file", "publish", "--topic", "a.b", "missing.ndjson")]
    [InlineData("'imprt' is not a command of 'tally'; did you mean import?", "imprt", "combined", "access.log")]
    [InlineData("'extra' is one argument too many for 'tally types'", "types", "extra")]
    [InlineData("'robot' must be true (only robots) or false (no robots)", "export", "robot=perhaps", "--output", "events.ndjson")]
    [InlineData("'page' does not apply to an export", "export", "delta=60", "page=2")]
    [InlineData("'delta' must be a whole number from 1 to 31622400", "export", "delta=999999999")]
    [InlineData("'colour' is neither a parameter nor a field of any event type", "export", "colour=red")]
    [InlineData("--format must be one of csv, ndjson, got \"json\"", "export", "--format", "json")]
    [InlineData("no such folder", "export", "--output", "missing/events.csv")]
    [InlineData("--output .: a folder, not a file", "export", "--output", ".")]
    public async Task A_bad_argument_is_refused_in_the_users_words_before_any_work(string said, params string[] arguments)
    {
        WriteConfigAndLogs();
        var before = Everything();

        var (exit, output, error) = await TallyAsync(arguments);

        Assert.True(exit == 2, output + error);
        Assert.Contains(said, error);
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("System.", error);
        Assert.Equal(before, Everything());
    }

    [Fact]
    public async Task Help_still_answers_on_a_line_with_mistakes()
    {
        var (exit, output, _) = await TallyAsync("import", "combined", "missing.log", "--folow", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--follow", output);
    }

    [Fact]
    public async Task Types_never_breaks_a_name_however_narrow_the_output()
    {
        const string longType = "a-type-whose-name-is-much-longer-than-a-column-of-eighty";
        const string longField = "a_field_whose_name_alone_fills_half_a_line:integer";
        TestConfig.Write(_root, c => c["eventTypes"]!.AsArray().Add(new JsonObject
        {
            ["name"] = longType,
            ["retentionDays"] = 90,
            ["fields"] = new JsonObject { [longField.Split(':')[0]] = new JsonObject { ["type"] = "integer" } },
        }));

        // Redirected, as here, the terminal is taken to be 80 columns wide.
        var (exit, output, error) = await TallyAsync("types");

        Assert.True(exit == 0, error);
        string[] names = ["record-view", "file-download", longType, "item_id*:string", "user_agent:string", "session_id:string", "size:integer", longField,
            "record-view-agg", "file-download-agg", "90 days"];
        foreach (var name in names)
            Assert.Matches(new Regex($@"(?<![\w-]){Regex.Escape(name)}(?![\w-])"), output);
    }

    [Fact]
    public async Task Demo_loads_the_set_up_of_serve_demo_institutions_and_a_key_only_its_owner_reads()
    {
        var (exit, output, error) = await TallyAsync("demo", "--days", "2", "--per-day", "400");
        Assert.True(exit == 0, output + error);

        var key = Path.Combine(_root, "data", TallyServices.DemoKeyFile);
        Assert.StartsWith("demo-", await File.ReadAllTextAsync(key));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));

        // The demo's visitors from Demo University's address ranges were counted for it, as serve --demo counts them.
        (exit, output, error) = await TallyAsync("query", "record-view-places", "institution=demo-university", "--format", "csv");
        Assert.True(exit == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(rows.Length > 1, output);
        // The places' countries filtered by item and institution need all three fields, which the places do not keep.
        (exit, _, error) = await TallyAsync("query", "record-view-places", "item_id=x", "institution=demo-university");
        Assert.Equal(2, exit);
        Assert.Contains("'institution' asks 'record-view-places' for item_id × institution × country", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_writes_every_selected_event_to_a_file_or_to_stdout()
    {
        var config = await StoreEventsAsync("""
            [{"type":"record-view","id":"v1","item_id":"a,b","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"},
             {"type":"record-view","id":"v2","item_id":"b","user_agent":"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
             {"type":"file-download","id":"d1","item_id":"a,b","size":10,"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"}]
            """);

        var file = Path.Combine(_root, "views.csv");
        var (exit, output, error) = await TallyAsync("export", "delta=3600", "type=record-view", "order=asc", "--config", config, "--output", file);
        Assert.True(exit == 0, error);
        Assert.Empty(output);
        Assert.Contains("2 events", error);
        var lines = (await File.ReadAllTextAsync(file)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id,type,timestamp,robot,visitor,session,item_id,ip,user_agent,user_id,session_id,size", lines[0]);
        Assert.StartsWith("v1,record-view,", lines[1]);
        Assert.Contains(",\"a,b\",", lines[1]);
        Assert.StartsWith("v2,record-view,", lines[2]);
        Assert.Equal(3, lines.Length);
        Assert.False(File.Exists(file + ".partial"));

        (exit, output, error) = await TallyAsync("export", "delta=3600", "robot=false", "--config", config);
        Assert.True(exit == 0, error);
        var events = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!).ToList();
        Assert.Equal(["d1", "v1"], events.Select(e => (string)e["id"]!).Order());
        Assert.All(events, e => Assert.False((bool)e["robot"]!));
    }
}

using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests;

/// <summary>
/// DuckDB lets one process at a time open a data folder. While `tally serve` holds one, the other commands on it are run
/// by that server and answer as if run here; a second server is told the folder is in use.
/// </summary>
public sealed class DuckDbFolderTests : IDisposable
{
    private readonly string _root = TestPaths.NewTempDirectory();
    private readonly string _data;
    private readonly string _config;
    private readonly string _elsewhere;

    public DuckDbFolderTests()
    {
        _data = Path.Combine(_root, "data");
        _config = TestConfig.Write(_root);
        _elsewhere = Directory.CreateDirectory(Path.Combine(_root, "elsewhere")).FullName;
        var day = DateTime.UtcNow.Date.AddDays(-1).AddHours(9);
        // Three views of rec-1 and one of rec-2 by different visitors, and a line the schema refuses.
        var lines = Enumerable.Range(0, 4).Select(i => string.Create(CultureInfo.InvariantCulture,
                $$"""{"type":"record-view","id":"view-{{i}}","item_id":"{{(i < 3 ? "rec-1" : "rec-2")}}","ip":"198.51.100.{{i + 1}}","timestamp":"{{day.AddMinutes(i):O}}"}"""))
            .Append("""{"type":"record-view","timestamp":"not a time"}""");
        File.WriteAllLines(Path.Combine(_elsewhere, "events.ndjson"), lines);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Task<(int ExitCode, string Out, string Error)> RunElsewhereAsync(params string[] arguments) =>
        TallyProcess.RunAsync(_elsewhere, [.. arguments, "--store", "duckdb:../data", "--config", "../tally.json"]);

    [Fact]
    public async Task While_tally_serve_holds_the_folder_import_aggregate_query_report_and_migrate_run_through_it()
    {
        using var server = await TallyProcess.ServeAsync(_root, _data, _config, "--store", $"duckdb:{_data}");
        Assert.True(File.Exists(Path.Combine(_data, "tally.sock")));

        // Relative paths are the caller's, not the server's.
        var import = await RunElsewhereAsync("import", "ndjson", "events.ndjson", "--rejects", "rejected");
        Assert.True(import.ExitCode == 0, import.Out + import.Error);
        Assert.Contains("events.ndjson: 5 lines, 4 stored", import.Out);
        Assert.Contains("\"line\":5", File.ReadAllText(Path.Combine(_elsewhere, "rejected", "events.ndjson.rejected.ndjson")));

        var aggregate = await RunElsewhereAsync("aggregate");
        Assert.True(aggregate.ExitCode == 0, aggregate.Out + aggregate.Error);
        Assert.Contains("Aggregated 4 events", aggregate.Out);

        var query = await RunElsewhereAsync("query", "record-view-top", "start_date=" + DateTime.UtcNow.AddDays(-7).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), "--format", "csv");
        Assert.True(query.ExitCode == 0, query.Out + query.Error);
        Assert.Contains("rec-1,3", query.Out);
        Assert.Contains("rec-2,1", query.Out);

        // What the commands stored and aggregated is what the server serves.
        using var http = new HttpClient { BaseAddress = new Uri(server.Url) };
        var totals = JsonNode.Parse(await http.GetStringAsync("/api/v1/stats/record-view-top/totals?start_date=" + DateTime.UtcNow.AddDays(-7).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)))!;
        Assert.Contains("rec-1", totals.ToJsonString());

        var report = await RunElsewhereAsync("report");
        Assert.True(report.ExitCode == 0, report.Out + report.Error);
        Assert.Contains("pr ", report.Out);

        // A copy of the served folder is made by the server, into a folder named from here.
        var copy = await TallyProcess.RunAsync(_elsewhere, "migrate", "--from", "duckdb:../data", "--to", "sqlite:copy", "--config", "../tally.json");
        Assert.True(copy.ExitCode == 0, copy.Out + copy.Error);
        Assert.Contains("Events: 4 copied", copy.Out);
        Assert.True(File.Exists(Path.Combine(_elsewhere, "copy", "tally.db")));

        // A mistake is still the caller's, in the caller's words.
        var missing = await RunElsewhereAsync("import", "ndjson", "missing.ndjson");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("missing.ndjson: no such file", missing.Error);
    }

    [Fact]
    public async Task A_new_folder_gets_duckdb_and_a_folder_from_before_keeps_its_sqlite_store_until_migrated()
    {
        var site = Path.Combine(_root, "site");
        var setup = await TallyProcess.RunAsync(_root, "setup", "--data", site, "--config", _config);
        Assert.True(setup.ExitCode == 0, setup.Out + setup.Error);
        Assert.Contains($"duckdb:{site}", setup.Out);

        var old = Path.Combine(_root, "old");
        await TallyProcess.RunAsync(_root, "import", "ndjson", Path.Combine(_elsewhere, "events.ndjson"), "--store", $"sqlite:{old}", "--config", _config);
        var kept = await TallyProcess.RunAsync(_root, "setup", "--data", old, "--config", _config);
        Assert.Contains($"sqlite:{old}", kept.Out);

        var migrate = await TallyProcess.RunAsync(_root, "migrate", "--from", $"sqlite:{old}", "--to", $"duckdb:{old}", "--config", _config);
        Assert.True(migrate.ExitCode == 0, migrate.Out + migrate.Error);
        var start = "start=" + DateTime.UtcNow.AddDays(-3).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var moved = await TallyProcess.RunAsync(_root, "export", start, "--data", old, "--config", _config);
        Assert.Equal(4, moved.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var empty = await TallyProcess.RunAsync(_root, "migrate", "--from", $"sqlite:{site}", "--to", $"duckdb:{old}", "--config", _config);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains($"--from sqlite:{site}: the folder holds no sqlite store", empty.Error);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0xFF, 0xFF, 0xFF, 0x7F })]
    [InlineData(new byte[] { 0, 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0, 10, 0, 0, 0, 0x61, 0x67 })]
    [InlineData(new byte[] { 0x47, 0x45, 0x54, 0x20, 0x2F, 0x20, 0x48, 0x54, 0x54, 0x50 })]
    public async Task What_is_not_a_command_on_the_socket_is_dropped_and_the_server_keeps_serving(byte[] sent)
    {
        using var server = await TallyProcess.ServeAsync(_root, _data, _config, "--store", $"duckdb:{_data}");
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(_data, "tally.sock")));
            await socket.SendAsync(sent);
            socket.Shutdown(SocketShutdown.Send);
            // A header claiming 2 GB, a negative length, a truncated frame or an HTTP request: the connection is closed, nothing run.
            // Closed with bytes unread, the connection is reset rather than ended; either way nothing comes back.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                Assert.Equal(0, await socket.ReceiveAsync(new byte[64], SocketFlags.None, timeout.Token));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
            }
        }

        var aggregate = await RunElsewhereAsync("aggregate");
        Assert.True(aggregate.ExitCode == 0, aggregate.Out + aggregate.Error);
        Assert.Contains("Aggregated", aggregate.Out);
        // Nothing failed inside the server on the way: it stops cleanly and removes its socket.
        Assert.True(await server.StopAsync() == 0, server.Output);
        Assert.False(File.Exists(Path.Combine(_data, "tally.sock")));
    }

    [Fact]
    public async Task A_second_server_on_the_folder_is_told_it_is_in_use()
    {
        using var server = await TallyProcess.ServeAsync(_root, _data, _config, "--store", $"duckdb:{_data}");

        var (exitCode, _, error) = await TallyProcess.RunAsync(_root, "serve", "--urls", "http://127.0.0.1:0", "--store", $"duckdb:{_data}", "--config", _config);
        Assert.Equal(2, exitCode);
        Assert.Contains($"the data folder {_data} is in use by another Tally process", error);
    }

    [Fact]
    public async Task After_a_killed_server_commands_open_the_folder_themselves()
    {
        using (var server = await TallyProcess.ServeAsync(_root, _data, _config, "--store", $"duckdb:{_data}"))
            server.Kill();
        Assert.True(File.Exists(Path.Combine(_data, "tally.sock")), "a killed server leaves its socket behind");

        var import = await RunElsewhereAsync("import", "ndjson", "events.ndjson");
        Assert.Contains("4 stored", import.Out);
        var aggregate = await RunElsewhereAsync("aggregate");
        Assert.True(aggregate.ExitCode == 0, aggregate.Out + aggregate.Error);

        // The next server takes the folder back, and commands go through it again.
        using var next = await TallyProcess.ServeAsync(_root, _data, _config, "--store", $"duckdb:{_data}");
        var again = await RunElsewhereAsync("import", "ndjson", "events.ndjson");
        Assert.Contains("0 stored, 4 already stored", again.Out);
    }
}

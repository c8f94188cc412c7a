using System.Text.Json.Nodes;

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
    [InlineData("demo", "--days")]
    [InlineData("bench", "--events")]
    [InlineData("retention", "--data")]
    public async Task Every_command_has_complete_help(string command, string option)
    {
        var (exit, output, _) = await TallyAsync(command, "--help");
        Assert.Equal(0, exit);
        Assert.Contains($"tally {command}", output);
        Assert.Contains(option, output);
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

    [Fact]
    public async Task Aggregate_then_query_prints_the_numbers_as_csv()
    {
        var config = TestConfig.Write(_root);
        var host = await TallyHost.StartAsync(dataDirectory: _root);
        await host.PostEventsAsync("""
            [{"type":"record-view","item_id":"a","user_id":"u1","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"},
             {"type":"record-view","item_id":"a","user_id":"u2","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"},
             {"type":"record-view","item_id":"b","user_id":"u1","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"}]
            """);
        await host.StopKeepingDataAsync();

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
}

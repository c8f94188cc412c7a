using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Core.Query;
using Tally.Core.Store;
using Tally.Hosting.Demo;
using Tally.Server.Tests.Logs;

namespace Tally.Server.Tests.ScaleOut;

/// <summary>
/// `tally migrate` moves a site from the SQLite store (the embedded default before DuckDB) to DuckDB, PostgreSQL,
/// one ClickHouse node or a two-shard ClickHouse cluster; interrupted halfway, it resumes. The migrated site must
/// report exactly what the original did.
/// </summary>
public sealed class MigrateTests
{
    public static TheoryData<string> Engines => new() { "duckdb", "postgres", "clickhouse", "clickhouse-cluster" };

    /// <summary>The original site keeps its events in SQLite.</summary>
    private static void SqliteSite(JsonObject config)
    {
        Usage.BuiltInTypes(config);
        config["storage"] = new JsonObject { ["engine"] = "sqlite" };
    }

    private static async Task<string> NewTargetAsync(string engine, string root) => engine switch
    {
        "duckdb" => "duckdb:" + Path.Combine(root, "moved"),
        "postgres" => "postgres:" + await SharedDatabase.CreateAsync(),
        "clickhouse" => $"clickhouse:{ClickHouseServers.Node}?database=m_{Guid.NewGuid():N}",
        _ => $"clickhouse:{ClickHouseServers.Node}?database=m_{Guid.NewGuid():N}&cluster={ClickHouseServers.Cluster}&shards={ClickHouseServers.Shards}",
    };

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task A_site_moved_from_sqlite_reports_the_same_numbers_and_an_interrupted_migration_resumes(string engine)
    {
        var root = TestPaths.NewTempDirectory();
        var reports = new[] { "pr", "tr", "ir" };
        var from = DateTime.UtcNow.AddDays(-75);
        var to = DateTime.UtcNow;

        // The original site: 75 days of demo usage, aggregated, plus one event not yet aggregated.
        await using (var site = await TallyHost.StartAsync(SqliteSite, root))
        {
            await site.Get<DemoData>().SeedAsync(75, 400, null, CancellationToken.None);
            using var late = await site.PostEventsAsync($$"""{"type":"record-view","id":"late","item_id":"late-item","ip":"192.0.2.9","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}""");
            late.EnsureSuccessStatusCode();
            await site.Get<SavedQueryCatalog>().SaveAsync("views", new SavedQueryDraft("Views", "record-view-histogram", null, [KeyValuePair.Create("days", (IReadOnlyList<string>)["30"])], "area"), CancellationToken.None);
            // A query kept as stores did before saved queries had their own table.
            await site.Get<IEventStore>().SetSettingAsync(SavedQueryCatalog.LegacySetting,
                """[{"name":"legacy","title":"Kept in a setting","stat":"record-view-top","view":"totals","params":{},"chart":"table","created":"2026-01-01T00:00:00Z","updated":"2026-01-02T00:00:00Z"}]""",
                CancellationToken.None);
            await site.StopKeepingDataAsync();
        }
        var source = "sqlite:" + Path.Combine(root, "data");
        var target = await NewTargetAsync(engine, root);
        var config = Path.Combine(root, "tally.json");

        await InterruptAsync(root, "migrate", "--from", source, "--to", target, "--config", config);
        var (exitCode, output, error) = await TallyProcess.RunAsync(root, "migrate", "--from", source, "--to", target, "--config", config);
        Assert.True(exitCode == 0, output + error);
        Assert.Contains("Every partition of the target holds what the source held", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Events: 0 copied, 0 already there, 0 unchanged", output, StringComparison.Ordinal);

        // Both sites, side by side, after each aggregated what was left (the late event).
        await using var original = await TallyHost.StartAsync(SqliteSite, root);
        await using var moved = await TallyHost.StartAsync(c =>
        {
            Usage.BuiltInTypes(c);
            var (engineName, connection) = (target[..target.IndexOf(':', StringComparison.Ordinal)], target[(target.IndexOf(':', StringComparison.Ordinal) + 1)..]);
            c["storage"] = new JsonObject { ["engine"] = engineName, ["connection"] = connection };
        });
        await original.AggregateAsync();
        await moved.AggregateAsync();
        foreach (var type in new[] { "record-view", "file-download" })
            Assert.Equal(await Usage.EventCountAsync(original, $"type={type}"), await Usage.EventCountAsync(moved, $"type={type}"));
        Assert.Equal(1, await Usage.EventCountAsync(moved, "type=record-view&item_id=late-item"));
        foreach (var report in reports)
        {
            var path = $"/r51/reports/{report}?customer_id=0000000000000000&begin_date={from:yyyy-MM}&end_date={to:yyyy-MM}&attributes_to_show=Access_Type";
            var expected = (await original.GetJsonAsync(path)).GetProperty("Report_Items").GetRawText();
            Assert.True(expected.Length > 1000, "the report has usage to compare");
            Assert.Equal(expected, (await moved.GetJsonAsync(path)).GetProperty("Report_Items").GetRawText());
        }
        var top = "/api/v1/stats/record-view-top/totals?count=50";
        Assert.Equal((await original.GetJsonAsync(top)).GetRawText(), (await moved.GetJsonAsync(top)).GetRawText());
        Assert.Equal((await original.GetJsonAsync("/api/v1/queries")).GetRawText(), (await moved.GetJsonAsync("/api/v1/queries")).GetRawText());
        Assert.Equal(["legacy", "views"], (await moved.GetJsonAsync("/api/v1/queries")).EnumerateArray().Select(q => q.GetProperty("name").GetString()));
    }

    /// <summary>Runs a command and kills it once it reports progress past its first tenth, as an operator's Ctrl+\ or a crash would.</summary>
    private static async Task InterruptAsync(string root, params string[] arguments)
    {
        using var process = Process.Start(TallyProcess.StartInfo(root, arguments))!;
        var killed = new TaskCompletionSource();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line && line.StartsWith("Migrating: ", StringComparison.Ordinal) && !line.StartsWith("Migrating: 0%", StringComparison.Ordinal))
            {
                process.Kill(entireProcessTree: true);
                killed.TrySetResult();
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(killed.Task.IsCompleted, "the migration was killed while it ran");
    }
}

/// <summary>The two ClickHouse servers ./test starts (scripts/clickhouse.sh), as one node or as a two-shard cluster.</summary>
public static class ClickHouseServers
{
    public static string Node => Variable("TALLY_TEST_CLICKHOUSE").TrimEnd('/') + "/";
    public static string Shards => Variable("TALLY_TEST_CLICKHOUSE_SHARDS");
    public static string Cluster => Variable("TALLY_TEST_CLICKHOUSE_CLUSTER");

    private static string Variable(string name) => Environment.GetEnvironmentVariable(name)
        ?? throw new InvalidOperationException($"{name} is not set: run the tests with ./test, which starts ClickHouse");
}

using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tally.Core.Process;

namespace Tally.Server.Tests.Sushi;

/// <summary>
/// COUNTER's robot list applies to COUNTER metrics without being configured, and robots.lists adds to it:
/// robots' downloads go in over HTTP next to one reader's, and the SUSHI reports count the reader alone.
/// </summary>
public sealed class CounterRobotsTests
{
    private const string Reader = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

    /// <summary>Real user agents that COUNTER's list catches and crawler-user-agents, the built-in default list, lets through.</summary>
    private static readonly string[] CounterOnlyRobots =
    [
        "LOCKSS cache",
        "Microsoft Office Protocol Discovery",
        "Microsoft-WebDAV-MiniRedir/10.0.19045",
        "Java/1.8.0_151",
        "Drupal (+http://drupal.org/)",
        "ELinks/0.12pre6 (textmode; Linux; 80x24-2)",
        "gvfs/1.46.1",
        "PycURL/7.43.0.6 libcurl/7.81.0",
        "GetRight/6.3",
    ];

    public static TheoryData<string> CaughtOnlyByCounter() => new(CounterOnlyRobots);

    private static readonly DateTime Day = new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(-1).AddDays(4);
    private static string Month => Day.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);

    private static RobotList ListFile(string path) => new(RobotList.ParsePatterns(File.ReadAllText(path), Path.GetFileName(path)));

    [Theory]
    [MemberData(nameof(CaughtOnlyByCounter))]
    public void The_user_agents_are_caught_by_COUNTERs_list_and_missed_by_crawler_user_agents(string userAgent)
    {
        // Judged by COUNTER's list as COUNTER publishes it, independently of the copy Tally ships.
        Assert.True(ListFile(TestPaths.CounterRobots).IsRobot(userAgent));
        Assert.False(ListFile(Path.Combine(TestPaths.RepositoryRoot, "assets", "node_modules", "crawler-user-agents", "crawler-user-agents.json")).IsRobot(userAgent));
    }

    [Fact]
    public async Task Under_the_default_configuration_COUNTER_reports_exclude_robots_that_only_COUNTERs_list_knows()
    {
        await using var host = await TallyHost.StartAsync(config =>
        {
            // Nothing tuned: the built-in event types and no robots.lists.
            foreach (var setting in new[] { "robots", "eventTypes", "aggregations", "queries" }) config.Remove(setting);
        });
        await DownloadAsync(host, [Reader, .. CounterOnlyRobots]);

        Assert.Equal(1, await TotalItemRequestsAsync(host, "ir"));
        Assert.Equal(1, await TotalItemRequestsAsync(host, "pr"));
        Assert.Equal(CounterOnlyRobots.Length, await RobotEventsAsync(host));
    }

    [Fact]
    public async Task A_configured_list_adds_to_COUNTERs_list_and_does_not_replace_it()
    {
        var listDirectory = TestPaths.NewTempDirectory();
        try
        {
            var extra = Path.Combine(listDirectory, "extra-robots.txt");
            File.WriteAllText(extra, "# our own harvester\n^InHouseHarvester/\n");
            await using var host = await TallyHost.StartAsync(config =>
            {
                foreach (var setting in new[] { "eventTypes", "aggregations", "queries" }) config.Remove(setting);
                config["robots"] = new JsonObject { ["lists"] = new JsonArray(extra) };
            });
            await DownloadAsync(host, [Reader, "InHouseHarvester/2.1", "LOCKSS cache", "Java/1.8.0_151"]);

            Assert.Equal(1, await TotalItemRequestsAsync(host, "ir"));
            Assert.Equal(3, await RobotEventsAsync(host));
        }
        finally
        {
            Directory.Delete(listDirectory, recursive: true);
        }
    }

    /// <summary>One download of the same article by each user agent, each from its own address.</summary>
    private static async Task DownloadAsync(TallyHost host, IReadOnlyList<string> userAgents)
    {
        var events = new JsonArray([.. userAgents.Select((userAgent, i) => (JsonNode)new JsonObject
        {
            ["type"] = "file-download",
            ["timestamp"] = Day.AddMinutes(i).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["ip"] = $"8.8.{i}.8",
            ["user_agent"] = userAgent,
            ["item_id"] = "article-1",
            ["data_type"] = "Article",
        })]);
        using var response = await host.PostEventsAsync(events.ToJsonString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await host.AggregateAsync();
    }

    private static async Task<long> TotalItemRequestsAsync(TallyHost host, string report)
    {
        var json = await host.GetJsonAsync($"/r51/reports/{report}?customer_id=0000000000000000&begin_date={Month}&end_date={Month}");
        SushiSchema.AssertValid(SushiSchema.ReportSchemaName(report), json.GetRawText());
        return Items(json.GetProperty("Report_Items"))
            .SelectMany(item => item.GetProperty("Attribute_Performance").EnumerateArray())
            .Sum(p => p.GetProperty("Performance").TryGetProperty("Total_Item_Requests", out var metric) ? metric.GetProperty(Month).GetInt64() : 0);
    }

    /// <summary>Item reports nest items under their parents; the others list them directly.</summary>
    private static IEnumerable<JsonElement> Items(JsonElement items) =>
        items.EnumerateArray().SelectMany(i => i.TryGetProperty("Items", out var nested) ? nested.EnumerateArray() : (IEnumerable<JsonElement>)[i]);

    /// <summary>How many stored events the raw API shows flagged as robots.</summary>
    private static async Task<int> RobotEventsAsync(TallyHost host)
    {
        var raw = await host.GetJsonAsync($"/api/v1/events?start={Day:yyyy-MM-dd}&end={Day.AddDays(1):yyyy-MM-dd}&type=file-download");
        return raw.GetProperty("raw_messages").EnumerateArray().Count(m => m.GetProperty("robot").GetBoolean());
    }
}

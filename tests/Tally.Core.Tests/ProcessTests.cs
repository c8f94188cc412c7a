using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public sealed class RobotTests
{
    private static readonly RobotList Counter = new(RobotList.ParsePatterns(
        File.ReadAllText(SharedFile("data", "counter-robots", "COUNTER_Robots_list.json")), "COUNTER_Robots_list.json"));

    [Theory]
    [InlineData("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")]
    [InlineData("Mozilla/5.0 (compatible; BINGBOT/2.0; +http://www.bing.com/bingbot.htm)")]
    [InlineData("python-requests/2.32.3")]
    [InlineData("curl/8.5.0")]
    [InlineData("Wget/1.21.3")]
    [InlineData("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)")]
    [InlineData("")]
    public void Counter_robots_are_flagged_in_any_letter_case(string userAgent)
    {
        Assert.True(Counter.IsRobot(userAgent));
        Assert.True(Counter.IsRobot(userAgent.ToUpperInvariant()));
    }

    [Theory]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148")]
    public void Browsers_are_not_robots(string userAgent) => Assert.False(Counter.IsRobot(userAgent));

    [Fact]
    public void The_text_format_takes_one_regex_per_line_and_skips_comments()
    {
        var list = new RobotList(RobotList.ParsePatterns("# my robots\n\n^MyCrawler\n  harvester/\\d+  \n", "robots.txt"));
        Assert.True(list.IsRobot("mycrawler 1.0"));
        Assert.True(list.IsRobot("The Harvester/12"));
        Assert.False(list.IsRobot("# my robots"));
        Assert.False(list.IsRobot("Firefox"));
    }

    [Fact]
    public void A_bad_pattern_is_reported_with_its_source_and_place()
    {
        var error = Assert.Throws<FormatException>(() => RobotList.ParsePatterns("ok\n(unclosed\n", "extra-robots.txt").ToList());
        Assert.Contains("extra-robots.txt", error.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
    }
}

public sealed class PipelineTests
{
    private static async Task<List<TallyEvent>> RunAsync(string ndjson, Action<TallyOptions>? change = null, ISaltSource? salts = null)
    {
        var schema = DefaultSchema(change);
        var events = Parse(ndjson, schema).Events;
        var robots = new RobotList(["bot"]);
        var kept = await EventPipeline.FromSchema(schema, robots, salts ?? new DailySalts()).ProcessAsync(events, CancellationToken.None);
        return kept.Select(i => events[i]).ToList();
    }

    private const string Ua = "Mozilla/5.0 Firefox";

    [Fact]
    public async Task Visitors_are_the_same_within_a_day_and_differ_across_days()
    {
        var salts = new DailySalts();
        var events = await RunAsync($$"""
            {"type":"record-view","item_id":"a","ip":"1.2.3.4","user_agent":"{{Ua}}","timestamp":"2026-06-10T01:00:00Z"}
            {"type":"record-view","item_id":"b","ip":"1.2.3.4","user_agent":"{{Ua}}","timestamp":"2026-06-10T09:00:00Z"}
            {"type":"record-view","item_id":"a","ip":"1.2.3.5","user_agent":"{{Ua}}","timestamp":"2026-06-10T09:00:00Z"}
            {"type":"record-view","item_id":"a","ip":"1.2.3.4","user_agent":"{{Ua}}","timestamp":"2026-06-09T09:00:00Z"}
            """, salts: salts);
        Assert.Equal(events[0].VisitorId, events[1].VisitorId);
        Assert.NotEqual(events[0].VisitorId, events[2].VisitorId);
        Assert.NotEqual(events[1].VisitorId, events[3].VisitorId);
        Assert.NotEqual(events[0].SessionId, events[1].SessionId);

        var again = await RunAsync($$"""{"type":"record-view","item_id":"z","ip":"1.2.3.4","user_agent":"{{Ua}}","timestamp":"2026-06-10T01:30:00Z"}""", salts: salts);
        Assert.Equal((events[0].VisitorId, events[0].SessionId), (again[0].VisitorId, again[0].SessionId));
    }

    [Fact]
    public async Task User_id_beats_session_cookie_beats_ip_and_user_agent()
    {
        var salts = new DailySalts();
        var events = await RunAsync($$"""
            {"type":"record-view","item_id":"a","user_id":"u1","session_id":"s1","ip":"1.1.1.1","user_agent":"{{Ua}}"}
            {"type":"record-view","item_id":"a","user_id":"u1","session_id":"s2","ip":"2.2.2.2","user_agent":"{{Ua}}"}
            {"type":"record-view","item_id":"a","session_id":"s1","ip":"3.3.3.3","user_agent":"{{Ua}}"}
            {"type":"record-view","item_id":"a","session_id":"s1","ip":"4.4.4.4","user_agent":"{{Ua}}"}
            """, salts: salts);
        Assert.Equal(events[0].VisitorId, events[1].VisitorId);
        Assert.NotEqual(events[1].VisitorId, events[2].VisitorId);
        Assert.Equal(events[2].VisitorId, events[3].VisitorId);
    }

    [Fact]
    public async Task A_session_cookie_holds_a_session_across_hours_but_ip_and_agent_sessions_split_by_hour()
    {
        var events = await RunAsync($$"""
            {"type":"record-view","item_id":"a","session_id":"s1","timestamp":"2026-06-10T08:59:00Z"}
            {"type":"record-view","item_id":"a","session_id":"s1","timestamp":"2026-06-10T09:01:00Z"}
            {"type":"record-view","item_id":"a","ip":"1.1.1.1","user_agent":"{{Ua}}","timestamp":"2026-06-10T08:59:00Z"}
            {"type":"record-view","item_id":"a","ip":"1.1.1.1","user_agent":"{{Ua}}","timestamp":"2026-06-10T09:01:00Z"}
            {"type":"record-view","item_id":"a","ip":"1.1.1.1","user_agent":"{{Ua}}","timestamp":"2026-06-10T09:59:00Z"}
            """);
        Assert.Equal(events[0].SessionId, events[1].SessionId);
        Assert.NotEqual(events[2].SessionId, events[3].SessionId);
        Assert.Equal(events[3].SessionId, events[4].SessionId);
    }

    [Fact]
    public async Task Identities_are_dropped_and_ip_and_user_agent_too_unless_configured_to_keep()
    {
        const string body = """{"type":"record-view","item_id":"a","ip":"1.1.1.1","user_agent":"Mozilla/5.0 Firefox","user_id":"alice","session_id":"s1"}""";
        var dropped = (await RunAsync(body)).Single();
        Assert.Equal((null, null, null, null), (dropped["ip"], dropped["user_agent"], dropped["user_id"], dropped["session_id"]));
        var kept = (await RunAsync(body, o => o.EventTypes[0].Pipeline[1].KeepIp = true)).Single();
        Assert.Equal(("1.1.1.1", null), (kept["ip"], kept["user_agent"]));
    }

    [Fact]
    public async Task Robots_are_flagged_before_the_user_agent_is_dropped()
    {
        var events = await RunAsync("""
            {"type":"record-view","item_id":"a","user_agent":"SuperBOT 1.0"}
            {"type":"record-view","item_id":"a","user_agent":"Mozilla/5.0 Firefox"}
            """);
        Assert.Equal([true, false], events.Select(e => e.IsRobot));
    }

    [Fact]
    public async Task Filters_drop_types_by_allow_and_deny_regexes()
    {
        var events = await RunAsync("""
            {"type":"record-view","item_id":"a"}
            {"type":"file-download","item_id":"b"}
            """, o =>
        {
            foreach (var type in o.EventTypes) type.Pipeline.Insert(0, new PipelineStepOptions { Step = "filter", Allow = ["^record-", "^file-"], Deny = ["download$"] });
        });
        Assert.Equal(["a"], events.Select(e => (string)e["item_id"]!));
    }
}

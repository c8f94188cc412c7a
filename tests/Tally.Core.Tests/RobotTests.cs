using System.Text.Json;
using Tally.Core.Events;
using Tally.Core.Process;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public sealed class RobotTests
{
    private const string CounterFileName = "COUNTER_Robots_list.json";
    private static readonly string CounterText = File.ReadAllText(SharedFile("data", "counter-robots", CounterFileName));
    private static readonly RobotList Counter = new(RobotList.ParsePatterns(CounterText, CounterFileName));

    private static RobotList FromText(string text, string source = "robots.txt") => new(RobotList.ParsePatterns(text, source));

    [Fact]
    public void Every_pattern_of_the_counter_list_is_loaded()
    {
        using var document = JsonDocument.Parse(CounterText);
        var expected = document.RootElement.EnumerateArray().Select(e => e.GetProperty("pattern").GetString()!).ToList();
        Assert.True(expected.Count > 300);
        Assert.Equal(expected, Counter.Patterns);
    }

    [Theory]
    [InlineData("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")]
    [InlineData("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")]
    [InlineData("python-requests/2.32.3")]
    [InlineData("curl/8.5.0")]
    [InlineData("Wget/1.21.3")]
    [InlineData("Mozilla/5.0 (compatible; AhrefsBot/7.0)")]
    [InlineData("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)")]
    [InlineData("")]
    public void Counter_robots_are_flagged_in_any_letter_case(string userAgent)
    {
        Assert.True(Counter.IsRobot(userAgent));
        Assert.True(Counter.IsRobot(userAgent.ToUpperInvariant()));
        Assert.True(Counter.IsRobot(userAgent.ToLowerInvariant()));
    }

    [Theory]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36")]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0")]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")]
    [InlineData("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15")]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")]
    [InlineData("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36")]
    public void Ordinary_browsers_are_not_robots(string userAgent)
    {
        Assert.False(Counter.IsRobot(userAgent));
        Assert.False(Counter.IsRobot(userAgent.ToUpperInvariant()));
    }

    [Fact]
    public void The_text_format_takes_one_regex_per_line_and_skips_comments_and_blank_lines()
    {
        var list = FromText("# my robots\r\n\r\n^MyCrawler\r\n  harvester/\\d+  \n   \n# ^Firefox\n");
        Assert.Equal(["^MyCrawler", "harvester/\\d+"], list.Patterns);
        Assert.True(list.IsRobot("mycrawler 1.0"));
        Assert.True(list.IsRobot("The HARVESTER/12"));
        Assert.False(list.IsRobot("Not MyCrawler"));
        Assert.False(list.IsRobot("harvester/x"));
        Assert.False(list.IsRobot("Firefox"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# nothing listed yet\n\n")]
    [InlineData("[]")]
    public void An_empty_list_flags_nobody(string text)
    {
        var list = FromText(text);
        Assert.Empty(list.Patterns);
        Assert.False(list.IsRobot("Mozilla/5.0 Firefox/132.0"));
        Assert.False(list.IsRobot(""));
    }

    [Fact]
    public void Lists_can_be_combined()
    {
        var list = new RobotList(RobotList.ParsePatterns("^Alpha", "a.txt").Concat(RobotList.ParsePatterns("""[{"pattern":"beta"}]""", "b.json")));
        Assert.True(list.IsRobot("alpha/1"));
        Assert.True(list.IsRobot("x BETA y"));
        Assert.False(list.IsRobot("gamma"));
    }

    [Fact]
    public void A_bad_pattern_in_the_text_format_names_the_source_and_line()
    {
        var error = Assert.Throws<FormatException>(() => FromText("# c\nok\n(unclosed\n", "extra-robots.txt"));
        Assert.Contains("extra-robots.txt", error.Message, StringComparison.Ordinal);
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("(unclosed", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"pattern":"ok"},{"pattern":"[z-a]"}]""", "entry 1")]
    [InlineData("""[{"pattern":"ok"},{"description":"no pattern"}]""", "entry 1")]
    [InlineData("""[{"pattern":5}]""", "entry 0")]
    [InlineData("""["bot"]""", "entry 0")]
    [InlineData("""[{"pattern":"ok"}""", "not valid JSON")]
    public void A_bad_counter_json_list_names_the_source_and_entry(string text, string where)
    {
        var error = Assert.Throws<FormatException>(() => FromText(text, "my-robots.json"));
        Assert.Contains("my-robots.json", error.Message, StringComparison.Ordinal);
        Assert.Contains(where, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_robot_flag_step_judges_the_user_agent_and_leaves_events_without_one_alone()
    {
        var schema = DefaultSchema();
        var step = new RobotFlagProcessor(Counter);
        TallyEvent Flagged(string json)
        {
            var e = One(json, schema);
            Assert.True(step.Process(e));
            return e;
        }

        Assert.True(Flagged(View("\"user_agent\":\"curl/8.5.0\"")).IsRobot);
        Assert.False(Flagged(View("\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0\"")).IsRobot);
        Assert.False(Flagged(View()).IsRobot);
    }
}

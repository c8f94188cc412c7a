using System.Text;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Tests;
using Tally.Sources.Logs;

namespace Tally.Sources.Tests;

public sealed class AccessLogFormatTests
{
    private const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private static readonly DateTime Now = CoreTestKit.Now;

    private static AccessLogFormat Format(Action<List<UrlRuleOptions>>? change = null)
    {
        var schema = CoreTestKit.DefaultSchema(o =>
        {
            o.Sources.AccessLogRules.Add(new UrlRuleOptions { Pattern = @"^/records/(?<item_id>[^/?]+)/files/[^?]+\.(?<format>pdf|html)$", Type = "file-download" });
            o.Sources.AccessLogRules.Add(new UrlRuleOptions { Pattern = @"^/records/(?<item_id>[^/?]+)/?(\?.*)?$", Type = "record-view", Set = { ["access_type"] = "Open" } });
            change?.Invoke(o.Sources.AccessLogRules);
        });
        return AccessLogFormat.Create(schema, new EventParser(schema, new FixedClock(Now)));
    }

    private static string Line(string request, int status = 200, string user = "-", string agent = Firefox, string bytes = "5120") =>
        $"""203.0.113.9 - {user} [10/Jun/2026:13:55:36 +0200] "{request}" {status} {bytes} "https://search.example/?q=x" "{agent}" """;

    private static ParsedLine Parse(AccessLogFormat format, string line) => format.Parse(Encoding.UTF8.GetBytes(line), "access.log:1", Now);

    [Fact]
    public void A_combined_line_becomes_the_event_its_url_rule_names()
    {
        var e = Parse(Format(), Line("GET /records/abc%2F1/files/paper.pdf HTTP/1.1", user: "jdoe")).Event!;
        Assert.Equal("file-download", e.Type.Name);
        Assert.Equal("abc/1", e["item_id"]);
        Assert.Equal("pdf", e["format"]);
        Assert.Equal("203.0.113.9", e["ip"]);
        Assert.Equal(Firefox, e["user_agent"]);
        Assert.Equal("jdoe", e["user_id"]);
        Assert.Equal("https://search.example/?q=x", e["referrer"]);
        Assert.Equal(5120L, e["size"]);
        Assert.Equal(new DateTime(2026, 6, 10, 11, 55, 36, DateTimeKind.Utc), e.Timestamp);
        Assert.Equal("access.log:1", e.Id);
    }

    [Fact]
    public void Rules_are_tried_in_order_and_fixed_values_are_set()
    {
        var e = Parse(Format(), Line("GET /records/abc?tab=files HTTP/2.0")).Event!;
        Assert.Equal(("record-view", "abc", "Open"), (e.Type.Name, (string?)e["item_id"], (string?)e["access_type"]));
    }

    [Theory]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(206)]
    [InlineData(301)]
    public void Only_200_and_304_count(int status) =>
        Assert.Equal(LineOutcome.Skipped, Parse(Format(), Line("GET /records/abc HTTP/1.1", status)).Outcome);

    [Fact]
    public void A_304_counts_because_the_client_already_had_the_item() =>
        Assert.Equal(LineOutcome.Event, Parse(Format(), Line("GET /records/abc HTTP/1.1", 304, bytes: "-")).Outcome);

    [Theory]
    [InlineData("GET /about HTTP/1.1")]
    [InlineData("HEAD /records/abc HTTP/1.1")]
    [InlineData("POST /records/abc HTTP/1.1")]
    [InlineData("-")]
    public void Unmapped_pages_other_methods_and_garbled_requests_are_skipped(string request) =>
        Assert.Equal(LineOutcome.Skipped, Parse(Format(), Line(request)).Outcome);

    [Fact]
    public void The_common_format_without_referrer_and_agent_is_read_too()
    {
        var e = Parse(Format(), """198.51.100.4 - - [10/Jun/2026:09:00:00 +0000] "GET /records/xyz HTTP/1.0" 200 99""").Event!;
        Assert.Equal("xyz", e["item_id"]);
        Assert.Null(e["user_agent"]);
    }

    [Fact]
    public void A_combined_line_keeps_the_request_target_as_its_url() =>
        Assert.Equal("/records/abc?tab=files", Parse(Format(), Line("GET /records/abc?tab=files HTTP/1.1")).Event!["url"]);

    [Theory]
    [InlineData("www.example.org:443", "https://www.example.org/records/abc")]
    [InlineData("www.example.org:80", "http://www.example.org/records/abc")]
    [InlineData("repo.example.org", "http://repo.example.org/records/abc")]
    [InlineData("repo.example.org:8080", "http://repo.example.org:8080/records/abc")]
    public void With_the_virtual_host_first_the_url_is_absolute_and_the_rest_reads_as_combined(string virtualHost, string url)
    {
        var e = Parse(Format(), $"{virtualHost} {Line("GET /records/abc HTTP/1.1", user: "jdoe")}").Event!;
        Assert.Equal(("abc", url, "203.0.113.9", "jdoe"), ((string?)e["item_id"], (string?)e["url"], (string?)e["ip"], (string?)e["user_id"]));
        Assert.Equal("https://search.example/?q=x", e["referrer"]);
        Assert.Equal(new DateTime(2026, 6, 10, 11, 55, 36, DateTimeKind.Utc), e.Timestamp);
    }

    [Theory]
    [InlineData("garbage", "$")]
    [InlineData("""www.example.org:443 1.2.3.4 - - - [10/Jun/2026:09:00:00 +0000] "GET /records/x HTTP/1.1" 200 1""", "time")]
    [InlineData("""1.2.3.4 - - [32/Jun/2026:09:00:00 +0000] "GET /records/x HTTP/1.1" 200 1 "-" "a" """, "time")]
    [InlineData("""1.2.3.4 - - [10/Jun/2026:09:00:00 +0000] GET /records/x 200 1""", "request")]
    [InlineData("""1.2.3.4 - - [10/Jun/2026:09:00:00 +0000] "GET /records/x HTTP/1.1" abc 1""", "status")]
    [InlineData("""1.2.3.4 - - [10/Jun/2099:09:00:00 +0000] "GET /records/x HTTP/1.1" 200 1 "-" "a" """, "time")]
    public void Bad_lines_are_rejected_naming_the_field(string line, string field)
    {
        var parsed = Parse(Format(), line);
        Assert.Equal(LineOutcome.Rejected, parsed.Outcome);
        Assert.Equal(field, parsed.Field);
    }

    [Fact]
    public void Rule_mistakes_are_named()
    {
        Assert.Contains("sources.accessLogRules", Assert.Throws<ConfigurationException>(() =>
            AccessLogFormat.Create(CoreTestKit.DefaultSchema(), new EventParser(CoreTestKit.DefaultSchema(), TimeProvider.System))).Message);
        Assert.Contains("sources.accessLogRules[2].pattern", Assert.Throws<ConfigurationException>(() =>
            Format(r => r.Add(new UrlRuleOptions { Pattern = "(?<nofield>x)", Type = "record-view" }))).Message);
        Assert.Contains("sources.accessLogRules[2].pattern", Assert.Throws<ConfigurationException>(() =>
            Format(r => r.Add(new UrlRuleOptions { Pattern = "(unclosed", Type = "record-view" }))).Message);
        Assert.Contains("sources.accessLogRules[2].type", Assert.Throws<ConfigurationException>(() =>
            Format(r => r.Add(new UrlRuleOptions { Pattern = "x", Type = "nope" }))).Message);
        Assert.Contains("sources.accessLogRules[2].set.access_type", Assert.Throws<ConfigurationException>(() =>
            Format(r => r.Add(new UrlRuleOptions { Pattern = "x", Type = "record-view", Set = { ["access_type"] = "Free" } }))).Message);
    }
}

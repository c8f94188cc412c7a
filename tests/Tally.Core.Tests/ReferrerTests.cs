using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public sealed class ReferrerTests
{
    private static readonly Referrers NoOwnHosts = new([]);

    [Theory]
    [InlineData("http://example.com")]
    [InlineData("http://example.com/")]
    [InlineData("https://example.com/")]
    [InlineData("http://www.example.com")]
    [InlineData("https://www.example.com/")]
    [InlineData("HTTPS://WWW.Example.COM/")]
    [InlineData("https://www.example.com.")]
    [InlineData("https://www.example.com:443/")]
    [InlineData("  https://example.com/?utm_source=x#top ")]
    [InlineData("https://user:secret@www.example.com/")]
    public void Scheme_www_case_trailing_slash_query_and_fragment_make_one_site(string referrer) =>
        Assert.Equal("example.com", NoOwnHosts.Key(referrer, null));

    [Theory]
    [InlineData("https://www.google.com/search?q=private+words", "google.com/search")]
    [InlineData("https://en.wikipedia.org/wiki/Ocean/", "en.wikipedia.org/wiki/Ocean")]
    [InlineData("http://example.com:8080/a", "example.com:8080/a")]
    [InlineData("https://scholar.google.com/", "scholar.google.com")]
    [InlineData("android-app://com.google.android.gm/", "android-app://com.google.android.gm")]
    [InlineData("https://example.com/a%20b", "example.com/a%20b")]
    public void A_page_keeps_its_host_port_and_path(string referrer, string key) =>
        Assert.Equal(key, NoOwnHosts.Key(referrer, null));

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("   ", null)]
    [InlineData("not a url", "not a url")]
    [InlineData("/relative/path", "/relative/path")]
    [InlineData("example.com/page", "example.com/page")]
    public void Nothing_is_no_referrer_and_text_that_is_not_a_url_stays_as_sent(string? referrer, string? key) =>
        Assert.Equal(key, NoOwnHosts.Key(referrer, null));

    [Theory]
    [InlineData("https://repository.example.org/records/1")]
    [InlineData("http://www.repository.example.org/")]
    [InlineData("https://REPOSITORY.example.org:8443/search?q=x")]
    public void A_referrer_on_the_host_of_the_events_own_page_is_internal(string referrer) =>
        Assert.Null(NoOwnHosts.Key(referrer, "https://repository.example.org/records/2"));

    [Fact]
    public void A_page_url_that_is_only_a_path_tells_nothing() =>
        Assert.Equal("repository.example.org", NoOwnHosts.Key("https://repository.example.org/", "/records/2"));

    [Theory]
    [InlineData("https://example.org/", null)]
    [InlineData("https://www.example.org/records/9", null)]
    [InlineData("https://journals.example.org/", "journals.example.org")]
    [InlineData("https://example.org.evil.net/", "example.org.evil.net")]
    [InlineData("https://docs.example.net/x", null)]
    [InlineData("https://example.net/", null)]
    [InlineData("https://notexample.net/", "notexample.net")]
    [InlineData("http://[2001:db8::1]/", null)]
    public void Configured_hosts_are_the_site_itself_www_implied_and_a_wildcard_covers_subdomains(string referrer, string? key) =>
        Assert.Equal(key, new Referrers(["www.Example.org", "*.example.net", "2001:db8::1"]).Key(referrer, null));

    [Theory]
    [InlineData("https://example.org/")]
    [InlineData("example.org/path")]
    [InlineData("example.org:8080")]
    [InlineData("exa mple.org")]
    [InlineData("")]
    [InlineData("*.")]
    [InlineData(null)]
    public void An_own_host_that_is_not_a_host_name_is_refused_naming_the_setting(string? host)
    {
        var error = Assert.Throws<ConfigurationException>(() => DefaultSchema(o => o.Referrers.OwnHosts = ["example.net", host!]));
        Assert.Equal("referrers.ownHosts[1]", error.Setting);
        Assert.Contains("example.org", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_configured_hosts_reach_the_schema() =>
        Assert.Null(DefaultSchema(o => o.Referrers.OwnHosts = ["example.org"]).Referrers.Key("http://www.example.org/", null));

    [Fact]
    public void A_day_of_referrer_metrics_has_one_row_per_site_and_none_for_the_sites_own_pages()
    {
        var schema = DefaultSchema(o => o.Referrers.OwnHosts = ["example.org"]);
        var type = schema.EventTypes["record-view"];
        var day = new DateOnly(2026, 6, 10);
        var calculator = new DayCalculator(schema.Aggregations["record-view-referrers"], day, schema.Referrers);
        var n = 0;
        foreach (var (referrer, url) in new (string?, string?)[]
                 {
                     ("http://www.example.com", null), ("http://example.com/", null), ("https://example.com", "/records/1"),
                     ("https://www.example.org/search", null), ("https://journal.example.net/", "https://journal.example.net/records/1"), (null, null),
                 })
        {
            var values = new object?[type.Fields.Count];
            values[type.OrdinalOf(WellKnownFields.ItemId)] = "r1";
            values[type.OrdinalOf(WellKnownFields.Referrer)] = referrer;
            values[type.OrdinalOf(WellKnownFields.Url)] = url;
            calculator.Add(new TallyEvent(type, $"e{n}", day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), values) { VisitorId = n++ });
        }
        Assert.Equal([((string?)null, 3L), ("example.com", 3L)], calculator.Rows().Where(r => r.Grouping == 1).Select(r => (r.Keys[0], r.Count)).OrderBy(r => r.Item1, StringComparer.Ordinal));
        Assert.Contains(type.Field(WellKnownFields.Url), DayCalculator.FieldsRead(schema.Aggregations["record-view-referrers"]));
        Assert.DoesNotContain(type.Field(WellKnownFields.Url), DayCalculator.FieldsRead(schema.Aggregations["record-view-agg"]));
    }

    [Theory]
    [InlineData("https://www.google.com/", "google.com")]
    [InlineData("google.com", "google.com")]
    [InlineData("android-app://com.google.android.gm", "android-app://com.google.android.gm")]
    public void A_filter_value_finds_the_key_whether_it_is_a_url_or_a_key(string value, string key) =>
        Assert.Equal(key, Referrers.Normalize(value));

    [Fact]
    public void A_stats_filter_on_referrer_is_normalised_and_other_filters_are_not()
    {
        var aggregation = DefaultSchema(o => o.Aggregations.Add(new AggregationOptions { Name = "ref-items", EventType = "record-view", GroupBy = ["referrer", "item_id"] }))
            .Aggregations["ref-items"];
        var request = Query.StatsRequest.Parse(
            [KeyValuePair.Create("referrer", (IReadOnlyList<string>)["https://www.google.com/"]), KeyValuePair.Create("item_id", (IReadOnlyList<string>)["https://www.google.com/"])],
            aggregation, new TallyOptions(), new DateOnly(2026, 6, 10));
        Assert.Equal(["google.com"], request.Filters.Single(f => f.Field == WellKnownFields.Referrer).Values);
        Assert.Equal(["https://www.google.com/"], request.Filters.Single(f => f.Field == WellKnownFields.ItemId).Values);
    }
}

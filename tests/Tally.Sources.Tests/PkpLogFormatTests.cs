using System.Text;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Tests;
using Tally.Sources.Logs;

namespace Tally.Sources.Tests;

public sealed class PkpLogFormatTests
{
    private const string Hash = "87d8edf8ca58ab4d3e9421b03edcd9c5a2093a79c341964179b8e379faabd324";
    private const string Firefox = "Mozilla\\/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko\\/20100101 Firefox\\/110.0";
    private static readonly DateTime Now = CoreTestKit.Now;

    private static PkpLogFormat Format(Action<PkpSourceOptions>? change = null)
    {
        var schema = CoreTestKit.DefaultSchema(o => change?.Invoke(o.Sources.Pkp));
        return PkpLogFormat.Create(schema, new EventParser(schema, new FixedClock(Now)));
    }

    /// <summary>A line as PKP's LogUsageEvent writes it, with <paramref name="ids"/> spliced in.</summary>
    private static string Line(int assocType, string ids = "", string time = "2026-06-09 11:41:14", string institutions = "[]") =>
        $$"""{"time":"{{time}}","ip":"{{Hash}}","userAgent":"{{Firefox}}","canonicalUrl":"https:\/\/example.org\/publicknowledge\/article\/view\/7","assocType":{{assocType}},"contextId":1,"submissionId":null,"representationId":null,"submissionFileId":null,"fileType":null,"country":"de","region":"BE","city":"Berlin","institutionIds":{{institutions}},"version":"","issueId":null,"issueGalleyId":null{{ids}}}""";

    private static ParsedLine Parse(PkpLogFormat format, string line) => format.Parse(Encoding.UTF8.GetBytes(line), "pkp/usage_events_20260609.log:1", Now);

    [Fact]
    public void The_seed_documents_example_line_is_a_journal_homepage_view()
    {
        const string seedLine = """{"time":"2023-02-27 11:41:14","ip":"87d8edf8ca58ab4d3e9421b03edcd9c5a2093a79c341964179b8e379faabd324","userAgent":"Mozilla\/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko\/20100101 Firefox\/110.0","canonicalUrl":"https:\/\/example.org\/publicknowledge\/index","assocType":256,"contextId":1,"submissionId":null,"representationId":null,"submissionFileId":null,"fileType":null,"country":null,"region":null,"city":null,"institutionIds":[],"version":"","issueId":null,"issueGalleyId":null}""";
        var parsed = Parse(Format(), seedLine);
        Assert.Equal(LineOutcome.Event, parsed.Outcome);
        var e = parsed.Event!;
        Assert.Equal("context-view", e.Type.Name);
        Assert.Equal("context/1", e["item_id"]);
        Assert.Equal(new DateTime(2023, 2, 27, 11, 41, 14, DateTimeKind.Utc), e.Timestamp);
        Assert.Equal("pkp/usage_events_20260609.log:1", e.Id);
    }

    [Fact]
    public void An_abstract_view_is_an_investigation_of_the_article_within_its_journal()
    {
        var e = Parse(Format(), Line(0x100009, ""","submissionId":7""")).Event!;
        Assert.Equal("record-view", e.Type.Name);
        Assert.Equal(CounterRole.Investigation, e.Type.Counter);
        Assert.Equal("submission/7", e["item_id"]);
        Assert.Equal("context/1", e["title_id"]);
        Assert.Equal("Article", e["data_type"]);
        Assert.Equal(Hash, e["ip"]);
        Assert.Equal("DE", e["country"]);
        // PKP logs the subdivision alone ("BE"); Tally keeps the ISO 3166-2 code that COUNTER reports.
        Assert.Equal("DE-BE", e["region"]);
        Assert.Equal("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/110.0", e["user_agent"]);
    }

    [Fact]
    public void A_primary_galley_download_is_a_request_and_a_supplementary_file_only_an_investigation()
    {
        var format = Format();
        var galley = Parse(format, Line(0x203, ""","submissionId":7,"representationId":3,"submissionFileId":12,"fileType":2""")).Event!;
        Assert.Equal("file-download", galley.Type.Name);
        Assert.Equal(CounterRole.Request, galley.Type.Counter);
        Assert.Equal("submission/7", galley["item_id"]);
        Assert.Equal("pdf", galley["format"]);
        Assert.Contains("\"submission_file_id\":12", galley.Extra);

        var supplementary = Parse(format, Line(0x213, ""","submissionId":7,"submissionFileId":13,"fileType":3""")).Event!;
        Assert.Equal("supplementary-download", supplementary.Type.Name);
        Assert.Equal(CounterRole.Investigation, supplementary.Type.Counter);
        Assert.Equal("submission/7", supplementary["item_id"]);
    }

    [Fact]
    public void Issues_and_issue_galleys_count_on_the_issue_not_on_an_article()
    {
        var format = Format();
        var toc = Parse(format, Line(0x103, ""","issueId":4""")).Event!;
        Assert.Equal(("issue-view", "issue/4"), (toc.Type.Name, (string?)toc["item_id"]));
        var download = Parse(format, Line(0x105, ""","issueId":4,"issueGalleyId":9""")).Event!;
        Assert.Equal(("issue-download", "issue/4"), (download.Type.Name, (string?)download["item_id"]));
        Assert.Equal(CounterRole.None, download.Type.Counter);
    }

    [Fact]
    public void In_omp_a_chapter_is_a_book_segment_of_its_book()
    {
        var format = Format(p => p.Application = "omp");
        var chapter = Parse(format, Line(0x214, ""","submissionId":7,"chapterId":2""")).Event!;
        Assert.Equal("chapter/2", chapter["item_id"]);
        Assert.Equal("submission/7", chapter["title_id"]);
        Assert.Equal("Book_Segment", chapter["data_type"]);
        var book = Parse(format, Line(0x100009, ""","submissionId":7""")).Event!;
        Assert.Equal("Book", book["data_type"]);
        Assert.Equal("submission/7", book["title_id"]);
    }

    [Fact]
    public void Time_is_read_in_pkps_time_zone()
    {
        var e = Parse(Format(p => p.TimeZone = "Europe/Berlin"), Line(256, time: "2026-06-09 11:41:14")).Event!;
        Assert.Equal(new DateTime(2026, 6, 9, 9, 41, 14, DateTimeKind.Utc), e.Timestamp);
    }

    [Fact]
    public void Institutions_map_to_counter_customers_and_unmapped_ones_keep_pkps_id()
    {
        var format = Format(p => p.Institutions["5"] = "cust-uni");
        Assert.Equal("cust-uni", Parse(format, Line(0x100009, ""","submissionId":7""", institutions: "[5,6]")).Event!["institution"]);
        Assert.Equal("pkp-institution-6", Parse(format, Line(0x100009, ""","submissionId":7""", institutions: "[6]")).Event!["institution"]);
    }

    [Fact]
    public void A_kind_mapped_to_nothing_is_skipped_not_rejected()
    {
        Assert.Equal(LineOutcome.Skipped, Parse(Format(p => p.Types["context"] = ""), Line(256)).Outcome);
    }

    [Theory]
    [InlineData("not json", "$")]
    [InlineData("[1,2]", "$")]
    [InlineData("""{"time":"2026-06-09T11:41:14Z","contextId":1,"assocType":256,"institutionIds":[]}""", "time")]
    [InlineData("""{"time":"2026-02-30 11:41:14","contextId":1,"assocType":256,"institutionIds":[]}""", "time")]
    [InlineData("""{"time":"2026-06-09 11:41:14","assocType":256,"institutionIds":[]}""", "contextId")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":"one","assocType":256,"institutionIds":[]}""", "contextId")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":999,"institutionIds":[]}""", "assocType")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":256}""", "institutionIds")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":256,"institutionIds":["x"]}""", "institutionIds")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":1048585,"institutionIds":[]}""", "submissionId")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":515,"submissionId":7,"institutionIds":[]}""", "submissionFileId")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":261,"issueId":4,"institutionIds":[]}""", "issueGalleyId")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":256,"fileType":9,"institutionIds":[]}""", "fileType")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":256,"country":"Germany","institutionIds":[]}""", "country")]
    [InlineData("""{"time":"2099-06-09 11:41:14","contextId":1,"assocType":256,"institutionIds":[]}""", "time")]
    [InlineData("""{"time":"2026-06-09 11:41:14","contextId":1,"assocType":256,"institutionIds":[]} {}""", "$")]
    public void Bad_lines_are_rejected_naming_the_field(string line, string field)
    {
        var parsed = Parse(Format(), line);
        Assert.Equal(LineOutcome.Rejected, parsed.Outcome);
        Assert.Equal(field, parsed.Field);
        Assert.False(string.IsNullOrWhiteSpace(parsed.Reason));
    }

    [Fact]
    public void Configuration_mistakes_are_named()
    {
        Assert.Contains("sources.pkp.types.galley", Assert.Throws<ConfigurationException>(() => Format(p => p.Types["galley"] = "record-view")).Message);
        Assert.Contains("sources.pkp.types.submission", Assert.Throws<ConfigurationException>(() => Format(p => p.Types["submission"] = "nope")).Message);
        Assert.Contains("sources.pkp.application", Assert.Throws<ConfigurationException>(() => Format(p => p.Application = "wordpress")).Message);
        Assert.Contains("sources.pkp.timeZone", Assert.Throws<ConfigurationException>(() => Format(p => p.TimeZone = "Mars/Olympus")).Message);
        Assert.Contains("sources.pkp.institutions.x", Assert.Throws<ConfigurationException>(() => Format(p => p.Institutions["x"] = "c")).Message);
    }

    [Fact]
    public void Todays_log_has_pkps_name() =>
        Assert.Equal("usage_events_20260609.log", PkpLogFormat.CurrentLogName(new DateOnly(2026, 6, 9)));
}

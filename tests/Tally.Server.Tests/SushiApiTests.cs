using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Aggregate;
using Tally.Core.Query.Sushi;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Hosting.Demo;
using Tally.Server.Tests.Sushi;

namespace Tally.Server.Tests;

/// <summary>
/// COUNTER R5.1 end to end: events with metadata go in over HTTP, are attributed to institutions by
/// IP and to countries by the built-in geo database, are aggregated, and come out of /r51 as reports
/// that validate against COUNTER's own JSON schemas and carry the numbers the Code of Practice gives.
/// </summary>
public sealed class SushiApiTests : IAsyncLifetime
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private const string Requestor = "library-harvester";
    private const string SushiKey = "sushi-key-0123456789abcdef";
    private const string Month = "2026-10";
    private TallyHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await TallyHost.StartAsync(config =>
        {
            // The built-in COUNTER types: record-view, file-download, no-license, limit-exceeded, search.
            config.Remove("eventTypes");
            config.Remove("aggregations");
            config.Remove("queries");
            config["counter"] = new JsonObject
            {
                ["platform"] = "Test Platform",
                ["platformId"] = "testplat",
                ["publisher"] = "Test Press",
                ["credentials"] = new JsonArray(new JsonObject { ["requestorId"] = Requestor, ["apiKey"] = SushiKey }),
                ["institutions"] = new JsonArray(
                    new JsonObject
                    {
                        ["customerId"] = "uni", ["name"] = "Test University",
                        ["ids"] = new JsonObject { ["ROR"] = new JsonArray("05abcde12") },
                        ["ipRanges"] = new JsonArray("20.0.0.0/8", "2001:db8::/32"),
                    }),
                ["databases"] = new JsonArray(new JsonObject { ["id"] = "db1", ["name"] = "Test Database", ["dataType"] = "Database_Full" }),
            };
        });
        await SendUsageAsync();
        await _host.AggregateAsync();
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    /// <summary>
    /// The worked example every test reads from, all on 2026-10-05:
    /// a university reader (20.1.1.1) views article a1 of journal j1, downloads its PDF twice 10 s apart
    /// (a double-click), and is refused article a2 (No_License); a reader at 8.8.8.8 (US, no institution;
    /// in California, as a city-level geo database would say) downloads all 12 chapters of book b1 in one session; a reader views a dataset and plays a video;
    /// two searches of db1 and one automated search; a robot downloads a1.
    /// </summary>
    private async Task SendUsageAsync()
    {
        var events = new List<JsonObject>();
        JsonObject Event(string type, string time, string ip, string item, params (string, string)[] fields)
        {
            var e = new JsonObject { ["type"] = type, ["timestamp"] = $"2026-10-05T{time}Z", ["ip"] = ip, ["user_agent"] = Browser, ["item_id"] = item };
            foreach (var (name, value) in fields) e[name] = value;
            events.Add(e);
            return e;
        }
        (string, string)[] Article(string id) =>
            [("title_id", "j1"), ("title_name", "Journal of Tests"), ("online_issn", "1234-5678"), ("data_type", "Article"), ("item_name", $"Article {id}"),
             ("doi", $"10.5555/{id}"), ("yop", "2024"), ("authors", "Ada Lovelace; Alan Turing"), ("publication_date", "2024-03-01"), ("article_version", "VoR")];

        Event("record-view", "10:00:00", "20.1.1.1", "a1", Article("a1"));
        Event("file-download", "10:01:00", "20.1.1.1", "a1", [.. Article("a1"), ("format", "pdf")]);
        Event("file-download", "10:01:10", "20.1.1.1", "a1", [.. Article("a1"), ("format", "pdf")]);
        Event("no-license", "10:05:00", "20.1.1.1", "a2", Article("a2"));
        for (var c = 1; c <= 12; c++)
            Event("file-download", $"11:{c * 3:D2}:00", "8.8.8.8", $"b1-ch{c}",
                ("title_id", "b1"), ("title_name", "Book of Tests"), ("isbn", "978-1-5555-0001-1"), ("data_type", "Book_Segment"), ("parent_data_type", "Book"), ("yop", "2020"),
                ("region", "US-CA"));
        Event("record-view", "12:00:00", "9.9.9.9", "ds1", ("data_type", "Dataset"), ("item_name", "Survey data"));
        Event("file-download", "12:01:00", "9.9.9.9", "v1", ("data_type", "Multimedia"), ("item_name", "Lecture video"));
        var search = Event("search", "13:00:00", "20.1.1.2", "", ("database_id", "db1"));
        search.Remove("item_id");
        var second = Event("search", "13:05:00", "20.1.1.2", "", ("database_id", "db1"));
        second.Remove("item_id");
        var automated = Event("search", "13:06:00", "20.1.1.3", "", ("database_id", "db1"), ("search_type", "automated"));
        automated.Remove("item_id");
        Event("file-download", "14:00:00", "66.249.66.1", "a1", Article("a1"))["user_agent"] = "Googlebot/2.1 (+http://www.google.com/bot.html)";

        using var response = await _host.PostEventsAsync(new JsonArray([.. events]).ToJsonString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
        Assert.Equal(0, JsonDocument.Parse(body).RootElement.GetProperty("rejected").GetArrayLength());
    }

    private static string Auth => $"requestor_id={Requestor}&api_key={SushiKey}";

    private async Task<(HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        using var response = await _host.Client.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonObject> ReportAsync(string report, string customer = "0000000000000000", string extra = "")
    {
        var (status, body) = await GetAsync($"/r51/reports/{report}?customer_id={customer}&begin_date={Month}&end_date={Month}&{Auth}{extra}");
        Assert.True(status == HttpStatusCode.OK, body);
        SushiSchema.AssertValid(SushiSchema.ReportSchemaName(report), body);
        return JsonNode.Parse(body)!.AsObject();
    }

    private static long Count(JsonNode performance, string metric) =>
        performance["Performance"]?[metric]?[Month]?.GetValue<long>() ?? 0;

    private static IEnumerable<JsonNode> Performances(JsonObject report, string nameField, string name) =>
        report["Report_Items"]!.AsArray().Where(i => i![nameField]?.GetValue<string>() == name).SelectMany(i => i!["Attribute_Performance"]!.AsArray()!)!;

    private static long Sum(JsonObject report, string nameField, string name, string metric) =>
        Performances(report, nameField, name).Sum(p => Count(p!, metric));

    [Theory]
    [InlineData("pr"), InlineData("pr_p1"), InlineData("dr"), InlineData("dr_d1"), InlineData("dr_d2"), InlineData("tr"), InlineData("tr_b1"), InlineData("tr_b2"),
     InlineData("tr_b3"), InlineData("tr_j1"), InlineData("tr_j2"), InlineData("tr_j3"), InlineData("tr_j4"), InlineData("ir"), InlineData("ir_a1"), InlineData("ir_m1")]
    public async Task Every_report_validates_against_the_COUNTER_schema_for_the_world_and_for_an_institution(string report)
    {
        await ReportAsync(report);
        await ReportAsync(report, "uni");
    }

    [Theory]
    [InlineData("pr", "&attributes_to_show=Access_Method|Country_Code|Country_Name|Attributed&granularity=Totals")]
    [InlineData("tr", "&attributes_to_show=YOP|Access_Type|Access_Method|Institution_Name|Customer_ID&metric_type=Total_Item_Requests|Unique_Item_Requests|Unique_Title_Requests")]
    [InlineData("ir", "&attributes_to_show=Authors|Publication_Date|Article_Version|YOP|Access_Type&include_parent_details=True")]
    [InlineData("dr", "&attributes_to_show=Access_Method&database=db1&data_type=Database_Full")]
    public async Task Master_reports_with_attributes_and_filters_validate(string report, string options) =>
        await ReportAsync(report, extra: options);

    [Fact]
    public async Task Title_report_counts_follow_the_code_of_practice()
    {
        var tr = await ReportAsync("tr");
        // Journal: a view and one download after the double-click filter; the download also counts as an investigation.
        Assert.Equal(2, Sum(tr, "Title", "Journal of Tests", "Total_Item_Investigations"));
        Assert.Equal(1, Sum(tr, "Title", "Journal of Tests", "Total_Item_Requests"));
        Assert.Equal(1, Sum(tr, "Title", "Journal of Tests", "Unique_Item_Requests"));
        Assert.Equal(1, Sum(tr, "Title", "Journal of Tests", "No_License"));
        // Unique_Title_* is for books only.
        Assert.Equal(0, Sum(tr, "Title", "Journal of Tests", "Unique_Title_Requests"));
        // A book with 12 chapters downloaded in one session: 12 unique item requests, 1 unique title request.
        Assert.Equal(12, Sum(tr, "Title", "Book of Tests", "Total_Item_Requests"));
        Assert.Equal(12, Sum(tr, "Title", "Book of Tests", "Unique_Item_Requests"));
        Assert.Equal(1, Sum(tr, "Title", "Book of Tests", "Unique_Title_Requests"));
        Assert.Equal(1, Sum(tr, "Title", "Book of Tests", "Unique_Title_Investigations"));
        // Robots never count: the only other download of a1 was Googlebot's.
        var journal = tr["Report_Items"]!.AsArray().Single(i => i!["Title"]!.GetValue<string>() == "Journal of Tests")!;
        Assert.Equal("1234-5678", journal["Item_ID"]!["Online_ISSN"]!.GetValue<string>());
        Assert.Equal("testplat:j1", journal["Item_ID"]!["Proprietary"]!.GetValue<string>());
        Assert.Equal("Journal", journal["Attribute_Performance"]![0]!["Data_Type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Institutions_see_only_their_usage_and_the_world_sees_all()
    {
        var uni = await ReportAsync("tr_j1", "uni");
        Assert.Equal(1, Sum(uni, "Title", "Journal of Tests", "Total_Item_Requests"));
        Assert.Equal("Test University", uni["Report_Header"]!["Institution_Name"]!.GetValue<string>());
        Assert.Equal("05abcde12", uni["Report_Header"]!["Institution_ID"]!["ROR"]![0]!.GetValue<string>());
        Assert.DoesNotContain(uni["Report_Items"]!.AsArray(), i => i!["Title"]!.GetValue<string>() == "Book of Tests");

        var world = await ReportAsync("tr_b1");
        Assert.Equal(12, Sum(world, "Title", "Book of Tests", "Total_Item_Requests"));
        Assert.Equal(1, Sum(world, "Title", "Book of Tests", "Unique_Title_Requests"));
        var uniBooks = await ReportAsync("tr_b1", "uni");
        Assert.Equal(3030, uniBooks["Report_Header"]!["Exceptions"]![0]!["Code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Platform_database_and_item_reports_agree_with_the_example()
    {
        var pr = await ReportAsync("pr_p1");
        Assert.Equal(2, Sum(pr, "Platform", "Test Platform", "Searches_Platform"));
        Assert.Equal(1 + 12 + 1, Sum(pr, "Platform", "Test Platform", "Total_Item_Requests"));

        var dr = await ReportAsync("dr_d1");
        Assert.Equal(2, Sum(dr, "Database", "Test Database", "Searches_Regular"));
        Assert.Equal(1, Sum(dr, "Database", "Test Database", "Searches_Automated"));

        var articles = await ReportAsync("ir_a1");
        var parent = articles["Report_Items"]!.AsArray().Single()!;
        Assert.Equal("Journal of Tests", parent["Title"]!.GetValue<string>());
        var a1 = parent["Items"]!.AsArray().Single(i => i!["Item"]!.GetValue<string>() == "Article a1")!;
        Assert.Equal(1, Count(a1["Attribute_Performance"]![0]!, "Total_Item_Requests"));
        Assert.Equal("10.5555/a1", a1["Item_ID"]!["DOI"]!.GetValue<string>());
        Assert.Equal("Ada Lovelace", a1["Authors"]![0]!["Name"]!.GetValue<string>());

        var multimedia = await ReportAsync("ir_m1");
        var video = multimedia["Report_Items"]!.AsArray().Single()!["Items"]!.AsArray().Single()!;
        Assert.Equal("Lecture video", video["Item"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_attributed_filter_separates_institutional_usage_from_the_rest()
    {
        var attributed = await ReportAsync("pr", extra: "&attributed=Yes&attributes_to_show=Attributed");
        var unattributed = await ReportAsync("pr", extra: "&attributed=No&attributes_to_show=Attributed");
        // Only the university reader's download of a1 is attributed; the book, the video and the robot are not.
        Assert.Equal(1, Sum(attributed, "Platform", "Test Platform", "Total_Item_Requests"));
        Assert.Equal(12 + 1, Sum(unattributed, "Platform", "Test Platform", "Total_Item_Requests"));
        Assert.All(attributed["Report_Items"]!.AsArray().SelectMany(i => i!["Attribute_Performance"]!.AsArray()),
            p => Assert.Equal("Yes", p!["Attributed"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Country_comes_from_the_geo_database_and_filters_reports()
    {
        var us = await ReportAsync("pr", extra: "&attributes_to_show=Country_Code&country_code=US");
        var performances = us["Report_Items"]!.AsArray().SelectMany(i => i!["Attribute_Performance"]!.AsArray()).ToList();
        Assert.All(performances, p => Assert.Equal("US", p!["Country_Code"]!.GetValue<string>()));
        // The book reader at 8.8.8.8 is in the US.
        Assert.True(performances.Sum(p => Count(p!, "Total_Item_Requests")) >= 12);
    }

    [Fact]
    public async Task Tabular_form_has_the_header_rows_and_the_same_numbers_as_json()
    {
        var (status, tsv) = await GetAsync($"/r51/reports/tr_b1?customer_id=0000000000000000&begin_date={Month}&end_date={Month}&{Auth}&format=tsv");
        Assert.Equal(HttpStatusCode.OK, status);
        var lines = tsv.TrimStart('\uFEFF')[..^2].Split("\r\n");
        var headings = lines[14].Split('\t');
        Assert.Equal(["Title", "Publisher", "Publisher_ID", "Platform", "DOI", "Proprietary_ID", "ISBN", "Print_ISSN", "Online_ISSN", "URI", "Data_Type", "YOP",
            "Metric_Type", "Reporting_Period_Total", "Oct-2026"], headings);
        // The header rows and the blank row are padded with tabs to the table's width, as in COUNTER's samples.
        var padding = new string('\t', headings.Length - 2);
        Assert.Equal("Report_Name\tBook Requests (Controlled)" + padding, lines[0]);
        Assert.Equal("Report_ID\tTR_B1" + padding, lines[1]);
        Assert.Equal("Release\t5.1" + padding, lines[2]);
        Assert.Equal("Report_Attributes\t" + padding, lines[7]);
        Assert.Equal("Reporting_Period\tBegin_Date=2026-10-01; End_Date=2026-10-31" + padding, lines[9]);
        Assert.Equal("\t" + padding, lines[13]);
        Assert.All(lines, line => Assert.Equal(headings.Length, line.Split('\t').Length));
        var requests = lines.Skip(15).Select(l => l.Split('\t')).Single(c => c.Length > 12 && c[12] == "Total_Item_Requests");
        Assert.Equal("Book of Tests", requests[0]);
        Assert.Equal("12", requests[13]);
        Assert.Equal("12", requests[14]);
    }

    [Fact]
    public async Task Subdivisions_are_reported_by_code_and_english_name_and_filter_reports()
    {
        var california = await ReportAsync("pr", extra: "&attributes_to_show=Country_Name|Subdivision_Code|Subdivision_Name&subdivision_code=us-ca");
        var performances = Performances(california, "Platform", "Test Platform").ToList();
        Assert.NotEmpty(performances);
        Assert.All(performances, p => Assert.Equal(("United States", "US-CA", "California"),
            (p["Country_Name"]!.GetValue<string>(), p["Subdivision_Code"]!.GetValue<string>(), p["Subdivision_Name"]!.GetValue<string>())));
        // Only the book reader is known to be in California.
        Assert.Equal(12, performances.Sum(p => Count(p, "Total_Item_Requests")));

        var (_, tsv) = await GetAsync($"/r51/reports/ir?customer_id=0000000000000000&begin_date={Month}&end_date={Month}&{Auth}&format=tsv&attributes_to_show=Subdivision_Name");
        var rows = tsv.TrimStart('\uFEFF').Split("\r\n").Skip(14).Select(l => l.Split('\t')).ToList();
        var column = Array.IndexOf(rows[0], "Subdivision_Name");
        Assert.True(column > 0, string.Join(", ", rows[0]));
        Assert.Equal(12 * 4, rows.Count(r => r.Length > column && r[column] == "California"));
    }

    [Theory]
    [InlineData("True", 3063)]
    [InlineData("true", 3063)]
    [InlineData("perhaps", 3062)]
    public async Task Asking_an_item_report_for_components_is_answered_with_an_exception_in_the_header(string value, int code)
    {
        var ir = await ReportAsync("ir", extra: $"&include_component_details={value}");
        var exceptions = ir["Report_Header"]!["Exceptions"]!.AsArray().Select(e => e!["Code"]!.GetValue<int>());
        Assert.Equal([code], exceptions);
        Assert.NotEmpty(ir["Report_Items"]!.AsArray());
    }

    [Fact]
    public async Task Rebuilding_gives_identical_reports_apart_from_the_creation_time()
    {
        static string WithoutCreated(JsonObject report)
        {
            report["Report_Header"]!.AsObject().Remove("Created");
            return report.ToJsonString();
        }
        var before = WithoutCreated(await ReportAsync("tr", extra: "&attributes_to_show=YOP|Access_Type|Access_Method"));
        await _host.AggregateAsync("?from=2026-10-01&to=2026-10-31&rebuild=true");
        await _host.AggregateAsync("?from=2026-10-01&to=2026-10-31&rebuild=true");
        Assert.Equal(before, WithoutCreated(await ReportAsync("tr", extra: "&attributes_to_show=YOP|Access_Type|Access_Method")));
    }

    [Theory]
    [InlineData("/r51/reports/tr?customer_id=0000000000000000&begin_date=2026-10&end_date=2026-10&requestor_id=library-harvester&api_key=wrong-key-0123456789", 401, 2020)]
    [InlineData("/r51/reports/tr?customer_id=0000000000000000&begin_date=2026-10&end_date=2026-10&requestor_id=someone-else&api_key=sushi-key-0123456789abcdef", 401, 2000)]
    [InlineData("/r51/reports/tr?customer_id=nobody&begin_date=2026-10&end_date=2026-10&requestor_id=library-harvester&api_key=sushi-key-0123456789abcdef", 403, 2010)]
    [InlineData("/r51/reports/tr?customer_id=0000000000000000&end_date=2026-10&requestor_id=library-harvester&api_key=sushi-key-0123456789abcdef", 400, 1030)]
    [InlineData("/r51/reports/tr?customer_id=0000000000000000&begin_date=2026-11&end_date=2026-10&requestor_id=library-harvester&api_key=sushi-key-0123456789abcdef", 400, 3020)]
    [InlineData("/r51/reports/tr?customer_id=0000000000000000&begin_date=2026-1x&end_date=2026-10&requestor_id=library-harvester&api_key=sushi-key-0123456789abcdef", 400, 3020)]
    [InlineData("/r51/reports/xx_9?customer_id=0000000000000000&begin_date=2026-10&end_date=2026-10&requestor_id=library-harvester&api_key=sushi-key-0123456789abcdef", 404, 3000)]
    public async Task Requests_that_cannot_be_answered_get_a_COUNTER_exception(string path, int status, int code)
    {
        var (actual, body) = await GetAsync(path);
        Assert.Equal(status, (int)actual);
        var exception = JsonNode.Parse(body)!;
        Assert.Equal(code, exception["Code"]!.GetValue<int>());
        SushiSchema.AssertValid(code == 3000 ? "Exception" : $"Exception_{code}", body);
    }

    [Theory]
    [InlineData("&begin_date=2027-01&end_date=2027-02", 3031)]
    [InlineData("&begin_date=2025-01&end_date=2025-02", 3030)]
    [InlineData("&begin_date=2026-10&end_date=2026-10&colour=blue", 3050)]
    [InlineData("&begin_date=2026-10&end_date=2026-10&metric_type=Total_Item_Requests|Unique_Item_Requests|Bogus", 3060)]
    [InlineData("&begin_date=2026-10&end_date=2026-10&attributes_to_show=Shoe_Size", 3062)]
    public async Task Reports_carry_exceptions_in_their_header_when_they_can_still_be_answered(string dates, int code)
    {
        var (status, body) = await GetAsync($"/r51/reports/tr?customer_id=0000000000000000&{Auth}{dates}");
        Assert.Equal(HttpStatusCode.OK, status);
        SushiSchema.AssertValid("TR", body);
        var codes = JsonNode.Parse(body)!["Report_Header"]!["Exceptions"]!.AsArray().Select(e => e!["Code"]!.GetValue<int>());
        Assert.Contains(code, codes);
    }

    [Fact]
    public async Task Status_members_and_report_list_validate()
    {
        var (_, status) = await GetAsync("/r51/status");
        SushiSchema.AssertValid("Status[]", status);
        var (_, members) = await GetAsync($"/r51/members?{Auth}");
        SushiSchema.AssertValid("Member[]", members);
        Assert.Contains("uni", members);
        var (_, reports) = await GetAsync($"/r51/reports?{Auth}");
        SushiSchema.AssertValid("Report[]", reports);
        var list = JsonNode.Parse(reports)!.AsArray();
        Assert.Equal(16, list.Count);
        Assert.All(list, r => Assert.Equal(Month, r!["First_Month_Available"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Item_metadata_sent_through_the_api_shows_in_reports_and_bad_metadata_names_the_field()
    {
        using var put = new HttpRequestMessage(HttpMethod.Put, "/api/v1/items/j1")
        {
            Content = new StringContent("""{"name": "Journal of Renamed Tests", "print_issn": "8765-4321"}""", Encoding.UTF8, "application/json"),
        };
        put.Headers.Authorization = new("Bearer", TestConfig.WriteKey);
        using (var response = await _host.Client.SendAsync(put)) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tr = await ReportAsync("tr_j1");
        var journal = tr["Report_Items"]!.AsArray().Single()!;
        Assert.Equal("Journal of Renamed Tests", journal["Title"]!.GetValue<string>());
        Assert.Equal("8765-4321", journal["Item_ID"]!["Print_ISSN"]!.GetValue<string>());
        Assert.Equal("1234-5678", journal["Item_ID"]!["Online_ISSN"]!.GetValue<string>());

        foreach (var (body, field) in new[] { ("""{"data_type": "Magazine"}""", "data_type"), ("""{"colour": "blue"}""", "colour"), ("""{"yop": "twenty"}""", "yop") })
        {
            using var bad = new HttpRequestMessage(HttpMethod.Put, "/api/v1/items/j1") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            bad.Headers.Authorization = new("Bearer", TestConfig.WriteKey);
            using var response = await _host.Client.SendAsync(bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains(field, (await response.Content.ReadAsStringAsync()));
        }
    }
}

/// <summary>
/// Realistic volume and variety: the demo generator's 60 days (datasets, journal articles, book
/// chapters, open and controlled access, robots, double-clicks, two institutions) must give valid
/// reports of every kind, for everyone and for each institution, this month and last.
/// </summary>
public sealed class SushiDemoReportTests : IAsyncLifetime
{
    private ServiceProvider _services = null!;
    private string _root = null!;

    public async Task InitializeAsync()
    {
        _root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(_root, c =>
        {
            c.Remove("eventTypes");
            c.Remove("aggregations");
            c.Remove("queries");
        });
        _services = await TallyServices.OpenAsync(new TallyHostOptions(Path.Combine(_root, "data"), config, Demo: true));
        await _services.GetRequiredService<DemoData>().SeedAsync(days: 60, eventsPerDay: 400, progress: null, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Every_report_of_demo_usage_validates_in_json_and_renders_as_tsv()
    {
        var now = DateTime.UtcNow;
        var thisMonth = new DateOnly(now.Year, now.Month, 1);
        var lastMonth = thisMonth.AddMonths(-1).ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        var checkedReports = 0;
        foreach (var customer in new[] { "0000000000000000", "demo-university", "example-institute" })
        {
            foreach (var report in _services.GetRequiredService<SushiService>().Supported)
            {
                var query = new Dictionary<string, string>
                {
                    ["customer_id"] = customer,
                    ["begin_date"] = lastMonth,
                    ["end_date"] = thisMonth.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture),
                };
                var sushi = _services.GetRequiredService<SushiService>();
                var json = await sushi.ReportAsync(sushi.Request(report.PathId, query), CancellationToken.None);
                SushiSchema.AssertValid(report.Id, json.ToJsonString());
                var tsv = Core.Query.Sushi.SushiTabular.Write(json);
                Assert.StartsWith($"\uFEFFReport_Name\t{report.Name}\t", tsv);
                var widths = tsv[..^2].Split("\r\n").Select(line => line.Split('\t').Length).Distinct();
                Assert.Single(widths);
                checkedReports++;
            }
        }
        Assert.Equal(3 * 13, checkedReports);

        // The demo has journals, books and datasets, so the big reports are not empty.
        var demoSushi = _services.GetRequiredService<SushiService>();
        var tr = await demoSushi.ReportAsync(demoSushi.Request("tr", new Dictionary<string, string>
        {
            ["customer_id"] = "0000000000000000", ["begin_date"] = lastMonth, ["end_date"] = lastMonth,
            ["attributes_to_show"] = "YOP|Access_Type|Access_Method",
        }), CancellationToken.None);
        var dataTypes = tr["Report_Items"]!.AsArray().SelectMany(i => i!["Attribute_Performance"]!.AsArray().Select(p => p!["Data_Type"]!.GetValue<string>())).ToHashSet();
        Assert.Contains("Journal", dataTypes);
        Assert.Contains("Book", dataTypes);
    }

    [Fact]
    public async Task The_month_in_progress_is_reported_from_its_days_as_its_monthly_rows_report_it_once_rolled_up()
    {
        var none = CancellationToken.None;
        var now = DateTime.UtcNow;
        var thisMonth = new DateOnly(now.Year, now.Month, 1);
        var month = thisMonth.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        var settings = _services.GetRequiredService<ISettingStore>();
        Assert.Contains(thisMonth, await OpenMonths.ReadAsync(settings, none));
        var sushi = _services.GetRequiredService<SushiService>();
        async Task<string> ReportAsync(string report)
        {
            var json = await sushi.ReportAsync(sushi.Request(report, new Dictionary<string, string>
            {
                ["customer_id"] = "0000000000000000", ["begin_date"] = month, ["end_date"] = month, ["attributes_to_show"] = "Access_Type|Access_Method|YOP",
            }), none);
            json["Report_Header"]!.AsObject().Remove("Created");
            return json.ToJsonString();
        }
        var fromDays = new[] { await ReportAsync("pr"), await ReportAsync("tr"), await ReportAsync("ir") };
        Assert.Contains("Total_Item_Requests", fromDays[0]);

        // Rolled up as the first run after the month's end would, and taken off the list: the same reports.
        await _services.GetRequiredService<IMetricComputer>().RollUpCounterMonthsAsync([thisMonth], none);
        await OpenMonths.WriteAsync(settings, [], none);
        string[] fromMonth = [await ReportAsync("pr"), await ReportAsync("tr"), await ReportAsync("ir")];
        Assert.Equal(fromDays, fromMonth);
    }
}

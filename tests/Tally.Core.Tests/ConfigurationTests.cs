using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Core.Events;

namespace Tally.Core.Tests;

public sealed class ConfigurationTests
{
    private static readonly string[] OptionalUsageFields =
    [
        "title_id", "database_id", "url", "format", "ip", "user_agent", "user_id", "session_id", "referrer", "size", "access_type", "access_method",
        "item_name", "title_name", "doi", "isbn", "print_issn", "online_issn", "uri", "publisher", "yop", "authors", "publication_date", "article_version",
        "data_type", "parent_data_type", "institution", "country", "region", "city",
    ];

    private static TallySchema Read(string json) => TallySchema.Compile(ConfigurationReader.Parse(json));

    [Theory]
    [InlineData("record-view", CounterRole.Investigation)]
    [InlineData("file-download", CounterRole.Request)]
    [InlineData("no-license", CounterRole.NoLicense)]
    [InlineData("limit-exceeded", CounterRole.LimitExceeded)]
    public void The_default_declares_the_usage_types_with_item_id_required_and_the_rest_optional(string name, CounterRole role)
    {
        var type = TallySchema.Compile(DefaultConfiguration.Create()).EventTypes[name];
        Assert.Equal(role, type.Counter);
        Assert.Equal(["Controlled", "Free_To_Read", "Open"], type.Field("access_type")!.AllowedValues!.Order());

        Assert.True(type.Enabled);
        Assert.Equal(Granularity.Month, type.Partition);
        Assert.Equal((FieldType.String, true), (type.Field("item_id")!.Type, type.Field("item_id")!.Required));
        foreach (var optional in OptionalUsageFields)
            Assert.False(type.Field(optional)!.Required, optional);
        Assert.Equal(FieldType.Integer, type.Field("size")!.Type);
        Assert.Equal(1 + OptionalUsageFields.Length, type.Fields.Count);
    }

    [Fact]
    public void The_default_pipeline_flags_robots_then_anonymizes_without_keeping_ip_or_user_agent()
    {
        var schema = TallySchema.Compile(DefaultConfiguration.Create());
        // Bus messages are kept as they were sent: there is no visitor in them to anonymize.
        Assert.Empty(schema.PipelineOf(schema.EventTypes["message"]));
        foreach (var type in schema.EventTypes.Values.Where(t => t.Name != "message"))
        {
            var pipeline = schema.PipelineOf(type);
            // Institution and geo need the ip, so they run before anonymize drops it.
            Assert.Equal(["robot-flag", "institution", "geo", "anonymize"], pipeline.Select(s => s.Step));
            Assert.False(pipeline[3].KeepIp);
            Assert.False(pipeline[3].KeepUserAgent);
        }
    }

    [Fact]
    public void The_default_registers_histogram_and_top_queries_over_its_aggregations()
    {
        var schema = TallySchema.Compile(DefaultConfiguration.Create());
        Assert.Equal(
            ["file-download-agg", "file-download-geo", "file-download-places", "file-download-with-robots",
             "record-view-agg", "record-view-geo", "record-view-places", "record-view-referrers", "record-view-with-robots"],
            schema.Aggregations.Keys.Order());
        Assert.Equal("country", schema.Queries["record-view-countries"].Field!.Name);
        // What the dashboard shows: robots filtered out, and where each item is used.
        Assert.True(schema.Queries["record-view-with-robots-histogram"].Aggregation.IncludeRobots);
        var places = schema.Queries["record-view-places"].Aggregation;
        Assert.Equal(["item_id", "country", "institution"], places.GroupBy.Select(f => f.Name));
        // Any two of the places' fields together, not all three: that would be nearly a row per event.
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], places.Groupings);
        Assert.Equal([["item_id", "country"], ["item_id", "institution"], ["country", "institution"]], places.WidestGroupings());
        Assert.True(schema.Aggregations["record-view-referrers"].KeepsEveryGrouping);
        Assert.Equal(QueryKind.Terms, schema.Queries["record-view-top"].Kind);
        Assert.Equal("item_id", schema.Queries["record-view-top"].Field!.Name);
        Assert.Equal(MetricKind.Sum, schema.Queries["file-download-volume"].Metric.Kind);
    }

    [Fact]
    public void Groupings_keep_each_listed_combination_and_every_one_inside_it_and_change_the_stored_signature()
    {
        var schema = Read("""
            {"queries":[],"aggregations":[
              {"name":"kinds","eventType":"file-download","groupBy":["item_id","country","format"],"groupings":[["format","item_id"],["country"]]},
              {"name":"all","eventType":"file-download","groupBy":["item_id","country","format"]}]}
            """);
        var kinds = schema.Aggregations["kinds"];
        // Bits: item_id 1, country 2, format 4. Totals (0) are always kept.
        Assert.Equal([0, 1, 2, 4, 5], kinds.Groupings);
        Assert.True(kinds.Keeps(["item_id", "format"]));
        Assert.False(kinds.Keeps(["item_id", "country"]));
        Assert.False(kinds.KeepsEveryGrouping);
        Assert.Equal([["country"], ["item_id", "format"]], kinds.WidestGroupings());
        var all = schema.Aggregations["all"];
        Assert.Equal(Enumerable.Range(0, 8), all.Groupings);
        // A store set up with the full cube keeps its signature; choosing groupings rebuilds the metrics.
        Assert.DoesNotContain("\"groupings\":", StorageTemplates.AggregationSignature(all), StringComparison.Ordinal);
        Assert.NotEqual(StorageTemplates.AggregationSignature(all), StorageTemplates.AggregationSignature(kinds with { Name = "all" }));
    }

    [Fact]
    public void The_reference_calculator_writes_rows_only_at_the_kept_groupings()
    {
        var schema = TallySchema.Compile(DefaultConfiguration.Create());
        var places = schema.Aggregations["record-view-places"];
        var type = places.EventType;
        var day = new DateOnly(2026, 6, 10);
        var calculator = new DayCalculator(places, day, schema.Referrers);
        for (var n = 0; n < 3; n++)
        {
            var values = new object?[type.Fields.Count];
            values[type.OrdinalOf(WellKnownFields.ItemId)] = $"item-{n % 2}";
            values[type.OrdinalOf(WellKnownFields.Country)] = "DE";
            values[type.OrdinalOf(WellKnownFields.Institution)] = $"inst-{n}";
            calculator.Add(new TallyEvent(type, $"e{n}", day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), values) { VisitorId = n });
        }
        var rows = calculator.Rows();
        Assert.Equal(places.Groupings, rows.Select(r => r.Grouping).Distinct().Order());
        // Rows of a grouping count the events of their keys: item-0 was read twice, from Germany.
        var itemCountry = rows.Single(r => r.Grouping == 3 && r.Keys[0] == "item-0");
        Assert.Equal(("DE", (string?)null, 2L, 2L), (itemCountry.Keys[1], itemCountry.Keys[2], itemCountry.Count, itemCountry.UniqueVisitors));
    }

    [Fact]
    public void A_file_that_only_sets_keys_keeps_the_built_in_types_aggregations_and_queries()
    {
        var schema = Read("""{"apiKeys":[{"name":"a","key":"0123456789abcdef0123"}]}""");
        Assert.Equal(["context-view", "file-download", "issue-download", "issue-view", "limit-exceeded", "message", "no-license", "record-view", "search", "supplementary-download"],
            schema.EventTypes.Keys.Order());
        Assert.Equal(DefaultConfiguration.Create().Aggregations.Select(a => a.Name), schema.Aggregations.Keys);
        Assert.Equal(DefaultConfiguration.Create().Queries.Select(q => q.Name), schema.Queries.Keys);
        Assert.Equal(ApiRole.Write, schema.ApiKeys["0123456789abcdef0123"]);
    }

    [Fact]
    public void A_file_that_declares_its_own_types_gets_only_those()
    {
        var schema = Read("""
            // comments and trailing commas are allowed
            {
              "eventTypes": [
                { "name": "page_view", "partition": "day", "retentionDays": 90,
                  "fields": { "path": { "required": true }, "ms": { "type": "number" }, "ok": { "type": "boolean" }, }, },
              ],
            }
            """);
        var type = Assert.Single(schema.EventTypes.Values);
        Assert.Equal(("page_view", Granularity.Day, 90), (type.Name, type.Partition, type.RetentionDays));
        Assert.Equal([FieldType.String, FieldType.Number, FieldType.Boolean], type.Fields.Select(f => f.Type));
        Assert.Empty(schema.Aggregations);
        Assert.Empty(schema.Queries);
    }

    [Fact]
    public void The_tally_section_of_appsettings_is_read_and_the_rest_ignored()
    {
        var schema = Read("""
            {"Logging":{"LogLevel":{"Default":"Information"}},"AllowedHosts":"*",
             "Tally":{"eventTypes":[{"name":"login","fields":{}}],"apiKeys":[{"name":"a","key":"0123456789abcdef0123","role":"admin"}]}}
            """);
        Assert.Equal(["login"], schema.EventTypes.Keys);
        Assert.Equal(ApiRole.Admin, schema.ApiKeys["0123456789abcdef0123"]);
    }

    [Fact]
    public void A_mistake_inside_the_tally_section_is_named_relative_to_the_section()
    {
        var error = Assert.Throws<ConfigurationException>(() => Read("""{"Tally":{"ingest":{"maxEventsPerRequets":5}}}"""));
        Assert.Equal("ingest.maxEventsPerRequets", error.Setting);
    }

    [Fact]
    public void Json_that_does_not_parse_names_the_line()
    {
        var error = Assert.Throws<ConfigurationException>(() => Read("{\n  \"eventTypes\": [\n}"));
        Assert.Equal("line 3", error.Setting);
    }

    [Theory]
    // Unknown or misspelt settings, and values of the wrong JSON type.
    [InlineData("""{"colour":"blue"}""", "colour")]
    [InlineData("""{"eventTypes":[{"name":"x","feilds":{}}]}""", "eventTypes[0].feilds")]
    [InlineData("""{"eventTypes":[{"name":"x","retentionDays":"ten"}]}""", "eventTypes[0].retentionDays")]
    [InlineData("""[]""", "(root)")]
    // Event types.
    [InlineData("""{"eventTypes":[]}""", "eventTypes")]
    [InlineData("""{"eventTypes":[{"name":"x","partition":"week","fields":{"item_id":{}}}]}""", "eventTypes[0].partition")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{"n":{"type":"decimal"}}}]}""", "eventTypes[0].fields.n.type")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{"Item":{}}}]}""", "eventTypes[0].fields.Item")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{"timestamp":{}}}]}""", "eventTypes[0].fields.timestamp")]
    [InlineData("""{"eventTypes":[{"name":"x","retentionDays":0}]}""", "eventTypes[0].retentionDays")]
    [InlineData("""{"eventTypes":[{"name":"Bad Name","fields":{}}]}""", "eventTypes[0].name")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{}},{"name":"x","fields":{}}]}""", "eventTypes[1].name")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{},"pipeline":[{"step":"teleport"}]}]}""", "eventTypes[0].pipeline[0].step")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{},"pipeline":[{"step":"filter","deny":["(oops"]}]}]}""", "eventTypes[0].pipeline[0].deny[0]")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{},"pipeline":[{"step":"filter","allow":["ok","[z-a]"]}]}]}""", "eventTypes[0].pipeline[0].allow[1]")]
    // Aggregations and queries must name what exists.
    [InlineData("""{"aggregations":[{"name":"a","eventType":"nope"}]}""", "aggregations[0].eventType")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view","groupBy":["nope"]}]}""", "aggregations[0].groupBy[0]")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view","sumFields":["item_id"]}]}""", "aggregations[0].sumFields[0]")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view"},{"name":"a","eventType":"record-view"}]}""", "aggregations[1].name")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"nope"}]}""", "queries[0].aggregation")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"record-view-agg","metric":"median"}]}""", "queries[0].metric")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"record-view-agg","metric":"sum:item_id"}]}""", "queries[0].metric")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"record-view-agg","kind":"pie"}]}""", "queries[0].kind")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"record-view-agg","kind":"terms"}]}""", "queries[0].field")]
    [InlineData("""{"queries":[{"name":"q","aggregation":"record-view-agg"},{"name":"q","aggregation":"record-view-agg"}]}""", "queries[1].name")]
    // Keys and limits.
    [InlineData("""{"apiKeys":[{"name":"k","key":"short"}]}""", "apiKeys[0].key")]
    [InlineData("""{"apiKeys":[{"name":"k","key":"0123456789abcdef0123","role":"root"}]}""", "apiKeys[0].role")]
    [InlineData("""{"apiKeys":[{"name":"a","key":"0123456789abcdef0123"},{"name":"b","key":"0123456789abcdef0123"}]}""", "apiKeys[1].key")]
    [InlineData("""{"ingest":{"maxEventsPerRequest":0}}""", "ingest.maxEventsPerRequest")]
    [InlineData("""{"privacy":{"saltRetentionDays":0}}""", "privacy.saltRetentionDays")]
    [InlineData("""{"privacy":{"storeIpAddresses":"yes"}}""", "privacy.storeIpAddresses")]
    [InlineData("""{"ingest":{"maxValueLength":0}}""", "ingest.maxValueLength")]
    [InlineData("""{"ingest":{"maxValueLength":99999999999999999999}}""", "ingest.maxValueLength")]
    [InlineData("""{"ingest":{"maxPropertyNameLength":-1}}""", "ingest.maxPropertyNameLength")]
    [InlineData("""{"ingest":{"maxPartitionsPerRequest":0}}""", "ingest.maxPartitionsPerRequest")]
    [InlineData("""{"ingest":{"earliestDate":"0001-01-01"}}""", "ingest.earliestDate")]
    [InlineData("""{"ingest":{"earliestDate":"1990-13-01"}}""", "ingest.earliestDate")]
    [InlineData("""{"ingest":{"earliestDate":"\udfff"}}""", "ingest.earliestDate")]
    [InlineData("""{"limits":null}""", "limits")]
    [InlineData("""{"limits":{"rawMaxDays":0}}""", "limits.rawMaxDays")]
    [InlineData("""{"limits":{"rawMaxDays":100000}}""", "limits.rawMaxDays")]
    [InlineData("""{"limits":{"statsMaxDays":-1}}""", "limits.statsMaxDays")]
    [InlineData("""{"limits":{"sushiMaxMonths":0}}""", "limits.sushiMaxMonths")]
    [InlineData("""{"limits":{"maxAnswerRows":0}}""", "limits.maxAnswerRows")]
    [InlineData("""{"limits":{"maxJsonBodyBytes":0}}""", "limits.maxJsonBodyBytes")]
    [InlineData("""{"limits":{"requestTimeoutSeconds":1e300}}""", "limits.requestTimeoutSeconds")]
    [InlineData("""{"limits":{"requestTimeoutSeconds":0}}""", "limits.requestTimeoutSeconds")]
    [InlineData("""{"limits":{"anonymousRequestsPerMinute":-1}}""", "limits.anonymousRequestsPerMinute")]
    // null where a value is needed is a mistake to name, not a crash.
    [InlineData("""{"eventTypes":null}""", "eventTypes")]
    [InlineData("""{"ingest":null}""", "ingest")]
    [InlineData("""{"eventTypes":[null]}""", "eventTypes[0]")]
    [InlineData("""{"eventTypes":[{"name":null}]}""", "eventTypes[0].name")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{"a":null}}]}""", "eventTypes[0].fields.a")]
    [InlineData("""{"eventTypes":[{"name":"x","pipeline":[null]}]}""", "eventTypes[0].pipeline[0]")]
    [InlineData("""{"aggregations":[null]}""", "aggregations[0]")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view","groupBy":[null]}]}""", "aggregations[0].groupBy[0]")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view","groupBy":["item_id"],"groupings":[["item_id","country"]]}]}""", "aggregations[0].groupings[0][1]")]
    [InlineData("""{"aggregations":[{"name":"a","eventType":"record-view","groupBy":["item_id"],"groupings":[null]}]}""", "aggregations[0].groupings[0]")]
    [InlineData("""{"queries":[null]}""", "queries[0]")]
    [InlineData("""{"apiKeys":[null]}""", "apiKeys[0]")]
    [InlineData("""{"apiKeys":[{"name":"k","key":null}]}""", "apiKeys[0].key")]
    public void An_invalid_setting_is_refused_naming_it(string json, string setting)
    {
        var error = Assert.Throws<ConfigurationException>(() => Read(json));
        Assert.Equal(setting, error.Setting);
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"privacy":{"saltRetentionDayz":3}}""", "privacy.saltRetentionDayz",
        "there is no setting 'saltRetentionDayz' in privacy; did you mean privacy.saltRetentionDays? Settings in privacy: saltRetentionDays, storeIpAddresses")]
    [InlineData("""{"Tally":{"ingest":{"maxEventsPerRequets":5}}}""", "ingest.maxEventsPerRequets",
        "did you mean ingest.maxEventsPerRequest? Settings in ingest: maxBodyBytes, maxEventsPerRequest,")]
    [InlineData("""{"eventTypes":[{"name":"x","feilds":{}}]}""", "eventTypes[0].feilds",
        "did you mean eventTypes[0].fields? Settings in eventTypes[0]: name, enabled, fields, partition,")]
    [InlineData("""{"limits":{"maxValueLenght":5}}""", "limits.maxValueLenght", "in limits. Settings in limits: rawMaxDays,")]
    [InlineData("""{"colour":"blue"}""", "colour", "there is no setting 'colour' at the top level. Settings at the top level: eventTypes, aggregations, queries,")]
    public void A_misspelt_setting_is_named_with_the_valid_names_and_the_nearest(string json, string setting, string said)
    {
        var error = Assert.Throws<ConfigurationException>(() => Read(json));
        Assert.Equal(setting, error.Setting);
        Assert.Contains(said, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".NET", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"ingest":{"maxValueLength":"abc"}}""", "ingest.maxValueLength", "must be a whole number, got \"abc\"")]
    [InlineData("""{"ingest":{"maxValueLength":1.5}}""", "ingest.maxValueLength", "must be a whole number, got 1.5")]
    [InlineData("""{"ingest":{"maxValueLength":99999999999999999999}}""", "ingest.maxValueLength", "must be a whole number from -2147483648 to 2147483647, got 99999999999999999999")]
    [InlineData("""{"queue":{"prefetch":70000}}""", "queue.prefetch", "must be a whole number from 0 to 65535, got 70000")]
    [InlineData("""{"privacy":{"storeIpAddresses":"yes"}}""", "privacy.storeIpAddresses", "must be true or false, got \"yes\"")]
    [InlineData("""{"ingest":{"earliestDate":"1990-13-01"}}""", "ingest.earliestDate", "must be a date written \"yyyy-mm-dd\", got \"1990-13-01\"")]
    [InlineData("""{"geo":{"level":5}}""", "geo.level", "must be text in quotes, got 5")]
    [InlineData("""{"robots":{"lists":"/robots.json"}}""", "robots.lists", "must be a list, [ ... ], got \"/robots.json\"")]
    [InlineData("""{"counter":{"institutions":[{"customerId":"a","name":"bb","ids":{"ROR":"x"}}]}}""", "counter.institutions[0].ids.ROR", "must be a list, [ ... ], got \"x\"")]
    [InlineData("""{"privacy":7}""", "privacy", "must be an object, { ... }, got 7")]
    [InlineData("""{"limits":null}""", "limits", "must not be null")]
    [InlineData("""[]""", "(root)", "must be an object, { ... }, got []")]
    [InlineData("""{"counter":{"platform":"\udfff"}}""", "counter.platform", "must be valid Unicode text, without a lone surrogate, got \"\\udfff\"")]
    [InlineData("""{"\udfff":1}""", "(root)", "holds a name that is not valid Unicode text (a lone surrogate)")]
    [InlineData("""{"eventTypes":[{"name":"x","fields":{"\udfff":{}}}]}""", "eventTypes[0].fields", "holds a name that is not valid Unicode text (a lone surrogate)")]
    public void A_value_of_the_wrong_kind_is_named_in_words(string json, string setting, string problem)
    {
        var error = Assert.Throws<ConfigurationException>(() => Read(json));
        Assert.Equal($"Invalid configuration at '{setting}': {problem}", error.Message);
    }

    [Fact]
    public void Every_setting_the_options_can_hold_reads_back()
    {
        var options = DefaultConfiguration.Create();
        options.Counter.Institutions.Add(new() { CustomerId = "c", Name = "College", Ids = new() { ["ROR"] = ["03yrm5c26"] }, IpRanges = ["192.0.2.0/24"] });
        options.Sources.Pkp.Types["submission"] = "record-view";
        options.Sources.AccessLogRules.Add(new() { Pattern = "^/r/(?<item_id>[^/]+)", Type = "record-view", Set = new() { ["format"] = "html" } });
        options.Geo.Database = null;
        var json = System.Text.Json.JsonSerializer.Serialize(options, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase });

        var read = ConfigurationReader.Parse(json);
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(read, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase }));
    }

    [Theory]
    [InlineData("--folow", "--follow")]
    [InlineData("maxValueLenght", "maxValueLength")]
    [InlineData("SALTRETENTIONDAYS", "saltRetentionDays")]
    [InlineData("cvs", "csv")]
    [InlineData("colour", null)]
    [InlineData("x", null)]
    public void The_nearest_name_is_a_slip_of_the_keyboard_away_or_none(string given, string? nearest) =>
        Assert.Equal(nearest, NearestName.Find(given, ["--follow", "--rejects", "maxValueLength", "maxBodyBytes", "saltRetentionDays", "csv", "json", "table", "counter"]));
}

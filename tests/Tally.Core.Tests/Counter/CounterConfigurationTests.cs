using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Tests.Counter;

/// <summary>COUNTER settings are checked when the configuration is read, naming the offending setting.</summary>
public sealed class CounterConfigurationTests
{
    private static TallySchema Read(string json) => TallySchema.Compile(ConfigurationReader.Parse(json));

    private static ConfigurationException Rejected(string json) => Assert.Throws<ConfigurationException>(() => Read(json));

    /// <summary>One event type with the given members spliced in (fields, counter, pipeline).</summary>
    private static string OneType(string members) => """{"eventTypes":[{"name":"usage",""" + members + "}]}";

    private const string Institution = """{"customerId":"inst1","name":"University","ipRanges":["10.0.0.0/8"]}""";

    [Theory]
    [InlineData("investigation", CounterRole.Investigation)]
    [InlineData("request", CounterRole.Request)]
    [InlineData("no_license", CounterRole.NoLicense)]
    [InlineData("limit_exceeded", CounterRole.LimitExceeded)]
    [InlineData("search", CounterRole.Search)]
    [InlineData("none", CounterRole.None)]
    public void Each_counter_role_is_read(string role, CounterRole expected)
    {
        var schema = Read(OneType($$$"""  "counter":"{{{role}}}", "fields":{"item_id":{}}, "pipeline":[{"step":"robot-flag"},{"step":"anonymize"}] """));
        Assert.Equal(expected, schema.EventTypes["usage"].Counter);
    }

    [Fact]
    public void A_type_without_a_counter_role_takes_no_part_in_counter()
    {
        var schema = Read(OneType(""" "fields":{"item_id":{}} """));
        Assert.Equal(CounterRole.None, schema.EventTypes["usage"].Counter);
        Assert.Empty(schema.CounterTypes);
    }

    [Theory]
    [InlineData("investigations")]
    [InlineData("Request")]
    [InlineData("")]
    public void An_unknown_counter_role_names_the_types_counter_setting(string role)
    {
        var error = Rejected(OneType($$$""" "counter":"{{{role}}}", "fields":{"item_id":{}}, "pipeline":[{"step":"robot-flag"},{"step":"anonymize"}] """));
        Assert.Equal("eventTypes[0].counter", error.Setting);
        Assert.Contains($"'{role}' is not one of investigation, request, no_license, limit_exceeded, search, none", error.Problem);
    }

    [Theory]
    [InlineData("investigation")]
    [InlineData("request")]
    [InlineData("no_license")]
    [InlineData("limit_exceeded")]
    public void An_item_role_needs_an_item_id_field(string role)
    {
        var error = Rejected(OneType($$$""" "counter":"{{{role}}}", "fields":{"url":{}}, "pipeline":[{"step":"robot-flag"},{"step":"anonymize"}] """));
        Assert.Equal("eventTypes[0].counter", error.Setting);
        Assert.Contains("item_id", error.Problem);
    }

    [Fact]
    public void A_search_type_needs_no_item_id()
    {
        Assert.Equal(CounterRole.Search, Read(OneType(""" "counter":"search", "fields":{"q":{}}, "pipeline":[{"step":"robot-flag"},{"step":"anonymize"}] """)).EventTypes["usage"].Counter);
    }

    [Theory]
    [InlineData("geo")]
    [InlineData("institution")]
    public void A_step_that_reads_the_ip_after_anonymize_names_the_step(string step)
    {
        var error = Rejected(OneType($$$"""
             "fields":{"item_id":{},"ip":{},"country":{},"institution":{}},
             "pipeline":[{"step":"robot-flag"},{"step":"anonymize"},{"step":"{{{step}}}"}]
            """));
        Assert.Equal("eventTypes[0].pipeline[2].step", error.Setting);
        Assert.Contains($"'{step}' must come before 'anonymize'", error.Problem);
    }

    [Fact]
    public void A_geo_step_after_an_anonymize_that_keeps_the_ip_is_allowed()
    {
        var schema = Read(OneType("""
             "fields":{"item_id":{},"ip":{},"country":{}},
             "pipeline":[{"step":"anonymize","keepIp":true},{"step":"geo"}]
            """));
        Assert.Equal(["anonymize", "geo"], schema.PipelineOf(schema.EventTypes["usage"]).Select(s => s.Step));
    }

    [Theory]
    [InlineData("geo", """ {"item_id":{},"ip":{}} """, "'geo' needs a string field 'country'")]
    [InlineData("geo", """ {"item_id":{},"ip":{},"country":{"type":"integer"}} """, "'geo' needs a string field 'country'")]
    [InlineData("institution", """ {"item_id":{},"ip":{}} """, "'institution' needs a string field 'institution'")]
    [InlineData("geo", """ {"item_id":{},"country":{}} """, "'geo' needs an 'ip' field")]
    public void A_geo_or_institution_step_needs_the_fields_it_reads_and_writes(string step, string fields, string problem)
    {
        var error = Rejected(OneType($$$""" "fields":{{{fields}}}, "pipeline":[{"step":"{{{step}}}"}] """));
        Assert.Equal("eventTypes[0].pipeline[0].step", error.Setting);
        Assert.Contains(problem, error.Problem);
    }

    [Fact]
    public void An_institution_with_a_bad_ip_range_names_the_range()
    {
        var error = Rejected("""
            {"counter":{"institutions":[{"customerId":"inst1","name":"University","ipRanges":["10.0.0.0/8","10.0.0.5/24"]}]}}
            """);
        Assert.Equal("counter.institutions[0].ipRanges[1]", error.Setting);
        Assert.Contains("did you mean 10.0.0.0/24?", error.Problem);
    }

    [Fact]
    public void Two_institutions_claiming_the_same_range_are_rejected()
    {
        var error = Rejected($$$"""
            {"counter":{"institutions":[{{{Institution}}},{"customerId":"inst2","name":"College","ipRanges":["10.0.0.0/8"]}]}}
            """);
        Assert.Equal("counter.institutions[1].ipRanges[0]", error.Setting);
        Assert.Contains("already attributed", error.Problem);
    }

    [Fact]
    public void The_world_customer_id_cannot_be_an_institution()
    {
        var error = Rejected("""{"counter":{"institutions":[{"customerId":"0000000000000000","name":"Everyone"}]}}""");
        Assert.Equal("counter.institutions[0].customerId", error.Setting);
    }

    [Theory]
    [InlineData("""{"customerId":"","name":"University"}""", "counter.institutions[0].customerId")]
    [InlineData("""{"customerId":"inst1","name":"U"}""", "counter.institutions[0].name")]
    [InlineData("""{"customerId":"inst1","name":"University","ids":{"DOI":["x"]}}""", "counter.institutions[0].ids.DOI")]
    [InlineData("""{"customerId":"inst1","name":"University","ids":{"ROR":[]}}""", "counter.institutions[0].ids.ROR")]
    public void Institution_settings_are_checked(string institution, string setting)
    {
        Assert.Equal(setting, Rejected($$$"""{"counter":{"institutions":[{{{institution}}}]}}""").Setting);
    }

    [Fact]
    public void A_customer_id_declared_twice_is_rejected()
    {
        var error = Rejected($$$"""{"counter":{"institutions":[{{{Institution}}},{"customerId":"inst1","name":"Other"}]}}""");
        Assert.Equal("counter.institutions[1].customerId", error.Setting);
    }

    [Fact]
    public void A_credential_naming_an_unknown_customer_is_rejected()
    {
        var error = Rejected($$$"""
            {"counter":{"institutions":[{{{Institution}}}],
              "credentials":[{"requestorId":"lib","apiKey":"0123456789abcdef","customers":["inst1","nobody"]}]}}
            """);
        Assert.Equal("counter.credentials[0].customers[1]", error.Setting);
        Assert.Contains("'nobody'", error.Problem);
    }

    [Fact]
    public void A_credential_may_name_configured_institutions_and_the_world()
    {
        var schema = Read($$$"""
            {"counter":{"institutions":[{{{Institution}}}],
              "credentials":[{"requestorId":"lib","apiKey":"0123456789abcdef","customers":["inst1","0000000000000000"]}]}}
            """);
        Assert.Equal("University", schema.Institutions["inst1"].Name);
        Assert.Equal("inst1", schema.InstitutionRanges.Find(System.Net.IPAddress.Parse("10.9.8.7"))?.CustomerId);
    }

    [Fact]
    public void A_credential_with_a_short_api_key_is_rejected()
    {
        Assert.Equal("counter.credentials[0].apiKey", Rejected("""{"counter":{"credentials":[{"requestorId":"lib","apiKey":"short"}]}}""").Setting);
    }

    [Theory]
    [InlineData("""{"id":"db1","name":"Database","dataType":"Journal"}""", "counter.databases[0].dataType")]
    [InlineData("""{"id":"","name":"Database"}""", "counter.databases[0].id")]
    public void Database_settings_are_checked(string database, string setting)
    {
        Assert.Equal(setting, Rejected($$$"""{"counter":{"databases":[{{{database}}}]}}""").Setting);
    }

    [Fact]
    public void A_database_declared_twice_is_rejected()
    {
        var error = Rejected("""{"counter":{"databases":[{"id":"db1","name":"One"},{"id":"db1","name":"Two"}]}}""");
        Assert.Equal("counter.databases[1].id", error.Setting);
    }

    [Theory]
    [InlineData("""{"type":"integer","values":["1"]}""")]
    [InlineData("""{"type":"boolean","values":["true"]}""")]
    [InlineData("""{"values":[]}""")]
    public void Field_values_are_only_for_string_fields_and_list_at_least_one(string field)
    {
        var error = Rejected(OneType(""" "fields":{"n":""" + field + "}"));
        Assert.Equal("eventTypes[0].fields.n.values", error.Setting);
    }

    [Fact]
    public void An_access_type_outside_the_allowed_values_is_rejected_by_the_parser_listing_them()
    {
        var rejection = CoreTestKit.OnlyRejection("""{"type":"file-download","item_id":"a","access_type":"OA_Gold"}""");
        Assert.Equal("access_type", rejection.Field);
        Assert.Equal("'OA_Gold' is not one of Controlled, Free_To_Read, Open", rejection.Reason);
    }

    [Fact]
    public void Allowed_values_are_compared_exactly()
    {
        Assert.Equal("access_type", CoreTestKit.OnlyRejection("""{"type":"file-download","item_id":"a","access_type":"open"}""").Field);
        Assert.Equal("search_type", CoreTestKit.OnlyRejection("""{"type":"search","search_type":"Regular"}""").Field);
        Assert.Equal("Open", CoreTestKit.One("""{"type":"file-download","item_id":"a","access_type":"Open"}""")["access_type"]);
    }

    // COUNTER reads item_id as text: an integer item_id would silently drop every event from COUNTER.
    [Fact]
    public void A_counter_type_with_a_non_string_item_id_is_rejected()
    {
        var error = Rejected(OneType(""" "counter":"request", "fields":{"item_id":{"type":"integer"}} """));
        Assert.StartsWith("eventTypes[0]", error.Setting);
    }

    // Without anonymize every event has visitor 0 and session 0, merging everybody's clicks.
    [Fact]
    public void A_counter_type_without_an_anonymize_step_is_rejected()
    {
        var error = Rejected(OneType(""" "counter":"request", "fields":{"item_id":{},"ip":{},"user_agent":{}}, "pipeline":[{"step":"robot-flag"}] """));
        Assert.StartsWith("eventTypes[0]", error.Setting);
    }

    // COUNTER metrics must exclude robots, so a COUNTER type that never judges user agents would count them all.
    [Fact]
    public void A_counter_type_without_a_robot_flag_step_is_rejected()
    {
        var error = Rejected(OneType(""" "counter":"request", "fields":{"item_id":{},"ip":{},"user_agent":{}}, "pipeline":[{"step":"anonymize"}] """));
        Assert.Equal("eventTypes[0].counter", error.Setting);
        Assert.Contains("'robot-flag'", error.Problem);
    }

    // After an anonymize step that drops the user agent, robot-flag would judge nothing and flag nobody.
    [Fact]
    public void A_robot_flag_step_after_the_user_agent_is_dropped_is_rejected()
    {
        var error = Rejected(OneType(""" "fields":{"item_id":{},"user_agent":{}}, "pipeline":[{"step":"anonymize"},{"step":"robot-flag"}] """));
        Assert.Equal("eventTypes[0].pipeline[1].step", error.Setting);
        Assert.Contains("before 'anonymize'", error.Problem);
        Read(OneType(""" "fields":{"item_id":{},"user_agent":{}}, "pipeline":[{"step":"anonymize","keepUserAgent":true},{"step":"robot-flag"}] """));
    }
}

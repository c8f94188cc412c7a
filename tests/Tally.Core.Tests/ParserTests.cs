using System.Text;
using System.Text.Json;
using Tally.Core.Accept;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public sealed class ParserShapeTests
{
    private const string A = """{"type":"record-view","id":"1","item_id":"x","size":3}""";
    private const string B = """{"type":"file-download","id":"2","item_id":"y","timestamp":"2026-06-10T08:00:00+02:00"}""";

    private static List<(string, string, DateTime, object?, object?)> Summary(ParsedBatch batch) =>
        batch.Events.Select(e => (e.Id, e.Type.Name, e.Timestamp, e["item_id"], e["size"])).ToList();

    [Fact]
    public void A_single_object_is_one_event()
    {
        var e = One(A);
        Assert.Equal(("1", "record-view", "x", 3L), (e.Id, e.Type.Name, e["item_id"], e["size"]));
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\n\n   \n")]
    [InlineData("\r\n\r\n")]
    [InlineData("")]
    public void Ndjson_with_any_line_endings_and_blank_lines_equals_the_array(string separator)
    {
        var array = Parse($"[{A},{B}]");
        var ndjson = Parse($"{separator}{A}{separator}{B}{separator}");
        Assert.Equal(["1", "2"], array.Events.Select(e => e.Id));
        Assert.Equal(Summary(array), Summary(ndjson));
        Assert.Equal([0, 1], ndjson.Indexes);
    }

    [Fact]
    public void The_envelope_may_come_after_the_fields()
    {
        var e = One("""{"size":7,"item_id":"x","timestamp":"2026-06-10T11:00:00Z","id":"late","type":"file-download"}""");
        Assert.Equal(("late", "file-download", 7L, new DateTime(2026, 6, 10, 11, 0, 0, DateTimeKind.Utc)), (e.Id, e.Type.Name, e["size"], e.Timestamp));
    }

    [Fact]
    public void When_type_is_sent_twice_the_last_one_decides_how_fields_are_read()
    {
        var e = One("""{"type":"record-view","size":7,"item_id":"x","type":"file-download","extra":1}""");
        Assert.Equal(("file-download", 7L, "x"), (e.Type.Name, e["size"], e["item_id"]));
        Assert.Equal("""{"extra":1}""", e.Extra);
    }

    [Fact]
    public void A_bad_value_deep_inside_an_undeclared_field_rejects_its_event_and_the_next_events_are_read_whole()
    {
        var bad = """{"type":"record-view","item_id":"x","deep":{"a":[1,{"b":"\u0000","c":{"d":2}}],"e":3},"size":"big","id":7}""";
        // The envelope's problem comes first, whatever the fields hold.
        var batch = Parse($"{bad}\n{View("\"size\":2")}");
        Assert.Equal([(0, "id", "must be a string")], batch.Rejections.Select(r => (r.Index, r.Field, r.Reason)));
        Assert.Equal([1], batch.Indexes);
        var second = Parse($"{bad.Replace(",\"id\":7", "", StringComparison.Ordinal)}\n{View("\"size\":2")}");
        Assert.Equal([(0, "deep")], second.Rejections.Select(r => (r.Index, r.Field)));
        Assert.Equal([1], second.Indexes);
        Assert.Equal(2L, second.Events.Single()["size"]);
    }

    [Fact]
    public void Events_without_an_id_get_unique_generated_ids_and_now_as_their_time()
    {
        var batch = Parse(string.Join('\n', Enumerable.Repeat(View(), 1000)));
        Assert.Equal(1000, batch.Events.Select(e => e.Id).Distinct().Count());
        Assert.All(batch.Events, e => Assert.InRange(e.Id.Length, 1, EventParser.MaxIdLength));
        Assert.All(batch.Events, e => Assert.Equal(Now, e.Timestamp));
    }

    [Fact]
    public void The_same_id_twice_in_one_batch_is_kept_twice_for_the_store_to_deduplicate()
    {
        // The parser only reads; "stored once" is the store's promise (it reports the second as a duplicate).
        var batch = Parse($"{View("\"id\":\"k1\"")}\n{View("\"id\":\"k1\"")}");
        Assert.Equal(["k1", "k1"], batch.Events.Select(e => e.Id));
        Assert.Empty(batch.Rejections);
    }

    [Fact]
    public void Ids_of_128_characters_are_kept_exactly()
    {
        var id = new string('é', EventParser.MaxIdLength);
        Assert.Equal(id, One(View($"\"id\":\"{id}\"")).Id);
    }

    [Fact]
    public void Undeclared_fields_are_kept_as_extra_json_exactly_as_sent()
    {
        var e = One(View("""
            "colour":"NL","tags":["a",{"b":1}],"label":"A \"quoted\" name","n":1.50e3
            """));
        Assert.Equal("""{"colour":"NL","tags":["a",{"b":1}],"label":"A \"quoted\" name","n":1.50e3}""", e.Extra);
        Assert.Null(One(View()).Extra);
    }

    [Fact]
    public void Extra_fields_with_escaped_or_non_ascii_names_stay_valid_json_with_the_same_content()
    {
        var e = One(View("""
            "\u00e9t\u00e9":"\u00e9","long_name_\u0041":[1],"日本":true
            """));
        using var extra = JsonDocument.Parse(e.Extra!);
        Assert.Equal(["été", "long_name_A", "日本"], extra.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("é", extra.RootElement.GetProperty("été").GetString());
    }

    [Fact]
    public void Valid_events_around_invalid_ones_are_kept_with_their_indexes()
    {
        var batch = Parse("""[{"type":"record-view","item_id":"a"},{"type":"x"},{"type":"record-view","item_id":"b"},{"bad":true},"text",{"type":"record-view","item_id":"c"}]""");
        Assert.Equal(["a", "b", "c"], batch.Events.Select(e => (string)e["item_id"]!));
        Assert.Equal([0, 2, 5], batch.Indexes);
        Assert.Equal([1, 3, 4], batch.Rejections.Select(r => r.Index));
        Assert.Equal(6, batch.Total);
    }

    [Fact]
    public void In_ndjson_each_line_is_judged_on_its_own()
    {
        var batch = Parse($"{View()}\n{{\"type\":\"record-view\"}}\n{View("\"size\":\"big\"")}\n{View("\"size\":2")}");
        Assert.Equal([0, 3], batch.Indexes);
        Assert.Equal([(1, "item_id"), (2, "size")], batch.Rejections.Select(r => (r.Index, r.Field)));
    }
}

public sealed class ParserFieldTests
{
    [Theory]
    [InlineData("192.168.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("fe80::1%eth0", true)]
    [InlineData("2001:db8::8a2e:370:7334", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("https://example.org:8080/a", false)]
    [InlineData("10:15:00", false)]
    [InlineData("1.2.3", false)]
    [InlineData("256.1.1.1", false)]
    [InlineData("cafe:babe", false)]
    [InlineData("v1.2.3.4", false)]
    public void Addresses_are_told_from_urls_times_and_versions(string text, bool isAddress) =>
        Assert.Equal(isAddress, StoredText.IsIpAddress(text));

    [Theory]
    [InlineData("""{"item_id":"x"}""", "type", "is required")]
    [InlineData("""{"type":"nope","item_id":"x"}""", "type", "'nope' is not a known event type")]
    [InlineData("""{"type":"Record-View","item_id":"x"}""", "type", "not a known event type")]
    [InlineData("""{"type":7,"item_id":"x"}""", "type", "must be a string")]
    [InlineData("""{"type":null,"item_id":"x"}""", "type", "must be a string")]
    [InlineData("""{"type":"record-view"}""", "item_id", "is required")]
    [InlineData("""{"type":"record-view","item_id":null}""", "item_id", "is required")]
    [InlineData("""{"type":"record-view","item_id":5}""", "item_id", "must be a string")]
    [InlineData("""{"type":"record-view","item_id":"x","title_id":3.5}""", "title_id", "must be a string")]
    [InlineData("""{"type":"record-view","item_id":"x","url":["a"]}""", "url", "must be a string")]
    [InlineData("""{"type":"record-view","item_id":"x","size":"big"}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":"12"}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":1.5}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":9223372036854775808}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":99999999999999999999}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":true}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","id":""}""", "id", "1 to 128")]
    [InlineData("""{"type":"record-view","item_id":"x","id":"   "}""", "id", "1 to 128")]
    [InlineData("""{"type":"record-view","item_id":"x","id":42}""", "id", "must be a string")]
    [InlineData("""[1]""", "$", "must be a JSON object")]
    [InlineData("""[[{"type":"record-view","item_id":"x"}]]""", "$", "must be a JSON object")]
    public void Each_bad_event_is_rejected_naming_its_field(string body, string field, string reason)
    {
        var rejection = OnlyRejection(body);
        Assert.Equal((0, field), (rejection.Index, rejection.Field));
        Assert.Contains(reason, rejection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_id_longer_than_128_characters_is_rejected()
    {
        var rejection = OnlyRejection(View($"\"id\":\"{new string('a', EventParser.MaxIdLength + 1)}\""));
        Assert.Equal("id", rejection.Field);
    }

    [Fact]
    public void A_disabled_type_is_rejected_as_disabled()
    {
        var rejection = OnlyRejection(View(), DefaultSchema(o => o.EventTypes[0].Enabled = false));
        Assert.Equal("type", rejection.Field);
        Assert.Contains("disabled", rejection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Integers_keep_their_full_64_bit_range()
    {
        Assert.Equal(long.MaxValue, One(View($"\"size\":{long.MaxValue}"))["size"]);
        Assert.Equal(long.MinValue, One(View($"\"size\":{long.MinValue}"))["size"]);
        Assert.Equal(0L, One(View("\"size\":0"))["size"]);
    }

    [Fact]
    public void Numbers_booleans_and_strings_are_read_as_their_declared_types()
    {
        var e = One("""{"type":"measure","label":"ünï","n":-3,"x":2,"flag":false}""", SchemaWithAllFieldTypes());
        Assert.Equal<object?>(["ünï", -3L, 2.0, false], e.Values);
        Assert.Equal(0.125, One("""{"type":"measure","x":1.25e-1}""", SchemaWithAllFieldTypes())["x"]);
    }

    [Theory]
    [InlineData("""{"type":"measure","x":"1.5"}""", "x", "must be a number")]
    [InlineData("""{"type":"measure","x":1e400}""", "x", "must be a number")]
    [InlineData("""{"type":"measure","flag":"true"}""", "flag", "must be a boolean")]
    [InlineData("""{"type":"measure","flag":1}""", "flag", "must be a boolean")]
    [InlineData("""{"type":"measure","label":false}""", "label", "must be a string")]
    [InlineData("""{"type":"measure","n":{"v":1}}""", "n", "must be an integer")]
    public void Values_of_the_wrong_type_are_rejected_naming_the_field(string body, string field, string reason)
    {
        var rejection = OnlyRejection(body, SchemaWithAllFieldTypes());
        Assert.Equal(field, rejection.Field);
        Assert.Equal(reason, rejection.Reason);
    }

    [Fact]
    public void Null_means_an_optional_field_is_absent()
    {
        var e = One("""{"type":"measure","label":null,"n":null,"x":null,"flag":null}""", SchemaWithAllFieldTypes());
        Assert.All(e.Values, Assert.Null);
    }

    [Fact]
    public void When_a_field_is_sent_twice_the_last_value_counts()
    {
        Assert.Equal(2L, One(View("\"size\":1,\"size\":2"))["size"]);
        Assert.Equal("size", OnlyRejection(View("\"size\":1,\"size\":\"x\"")).Field);
    }
}

public sealed class ParserTimestampTests
{
    private static DateTime Utc(int day, int hour, int minute = 0, int second = 0, int ms = 0) =>
        new(2026, 6, day, hour, minute, second, ms, DateTimeKind.Utc);

    private static DateTime TimestampOf(string iso, Tally.Core.Configuration.TallySchema? schema = null) =>
        One(View($"\"timestamp\":\"{iso}\""), schema).Timestamp;

    private static Rejection RejectionOf(string timestamp, Tally.Core.Configuration.TallySchema? schema = null) =>
        OnlyRejection(View($"\"timestamp\":{timestamp}"), schema);

    [Theory]
    [InlineData("2026-06-10T08:00:00Z", 10, 8)]
    [InlineData("2026-06-10T10:00:00+02:00", 10, 8)]
    [InlineData("2026-06-10T02:30:00-05:30", 10, 8)]
    [InlineData("2026-06-10T01:00:00+09:00", 9, 16)]
    [InlineData("2026-06-09T23:30:00-10:00", 10, 9, 30)]
    public void Offsets_are_converted_to_utc(string iso, int day, int hour, int minute = 0)
    {
        var timestamp = TimestampOf(iso);
        Assert.Equal(Utc(day, hour, minute), timestamp);
        Assert.Equal(DateTimeKind.Utc, timestamp.Kind);
    }

    [Fact]
    public void A_timestamp_without_an_offset_is_taken_as_utc()
    {
        Assert.Equal(Utc(10, 8), TimestampOf("2026-06-10T08:00:00"));
        Assert.Equal(DateTimeKind.Utc, TimestampOf("2026-06-10T08:00:00").Kind);
    }

    [Fact]
    public void Timestamps_keep_millisecond_precision()
    {
        Assert.Equal(Utc(10, 8, 0, 1, 123), TimestampOf("2026-06-10T08:00:01.1239999Z"));
        Assert.Equal(Utc(10, 2, 30, 0, 5), TimestampOf("2026-06-10T08:00:00.005+05:30"));
    }

    [Theory]
    [InlineData("\"2026-06-10\"")]
    [InlineData("\"last tuesday\"")]
    [InlineData("\"10/06/2026 08:00\"")]
    [InlineData("\"2026-06-10T25:00:00Z\"")]
    [InlineData("\"2026-02-30T08:00:00Z\"")]
    [InlineData("\"\"")]
    [InlineData("1781092800")]
    [InlineData("null")]
    public void Date_only_numeric_and_garbage_timestamps_are_rejected(string timestamp)
    {
        var rejection = RejectionOf(timestamp);
        Assert.Equal("timestamp", rejection.Field);
        Assert.Contains("ISO-8601", rejection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Clock_skew_up_to_the_limit_is_allowed_and_beyond_it_is_rejected()
    {
        var skew = TimeSpan.FromSeconds(new Tally.Core.Configuration.IngestOptions().MaxFutureSkewSeconds);
        Assert.Equal(Now + skew, TimestampOf((Now + skew).ToString("O")));
        var rejection = RejectionOf($"\"{(Now + skew).AddMilliseconds(1):O}\"");
        Assert.Equal(("timestamp", "lies in the future"), (rejection.Field, rejection.Reason));
    }

    [Fact]
    public void The_future_limit_follows_the_configuration()
    {
        var strict = DefaultSchema(o => o.Ingest.MaxFutureSkewSeconds = 0);
        Assert.Equal(Now, TimestampOf(Now.ToString("O"), strict));
        Assert.Equal("timestamp", RejectionOf($"\"{Now.AddSeconds(1):O}\"", strict).Field);
    }

    [Fact]
    public void Events_older_than_their_types_retention_are_rejected_and_others_are_not_limited()
    {
        var schema = DefaultSchema(o => o.EventTypes[0].RetentionDays = 30);
        var limit = Now.AddDays(-30);
        Assert.Equal(limit, TimestampOf(limit.ToString("O"), schema));
        var rejection = RejectionOf($"\"{limit.AddMilliseconds(-1):O}\"", schema);
        Assert.Equal("timestamp", rejection.Field);
        Assert.Contains("30-day retention of 'record-view'", rejection.Reason, StringComparison.Ordinal);

        var old = One("""{"type":"file-download","item_id":"x","timestamp":"2001-01-01T00:00:00Z"}""", schema);
        Assert.Equal(2001, old.Timestamp.Year);
    }
}

public sealed class ParserBodyTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   \n\r\n ")]
    [InlineData("{\"type\":\"record-view\",")]
    [InlineData("[{\"type\":\"record-view\",\"item_id\":\"a\"}")]
    [InlineData("[{\"type\":\"record-view\",\"item_id\":\"a\"}] trailing")]
    [InlineData("[{\"type\":\"record-view\",\"item_id\":\"a\"}]\n[{\"type\":\"record-view\",\"item_id\":\"b\"}]")]
    [InlineData("{\"type\":\"record-view\",\"item_id\":\"a\"},{\"type\":\"record-view\",\"item_id\":\"b\"}")]
    [InlineData("{'type':'record-view'}")]
    [InlineData("not json")]
    public void Malformed_bodies_are_refused_whole(string body) =>
        Assert.Throws<MalformedBodyException>(() => Parse(body));

    [Fact]
    public void A_malformed_body_says_where_it_broke()
    {
        var error = Assert.Throws<MalformedBodyException>(() => Parse("{\"type\":\"record-view\",\"item_id\":\"a\"}\n{\"type\":\"record-view\",,}"));
        Assert.StartsWith("Malformed JSON at line 2, byte 23", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    public void A_string_that_is_not_valid_utf8_refuses_the_body(byte[] bad)
    {
        var body = Encoding.UTF8.GetBytes("{\"type\":\"record-view\",\"item_id\":\"").Concat(bad).Concat("\"}"u8.ToArray()).ToArray();
        var parser = new EventParser(DefaultSchema(), new FixedClock(Now));
        Assert.Throws<MalformedBodyException>(() => parser.Parse(body));
    }

    [Theory]
    [InlineData("""{"type":"record-view","item_id":"\ud800"}""", "item_id")]
    [InlineData("""{"type":"\udc00","item_id":"x"}""", "type")]
    [InlineData("""{"type":"record-view","id":"a\ud800b","item_id":"x"}""", "id")]
    [InlineData("""{"type":"record-view","item_id":"x","\ud800":1}""", "\\ud800")]
    [InlineData("""{"\ud800":1,"type":"record-view","item_id":"x"}""", "\\ud800")]
    [InlineData("""{"type":"record-view","item_id":"x","note":["\udfff"]}""", "note")]
    public void An_escaped_lone_surrogate_is_not_text_and_rejects_its_event_naming_the_field(string body, string field)
    {
        var batch = Parse(body + "\n" + """{"type":"record-view","item_id":"kept"}""");
        var rejection = Assert.Single(batch.Rejections);
        Assert.Equal(field, rejection.Field);
        Assert.Contains("Unicode", rejection.Reason, StringComparison.Ordinal);
        Assert.Equal("kept", Assert.Single(batch.Events)["item_id"]);
    }

    [Fact]
    public void Escaped_surrogate_pairs_are_ordinary_text()
    {
        Assert.Equal("😀", One("""{"type":"record-view","item_id":"\ud83d\ude00"}""")["item_id"]);
    }

    [Fact]
    public void A_body_over_the_event_limit_is_refused_whole()
    {
        var schema = DefaultSchema(o => o.Ingest.MaxEventsPerRequest = 3);
        Assert.Equal(3, Parse(string.Join('\n', Enumerable.Repeat(View(), 3)), schema).Events.Count);
        var error = Assert.Throws<TooManyEventsException>(() => Parse(string.Join('\n', Enumerable.Repeat(View(), 4)), schema));
        Assert.Equal(3, error.Limit);
    }

    [Fact]
    public void Rejected_events_count_towards_the_event_limit()
    {
        var schema = DefaultSchema(o => o.Ingest.MaxEventsPerRequest = 3);
        Assert.Throws<TooManyEventsException>(() => Parse($"[{View()},{{}},{{}},{View()}]", schema));
    }
}

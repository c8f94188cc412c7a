using Tally.Core.Accept;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

public sealed class ParserTests
{
    [Fact]
    public void One_object_an_array_and_ndjson_give_the_same_events()
    {
        const string a = """{"type":"record-view","id":"1","item_id":"x","size":3}""";
        const string b = """{"type":"file-download","id":"2","item_id":"y","timestamp":"2026-06-10T08:00:00+02:00"}""";
        var array = Parse($"[{a},{b}]");
        var ndjson = Parse($"{a}\r\n\n{b}\n");
        Assert.Equal(["1", "2"], array.Events.Select(e => e.Id));
        Assert.Equal(array.Events.Select(e => (e.Id, e.Type.Name, e.Timestamp, e["item_id"], e["size"])),
            ndjson.Events.Select(e => (e.Id, e.Type.Name, e.Timestamp, e["item_id"], e["size"])));
        Assert.Equal(new DateTime(2026, 6, 10, 6, 0, 0, DateTimeKind.Utc), array.Events[1].Timestamp);
        Assert.Equal(DateTimeKind.Utc, array.Events[1].Timestamp.Kind);
        Assert.Single(Parse(a).Events);
    }

    [Fact]
    public void Events_without_an_id_or_timestamp_get_a_unique_id_and_now()
    {
        var batch = Parse(string.Join('\n', Enumerable.Range(0, 100).Select(_ => """{"type":"record-view","item_id":"x"}""")));
        Assert.Equal(100, batch.Events.Select(e => e.Id).Distinct().Count());
        Assert.All(batch.Events, e => Assert.Equal(Now, e.Timestamp));
    }

    [Fact]
    public void Undeclared_fields_are_kept_as_extra_json()
    {
        var e = One("""{"type":"record-view","item_id":"x","country":"NL","tags":["a",{"b":1}],"item_name":"A \"quoted\" name"}""");
        Assert.Equal("""{"country":"NL","tags":["a",{"b":1}],"item_name":"A \"quoted\" name"}""", e.Extra);
    }

    [Theory]
    [InlineData("""{"item_id":"x"}""", "type", "is required")]
    [InlineData("""{"type":"nope","item_id":"x"}""", "type", "not a known event type")]
    [InlineData("""{"type":7,"item_id":"x"}""", "type", "must be a string")]
    [InlineData("""{"type":"record-view"}""", "item_id", "is required")]
    [InlineData("""{"type":"record-view","item_id":5}""", "item_id", "must be a string")]
    [InlineData("""{"type":"record-view","item_id":"x","size":"big"}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":1.5}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","size":99999999999999999999}""", "size", "must be an integer")]
    [InlineData("""{"type":"record-view","item_id":"x","timestamp":"2026-06-10"}""", "timestamp", "ISO-8601")]
    [InlineData("""{"type":"record-view","item_id":"x","timestamp":"last tuesday"}""", "timestamp", "ISO-8601")]
    [InlineData("""{"type":"record-view","item_id":"x","timestamp":"2026-06-10T13:00:00Z"}""", "timestamp", "future")]
    [InlineData("""{"type":"record-view","item_id":"x","id":""}""", "id", "1 to 128")]
    [InlineData("""{"type":"record-view","item_id":"x","id":42}""", "id", "must be a string")]
    [InlineData("""[1]""", "$", "JSON object")]
    public void Each_bad_event_is_rejected_naming_its_field(string body, string field, string reason)
    {
        var batch = Parse(body);
        Assert.Empty(batch.Events);
        var rejection = Assert.Single(batch.Rejections);
        Assert.Equal((0, field), (rejection.Index, rejection.Field));
        Assert.Contains(reason, rejection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Disabled_types_and_retention_reject_events()
    {
        var schema = DefaultSchema(o =>
        {
            o.EventTypes[0].Enabled = false;
            o.EventTypes[1].RetentionDays = 30;
        });
        var batch = Parse("""
            {"type":"record-view","item_id":"x"}
            {"type":"file-download","item_id":"x","timestamp":"2026-04-01T00:00:00Z"}
            {"type":"file-download","item_id":"x","timestamp":"2026-06-01T00:00:00Z"}
            """, schema);
        Assert.Equal([(0, "type"), (1, "timestamp")], batch.Rejections.Select(r => (r.Index, r.Field)));
        Assert.Equal([2], batch.Indexes);
    }

    [Fact]
    public void Valid_events_around_invalid_ones_are_kept_with_their_indexes()
    {
        var batch = Parse("""[{"type":"record-view","item_id":"a"},{"type":"x"},{"type":"record-view","item_id":"b"},{"bad":true},{"type":"record-view","item_id":"c"}]""");
        Assert.Equal(["a", "b", "c"], batch.Events.Select(e => (string)e["item_id"]!));
        Assert.Equal([0, 2, 4], batch.Indexes);
        Assert.Equal([1, 3], batch.Rejections.Select(r => r.Index));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{\"type\":\"record-view\",")]
    [InlineData("[{\"type\":\"record-view\",\"item_id\":\"a\"}")]
    [InlineData("[{\"type\":\"record-view\",\"item_id\":\"a\"}] trailing")]
    [InlineData("not json")]
    public void Malformed_bodies_are_refused_whole(string body) =>
        Assert.Throws<MalformedBodyException>(() => Parse(body));

    [Fact]
    public void A_body_over_the_event_limit_is_refused_whole()
    {
        var schema = DefaultSchema(o => o.Ingest.MaxEventsPerRequest = 3);
        Assert.Equal(3, Parse(string.Join('\n', Enumerable.Repeat("""{"type":"record-view","item_id":"x"}""", 3)), schema).Events.Count);
        Assert.Throws<TooManyEventsException>(() => Parse(string.Join('\n', Enumerable.Repeat("""{"type":"record-view","item_id":"x"}""", 4)), schema));
    }

    [Fact]
    public void Arbitrary_bytes_never_escape_as_anything_but_a_malformed_body()
    {
        var random = new Random(7);
        var parser = new EventParser(DefaultSchema(), new FixedClock(Now));
        var seed = System.Text.Encoding.UTF8.GetBytes("""[{"type":"record-view","item_id":"x","size":1,"t":[1,{"a":null}]}]""");
        for (var i = 0; i < 5000; i++)
        {
            var bytes = seed.ToArray();
            for (var m = random.Next(1, 4); m > 0; m--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            try { parser.Parse(bytes); }
            catch (MalformedBodyException) { }
        }
    }
}

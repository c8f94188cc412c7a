using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using static Tally.Core.Tests.CoreTestKit;

namespace Tally.Core.Tests;

/// <summary>A valid event as a client would send it; null members are left out of the JSON.</summary>
public sealed record SentEvent(string Type, string? Id, string ItemId, long? Size, DateTimeOffset? Timestamp, string? Referrer, (string Name, int Value)? Extra)
{
    public string ToJson()
    {
        var members = new Dictionary<string, object>
        {
            ["type"] = Type,
            ["item_id"] = ItemId,
        };
        if (Id is not null) members["id"] = Id;
        if (Size is not null) members["size"] = Size.Value;
        if (Timestamp is not null) members["timestamp"] = Timestamp.Value.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", System.Globalization.CultureInfo.InvariantCulture);
        if (Referrer is not null) members["referrer"] = Referrer;
        if (Extra is { } extra) members[extra.Name] = extra.Value;
        return JsonSerializer.Serialize(members);
    }
}

/// <summary>One request body, whole: valid events in both NDJSON and array form.</summary>
public sealed record SentBatch(IReadOnlyList<SentEvent> Events, IReadOnlyList<string> Separators)
{
    public string Ndjson() => string.Concat(Events.Select((e, i) => e.ToJson() + Separators[i]));

    public string Array() => "[" + string.Join(",", Events.Select(e => e.ToJson())) + "]";

    public override string ToString() => Ndjson();
}

/// <summary>Bytes that look like a request body, more or less.</summary>
public sealed record Body(byte[] Bytes)
{
    public override string ToString() => Convert.ToHexString(Bytes) + " = " + Encoding.UTF8.GetString(Bytes);
}

public static class ParserArbitraries
{
    // Text pieces that stress JSON escaping: quotes, backslashes, controls, non-ASCII and surrogate pairs.
    private static readonly string[] TextPieces = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u0001", "é", "ß", "日本", "😀", "\u2028", "<>&", "'"];

    private static Gen<string> Text(int minPieces) =>
        Gen.Choose(minPieces, 12).SelectMany(n => Gen.ArrayOf(Gen.Elements(TextPieces), n)).Select(string.Concat);

    private static readonly Gen<DateTimeOffset> Timestamps =
        from secondsAgo in Gen.Choose(0, 400 * 24 * 3600)
        from ms in Gen.Choose(0, 999)
        from offsetQuarters in Gen.Choose(-12 * 4, 14 * 4)
        let utc = new DateTimeOffset(Now).AddSeconds(-secondsAgo).AddMilliseconds(-ms)
        select utc.ToOffset(TimeSpan.FromMinutes(15 * offsetQuarters));

    private static readonly Gen<SentEvent> Events =
        from type in Gen.Elements("record-view", "file-download")
        from id in Gen.OneOf(Text(1).Select(t => (string?)("id-" + t)), Gen.Constant<string?>(null))
        from item in Text(0)
        from size in Gen.OneOf(Gen.Choose(int.MinValue, int.MaxValue).Select(n => (long?)n * 3), Gen.Elements<long?>(null, long.MaxValue, long.MinValue, 0))
        from timestamp in Gen.OneOf(Timestamps.Select(t => (DateTimeOffset?)t), Gen.Constant<DateTimeOffset?>(null))
        from referrer in Gen.OneOf(Text(0).Select(t => (string?)t), Gen.Constant<string?>(null))
        from extra in Gen.OneOf(
            Gen.Elements("colour", "x_y", "é", "deep").Zip(Gen.Choose(-5, 5)).Select(p => ((string, int)?)(p.Item1, p.Item2)),
            Gen.Constant<(string, int)?>(null))
        select new SentEvent(type, id, item, size, timestamp, referrer, extra);

    public static Arbitrary<SentBatch> Batches() =>
        Gen.Choose(1, 30).SelectMany(n =>
            from events in Gen.ListOf(Events, n)
            from separators in Gen.ListOf(Gen.Elements("\n", "\r\n", "\n\n", " \r\n\t\n", ""), n)
            select new SentBatch(events, separators)).ToArbitrary();

    // JSON-ish tokens, so that random bodies get past the first byte: structure, envelope names,
    // escapes (including lone surrogates), numbers at the edges, and bytes that are not UTF-8.
    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ":", ",", "\n", "\r\n", " ", "\"", "\"type\"", "\"record-view\"", "\"file-download\"", "\"item_id\"",
        "\"size\"", "\"id\"", "\"timestamp\"", "\"2026-06-10T10:00:00Z\"", "\"2026-06-10\"", "\"x\"", "\"\\ud800\"", "\"\\udc00x\"",
        "\"\\ud83d\\ude00\"", "\"\\u00e9\"", "\"\\\"\"", "\"\\q\"", "0", "-1", "1.5", "1e400", "99999999999999999999", "true", "false",
        "null", "/* c */", "// c\n", "\u00ff", "é",
    ];

    private static readonly Gen<byte[]> TokenSoup =
        Gen.ListOf(Gen.OneOf(Gen.Elements(Tokens).Select(Encoding.UTF8.GetBytes), Gen.Elements<byte>(0xFF, 0xC3, 0x80, 0xED, 0xA0, 0x00).Select(b => new[] { b })))
            .Select(parts => parts.SelectMany(p => p).ToArray());

    // Well-formed objects whose members mix envelope and field names with odd values, so that
    // random input reaches the per-field code and not only the tokenizer.
    private static readonly string[] Names = ["\"type\"", "\"id\"", "\"timestamp\"", "\"item_id\"", "\"size\"", "\"referrer\"", "\"other\"", "\"\\ud800\"", "\"\\u0074ype\"", "\"\u00ff\""];
    private static readonly string[] Values = [.. Tokens.Where(t => t.StartsWith('"') && t.Length > 1 || char.IsDigit(t[0]) || t[0] == '-' || t is "true" or "false" or "null"), "[1,{}]", "{\"a\":[]}"];

    private static readonly Gen<string> Objects =
        Gen.ListOf(Gen.Elements(Names).Zip(Gen.Elements(Values)).Select(m => m.Item1 + ":" + m.Item2))
            .Select(members => "{" + string.Join(",", members) + "}");

    private static readonly Gen<byte[]> ObjectBodies =
        from objects in Gen.NonEmptyListOf(Gen.Frequency((4, Objects), (1, Gen.Elements("1", "\"s\"", "[]", "null"))))
        from asArray in Gen.Elements(true, false)
        from cut in Gen.Choose(0, 3)
        let text = asArray ? "[" + string.Join(",", objects) + "]" : string.Join("\n", objects)
        // Now and then the body is cut short, as a dropped connection would leave it.
        select Encoding.UTF8.GetBytes(cut == 0 ? text[..(text.Length / 2)] : text);

    private static readonly byte[] Seed = Encoding.UTF8.GetBytes(
        """[{"type":"record-view","item_id":"x","size":1,"id":"a","timestamp":"2026-06-10T10:00:00Z","t":[1,{"a":null}]},{"type":"file-download","item_id":"y"}]""");

    private static readonly Gen<byte[]> MutatedSeed =
        Gen.ListOf(Gen.Choose(0, Seed.Length - 1).Zip(Gen.Choose(0, 255))).Select(changes =>
        {
            var bytes = Seed.ToArray();
            foreach (var (at, value) in changes) bytes[at] = (byte)value;
            return bytes;
        });

    public static Arbitrary<Body> Bodies() =>
        Gen.OneOf(ArbMap.Default.GeneratorFor<byte[]>(), TokenSoup, MutatedSeed, ObjectBodies).Select(b => new Body(b)).ToArbitrary();
}

public sealed class ParserProperties
{
    private static readonly TallySchema Schema = DefaultSchema();
    private static readonly TallySchema SmallLimit = DefaultSchema(o => o.Ingest.MaxEventsPerRequest = 5);

    private static ParsedBatch ParseWith(TallySchema schema, string body) =>
        new EventParser(schema, new FixedClock(Now)).Parse(Encoding.UTF8.GetBytes(body));

    /// <summary>What a parsed event says, leaving out generated ids (those differ from parse to parse).</summary>
    private static string Describe(TallyEvent e, SentEvent sent) =>
        JsonSerializer.Serialize(new { Id = sent.Id is null ? "(generated)" : e.Id, e.Type.Name, e.Timestamp, e.Values, e.Extra });

    [Property(Arbitrary = [typeof(ParserArbitraries)], MaxTest = 300)]
    public void Ndjson_and_array_forms_of_the_same_events_parse_the_same(SentBatch sent)
    {
        var fromNdjson = ParseWith(Schema, sent.Ndjson());
        var fromArray = ParseWith(Schema, sent.Array());

        Assert.Empty(fromNdjson.Rejections);
        Assert.Empty(fromArray.Rejections);
        Assert.Equal(Enumerable.Range(0, sent.Events.Count), fromNdjson.Indexes);
        Assert.Equal(Enumerable.Range(0, sent.Events.Count), fromArray.Indexes);
        Assert.Equal(
            fromArray.Events.Select((e, i) => Describe(e, sent.Events[i])),
            fromNdjson.Events.Select((e, i) => Describe(e, sent.Events[i])));
    }

    [Property(Arbitrary = [typeof(ParserArbitraries)], MaxTest = 300)]
    public void Parsed_events_carry_exactly_what_was_sent(SentBatch sent)
    {
        var parsed = ParseWith(Schema, sent.Ndjson()).Events;
        Assert.Equal(sent.Events.Count, parsed.Count);
        foreach (var (e, s) in parsed.Zip(sent.Events))
        {
            Assert.Equal(s.Type, e.Type.Name);
            if (s.Id is not null) Assert.Equal(s.Id, e.Id);
            Assert.Equal(s.ItemId, e["item_id"]);
            Assert.Equal(s.Size, (long?)e["size"]);
            Assert.Equal(s.Referrer, e["referrer"]);
            Assert.Equal(s.Timestamp?.UtcDateTime ?? Now, e.Timestamp);
            Assert.Equal(DateTimeKind.Utc, e.Timestamp.Kind);
            if (s.Extra is { } x) Assert.Equal(x.Value, JsonDocument.Parse(e.Extra!).RootElement.GetProperty(x.Name).GetInt32());
            else Assert.Null(e.Extra);
        }
    }

    [Property(Arbitrary = [typeof(ParserArbitraries)], MaxTest = 3000)]
    public void Any_bytes_give_events_and_rejections_or_a_malformed_or_too_large_body_and_nothing_else(Body body)
    {
        foreach (var schema in new[] { Schema, SmallLimit })
        {
            try
            {
                var batch = new EventParser(schema, new FixedClock(Now)).Parse(body.Bytes);
                Assert.Equal(batch.Events.Count, batch.Indexes.Count);
                Assert.Equal(Enumerable.Range(0, batch.Total), batch.Indexes.Concat(batch.Rejections.Select(r => r.Index)).Order());
            }
            catch (MalformedBodyException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
            catch (TooManyEventsException)
            {
            }
        }
    }
}

using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Queue.Inbox;

namespace Tally.Server.Tests.Inbox;

/// <summary>What the inbox keeps of a processed event comes back whole, and a configuration changed since leaves out only what it no longer declares.</summary>
public sealed class ProcessedEventsTests
{
    private static TallySchema Schema(string fields, string otherType = """, { "name": "login", "fields": {} }""") => TallySchema.Compile(ConfigurationReader.Parse($$"""
        { "eventTypes": [ { "name": "page_view", "partition": "day", "fields": { {{fields}} } }{{otherType}} ] }
        """));

    private const string AllKinds = """ "path": { "required": true }, "size": { "type": "integer" }, "ms": { "type": "number" }, "ok": { "type": "boolean" }, "note": {} """;

    [Fact]
    public void Every_kind_of_value_the_pipelines_flags_and_hashes_and_the_extra_members_come_back_as_written()
    {
        var schema = Schema(AllKinds);
        var type = schema.EventTypes["page_view"];
        var written = new TallyEvent(type, "e-1", new DateTime(2026, 12, 7, 10, 15, 30, 123, DateTimeKind.Utc), ["/a", 42L, 1.5, true, null], """{"utm":"x"}""")
        {
            IsRobot = true, VisitorId = -7, SessionId = long.MaxValue,
        };
        var plain = new TallyEvent(schema.EventTypes["login"], "e-2", new DateTime(2026, 12, 7, 0, 0, 0, DateTimeKind.Utc), []);
        var problems = new List<string>();

        var read = ProcessedEvents.Decode(ProcessedEvents.Encode([written, plain]), schema, problems);

        Assert.Empty(problems);
        Assert.Equal(2, read.Count);
        var e = read[0];
        Assert.Equal((type, "e-1", written.Timestamp, true, -7L, long.MaxValue, """{"utm":"x"}"""), (e.Type, e.Id, e.Timestamp, e.IsRobot, e.VisitorId, e.SessionId, e.Extra));
        Assert.Equal(written.Values, e.Values);
        Assert.Equal(DateTimeKind.Utc, e.Timestamp.Kind);
        Assert.Equal(("login", "e-2", false, (string?)null), (read[1].Type.Name, read[1].Id, read[1].IsRobot, read[1].Extra));
    }

    [Fact]
    public void A_field_or_type_dropped_from_the_configuration_is_left_out_and_said_and_the_rest_is_kept()
    {
        var before = Schema(AllKinds);
        var record = ProcessedEvents.Encode([
            new TallyEvent(before.EventTypes["page_view"], "e-1", DateTime.UtcNow, ["/a", 42L, 1.5, true, "n"]),
            new TallyEvent(before.EventTypes["login"], "e-2", DateTime.UtcNow, []),
        ]);
        var after = Schema(""" "ok": { "type": "boolean" }, "path": {} """, otherType: "");
        var problems = new List<string>();

        var read = ProcessedEvents.Decode(record, after, problems);

        var e = Assert.Single(read);
        Assert.Equal("/a", e["path"]);
        Assert.Equal(true, e["ok"]);
        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.Contains("'size'") && p.Contains("e-1"));
        Assert.Contains(problems, p => p.Contains("type 'login'") && p.Contains("e-2"));
    }
}

using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Storage.Tests;

/// <summary>A clock that stands still, so days and partitions are deterministic.</summary>
public sealed class FixedClock(DateTime utcNow) : TimeProvider
{
    public DateTime Now { get; set; } = utcNow;

    public override DateTimeOffset GetUtcNow() => new(Now, TimeSpan.Zero);
}

/// <summary>Schemas and events for store tests, built through the real configuration and parser.</summary>
public static class StoreTestKit
{
    public static readonly DateTime Now = new(2026, 3, 15, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>The default configuration plus a "probe" type with every field type, partitioned by <paramref name="partition"/>.</summary>
    public static TallySchema Schema(string partition = "month", Action<TallyOptions>? change = null)
    {
        var options = DefaultConfiguration.Create();
        options.EventTypes.Add(new EventTypeOptions
        {
            Name = "probe",
            Partition = partition,
            Fields = new()
            {
                ["item_id"] = new() { Type = "string", Required = true },
                ["n"] = new() { Type = "integer" },
                ["x"] = new() { Type = "number" },
                ["flag"] = new() { Type = "boolean" },
            },
        });
        change?.Invoke(options);
        return TallySchema.Compile(options);
    }

    public static List<TallyEvent> Parse(TallySchema schema, string ndjson)
    {
        var batch = new EventParser(schema, new FixedClock(Now.AddDays(400))).Parse(System.Text.Encoding.UTF8.GetBytes(ndjson));
        Assert.Empty(batch.Rejections);
        return batch.Events;
    }

    public static TallyEvent Probe(TallySchema schema, string id, DateTime at, string item = "a", long? n = null, bool robot = false, long visitor = 1, long session = 1)
    {
        var type = schema.EventTypes["probe"];
        var values = new object?[type.Fields.Count];
        values[type.OrdinalOf("item_id")] = item;
        values[type.OrdinalOf("n")] = n;
        return new TallyEvent(type, id, at, values) { IsRobot = robot, VisitorId = visitor, SessionId = session };
    }
}

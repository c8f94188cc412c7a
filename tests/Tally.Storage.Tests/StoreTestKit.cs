using Microsoft.Data.Sqlite;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using Tally.Storage.Sqlite;

namespace Tally.Storage.Tests;

/// <summary>Schemas and events for store tests, built through the real configuration and parser.</summary>
public static class StoreTestKit
{
    public static readonly DateTime Now = new(2026, 3, 15, 12, 0, 0, DateTimeKind.Utc);
    public static readonly DateOnly Today = DateOnly.FromDateTime(Now);
    public static readonly DateTime Far = new(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc);

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

    public static EventTypeOptions ProbeOptions(this TallyOptions options) => options.EventTypes.Single(t => t.Name == "probe");

    /// <summary>Events parsed from NDJSON by the real parser; every line must be accepted.</summary>
    public static List<TallyEvent> Parse(TallySchema schema, string ndjson, TimeProvider? clock = null)
    {
        var batch = new EventParser(schema, clock ?? new FixedClock(Now.AddDays(400))).Parse(System.Text.Encoding.UTF8.GetBytes(ndjson));
        Assert.Empty(batch.Rejections);
        return batch.Events;
    }

    /// <summary>A "probe" event built directly, as it looks after the pipeline.</summary>
    public static TallyEvent Probe(
        TallySchema schema, string id, DateTime at, string? item = "a", long? n = null, double? x = null, bool? flag = null,
        bool robot = false, long visitor = 1, long session = 1, string? extra = null)
    {
        var type = schema.EventTypes["probe"];
        var values = new object?[type.Fields.Count];
        values[type.OrdinalOf("item_id")] = item;
        values[type.OrdinalOf("n")] = n;
        values[type.OrdinalOf("x")] = x;
        values[type.OrdinalOf("flag")] = flag;
        return new TallyEvent(type, id, at, values, extra) { IsRobot = robot, VisitorId = visitor, SessionId = session };
    }

    public static async Task<List<TallyEvent>> ScanAllAsync(
        this IEventStore store, EventType type, DateTime? from = null, DateTime? to = null, IReadOnlyList<FieldDefinition>? fields = null)
    {
        var events = new List<TallyEvent>();
        await foreach (var e in store.ScanAsync(type, from ?? DateTime.UnixEpoch, to ?? Far, fields ?? type.Fields, withExtra: false, CancellationToken.None))
            events.Add(e);
        return events;
    }

    /// <summary>Every event <see cref="IEventStore.StreamEventsAsync"/> gives for the query.</summary>
    public static async Task<List<TallyEvent>> StreamAllAsync(this IEventStore store, RawEventQuery query)
    {
        var events = new List<TallyEvent>();
        await foreach (var e in store.StreamEventsAsync(query, CancellationToken.None)) events.Add(e);
        return events;
    }

    /// <summary>Every page of the query from the first, one after another, as a client of the raw API would read them; and the total each page reported.</summary>
    public static async Task<(List<TallyEvent> Events, long Total)> AllPagesAsync(this IEventStore store, RawEventQuery query)
    {
        var events = new List<TallyEvent>();
        for (var page = 1; ; page++)
        {
            var answer = await store.QueryEventsAsync(query with { Page = page }, CancellationToken.None);
            events.AddRange(answer.Events);
            if (answer.Events.Count < query.RowsPerPage) return (events, answer.Total);
        }
    }
}

/// <summary>
/// SQLite stores in temporary folders: each fresh store gets its own folder, a reopen opens the last
/// one again, and every folder is deleted at the end.
/// </summary>
public sealed class SqliteTempStores : IDisposable
{
    private readonly List<string> _directories = [];

    public string? Current { get; private set; }

    public SqliteEventStore OpenFresh()
    {
        Current = Directory.CreateTempSubdirectory("tally-store-").FullName;
        _directories.Add(Current);
        return SqliteEventStore.Open(Path.Combine(Current, "data"));
    }

    public SqliteEventStore Reopen() =>
        SqliteEventStore.Open(Path.Combine(Current ?? throw new InvalidOperationException("no store was opened"), "data"));

    public void Dispose()
    {
        // Pooled connections keep the files open; release them before deleting.
        SqliteConnection.ClearAllPools();
        foreach (var directory in _directories)
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}

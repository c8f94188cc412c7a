using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>
/// What every store must do, engine-neutral. Each engine subclasses this with a factory that opens
/// a fresh store, and one that reopens it (a restart).
/// </summary>
public abstract class EventStoreContract : IAsyncLifetime
{
    protected abstract Task<IEventStore> OpenFreshAsync();

    protected abstract Task<IEventStore> ReopenAsync();

    private readonly List<IEventStore> _open = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _open) await store.DisposeAsync();
    }

    private async Task<IEventStore> FreshAsync(TallySchema schema)
    {
        var store = await OpenFreshAsync();
        _open.Add(store);
        await store.SetupAsync(schema, CancellationToken.None);
        return store;
    }

    private async Task<IEventStore> RestartAsync(IEventStore store)
    {
        _open.Remove(store);
        await store.DisposeAsync();
        var reopened = await ReopenAsync();
        _open.Add(reopened);
        return reopened;
    }

    private static readonly CancellationToken None = CancellationToken.None;

    private static async Task<List<TallyEvent>> ScanAllAsync(IEventStore store, EventType type, DateTime? from = null, DateTime? to = null)
    {
        var events = new List<TallyEvent>();
        await foreach (var e in store.ScanAsync(type, from ?? DateTime.UnixEpoch, to ?? new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc), type.Fields, None))
            events.Add(e);
        return events;
    }

    [Fact]
    public async Task Setup_then_check_agree()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        Assert.Empty(await store.CheckAsync(schema, None));
    }

    [Fact]
    public async Task Check_names_what_differs()
    {
        var store = await FreshAsync(Schema());
        await store.AppendAsync([Probe(Schema(), "e1", Now)], None);

        var added = Schema(change: o => o.EventTypes[2].Fields["extra_field"] = new FieldOptions());
        Assert.Contains(await store.CheckAsync(added, None), d => d.Contains("'extra_field'", StringComparison.Ordinal));

        var retyped = Schema(change: o => o.EventTypes[2].Fields["n"] = new FieldOptions { Type = "string" });
        Assert.Contains(await store.CheckAsync(retyped, None), d => d.Contains("'n'", StringComparison.Ordinal) && d.Contains("integer", StringComparison.Ordinal));

        var newType = Schema(change: o => o.EventTypes.Add(new EventTypeOptions { Name = "later", Fields = new() { ["item_id"] = new() } }));
        Assert.Contains(await store.CheckAsync(newType, None), d => d.Contains("'later' is configured but not set up", StringComparison.Ordinal));

        var removed = Schema(change: o => o.EventTypes.RemoveAt(2));
        Assert.Contains(await store.CheckAsync(removed, None), d => d.Contains("'probe' is stored but no longer configured", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Setup_is_additive_and_keeps_existing_rows()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now, n: 7)], None);

        var wider = Schema(change: o => o.EventTypes[2].Fields["note"] = new FieldOptions());
        await store.SetupAsync(wider, None);
        Assert.Empty(await store.CheckAsync(wider, None));
        var kept = Assert.Single(await ScanAllAsync(store, wider.EventTypes["probe"]));
        Assert.Equal(7L, kept["n"]);
        Assert.Null(kept["note"]);
    }

    [Fact]
    public async Task Every_field_type_and_extra_round_trips()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var events = Parse(schema, """
            {"type":"probe","id":"full","timestamp":"2026-03-14T10:00:00.123Z","item_id":"a","n":-42,"x":2.5,"flag":true,"colour":"red","tags":[1,2]}
            {"type":"probe","id":"sparse","timestamp":"2026-03-14T11:00:00Z","item_id":"b","flag":false}
            """);
        Assert.All(await store.AppendAsync(events, None), Assert.True);

        var stored = (await ScanAllAsync(store, schema.EventTypes["probe"])).ToDictionary(e => e.Id);
        var full = stored["full"];
        Assert.Equal(new DateTime(2026, 3, 14, 10, 0, 0, 123, DateTimeKind.Utc), full.Timestamp);
        Assert.Equal(("a", -42L, 2.5, true), (full["item_id"], full["n"], full["x"], full["flag"]));
        Assert.Equal((null, null, false), (stored["sparse"]["n"], stored["sparse"]["x"], stored["sparse"]["flag"]));

        var page = await store.QueryEventsAsync(new RawEventQuery(Now.AddDays(-2), Now, [schema.EventTypes["probe"]], [], 1, 10, false), None);
        Assert.Equal("""{"colour":"red","tags":[1,2]}""", page.Events.Single(e => e.Id == "full").Extra);
    }

    [Fact]
    public async Task An_id_is_stored_once_across_calls_and_restarts()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        Assert.Equal(new[] { true, true }, await store.AppendAsync([Probe(schema, "e1", Now), Probe(schema, "e2", Now)], None));
        Assert.Equal(new[] { false, true }, await store.AppendAsync([Probe(schema, "e1", Now.AddDays(-40)), Probe(schema, "e3", Now)], None));
        store = await RestartAsync(store);
        Assert.Equal(new[] { false, false, true }, await store.AppendAsync([Probe(schema, "e2", Now), Probe(schema, "e3", Now), Probe(schema, "e4", Now)], None));
        Assert.Equal(4, (await ScanAllAsync(store, schema.EventTypes["probe"])).Count);
    }

    [Theory]
    [InlineData("hour")]
    [InlineData("day")]
    [InlineData("month")]
    [InlineData("year")]
    public async Task Scan_returns_exactly_the_events_in_the_half_open_range(string partition)
    {
        var schema = Schema(partition);
        var store = await FreshAsync(schema);
        var times = Enumerable.Range(0, 48).Select(h => Now.Date.AddDays(-1).AddHours(h).AddMinutes(30)).ToList();
        await store.AppendAsync(times.Select((t, i) => Probe(schema, $"e{i}", t)).ToList(), None);

        var from = Now.Date.AddHours(-3);
        var to = Now.Date.AddHours(5);
        var inRange = await ScanAllAsync(store, schema.EventTypes["probe"], from, to);
        Assert.Equal(times.Where(t => t >= from && t < to).Order(), inRange.Select(e => e.Timestamp).Order());
    }

    [Fact]
    public async Task Raw_events_page_in_either_order_with_totals_and_filters()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var views = schema.EventTypes["record-view"];
        var probe = schema.EventTypes["probe"];
        await store.AppendAsync(Enumerable.Range(0, 25).Select(i => Probe(schema, $"p{i:D2}", Now.AddMinutes(-i), item: i % 5 == 0 ? "x" : "y")).ToList(), None);
        await store.AppendAsync(Parse(schema, """{"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-15T11:59:30Z"}"""), None);

        var newest = await store.QueryEventsAsync(new RawEventQuery(Now.AddHours(-1), Now.AddSeconds(1), [probe, views], [], 1, 10, true), None);
        Assert.Equal(26, newest.Total);
        Assert.Equal(["p00", "v1", "p01"], newest.Events.Take(3).Select(e => e.Id));

        var secondPageOldest = await store.QueryEventsAsync(new RawEventQuery(Now.AddHours(-1), Now.AddSeconds(1), [probe], [], 2, 10, false), None);
        Assert.Equal(Enumerable.Range(10, 10).Select(i => $"p{24 - i:D2}"), secondPageOldest.Events.Select(e => e.Id));

        var onlyX = await store.QueryEventsAsync(new RawEventQuery(Now.AddHours(-1), Now.AddSeconds(1), [probe, views], [new FieldFilter("item_id", ["x"], false)], 1, 100, true), None);
        Assert.Equal(6, onlyX.Total);
        var notX = await store.QueryEventsAsync(new RawEventQuery(Now.AddHours(-1), Now.AddSeconds(1), [probe, views], [new FieldFilter("item_id", ["x"], true)], 1, 100, true), None);
        Assert.Equal(20, notX.Total);
    }

    [Fact]
    public async Task Appends_mark_days_and_a_clear_keeps_days_that_changed_since()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now), Probe(schema, "e2", Now.AddDays(-3))], None);
        var dirty = await store.GetDirtyDaysAsync(None);
        Assert.Equal([DateOnly.FromDateTime(Now.AddDays(-3)), DateOnly.FromDateTime(Now)], dirty.Where(d => d.EventType == "probe").Select(d => d.Day).Order());

        await store.AppendAsync([Probe(schema, "late", Now.AddDays(-3))], None);
        await store.ClearDirtyAsync(dirty, None);
        var left = Assert.Single(await store.GetDirtyDaysAsync(None));
        Assert.Equal(DateOnly.FromDateTime(Now.AddDays(-3)), left.Day);

        await store.ClearDirtyAsync([left], None);
        Assert.Empty(await store.GetDirtyDaysAsync(None));
        await store.MarkDirtyAsync(schema.EventTypes["probe"], DateOnly.FromDateTime(Now).AddDays(-1), DateOnly.FromDateTime(Now), None);
        Assert.Equal(2, (await store.GetDirtyDaysAsync(None)).Count);
    }

    [Fact]
    public async Task Metrics_are_replaced_per_period_and_read_summed_filtered_and_grouped()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var aggregation = schema.Aggregations["file-download-agg"];
        var day1 = new DateOnly(2026, 3, 1);
        MetricRow Row(DateOnly day, string item, long count, double size)
        {
            var row = new MetricRow(day, [item], 1) { Count = count, UniqueVisitors = count - 1, UniqueSessions = count };
            row.Sums[0] = size;
            row.SumCounts[0] = count;
            return row;
        }
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day1, [Row(day1, "a", 9, 1), Row(day1, "b", 9, 1)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day1, [Row(day1, "a", 3, 30), Row(day1, "b", 2, 20)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day1.AddDays(1), [Row(day1.AddDays(1), "a", 4, 40)], None);

        var byItem = await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day1, day1.AddDays(1), [], false, aggregation.GroupBy), None);
        var a = byItem.Single(r => r.Keys[0] == "a");
        Assert.Equal((7L, 5L, 7L, 70.0, 7L), (a.Count, a.UniqueVisitors, a.UniqueSessions, a.Sums[0], a.SumCounts[0]));
        Assert.Equal(2L, byItem.Single(r => r.Keys[0] == "b").Count);

        var byDay = await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day1, day1.AddDays(1), [new FieldFilter("item_id", ["b"], true)], true, []), None);
        Assert.Equal([(day1, 3L), (day1.AddDays(1), 4L)], byDay.OrderBy(r => r.Period).Select(r => (r.Period, r.Count)));
        Assert.Empty(await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Month, day1, day1, [], true, []), None));
    }

    [Fact]
    public async Task Retention_drops_only_whole_partitions_ending_by_the_cutoff()
    {
        var schema = Schema("day");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        await store.AppendAsync([Probe(schema, "old", Now.AddDays(-3)), Probe(schema, "edge", Now.Date.AddDays(-1).AddHours(23)), Probe(schema, "new", Now)], None);

        var dropped = await store.DropPartitionsBeforeAsync(probe, Now.Date, None);
        Assert.Equal(2, dropped.Count);
        Assert.Equal(["new"], (await ScanAllAsync(store, probe)).Select(e => e.Id));
        Assert.Empty(await store.DropPartitionsBeforeAsync(probe, Now.Date, None));
        Assert.Equal(new[] { true }, await store.AppendAsync([Probe(schema, "old", Now.AddDays(-3))], None));
    }

    [Fact]
    public async Task A_days_salt_is_stable_across_restarts_and_purged_when_old()
    {
        var store = await FreshAsync(Schema());
        var day = DateOnly.FromDateTime(Now);
        var salt = await store.GetSaltAsync(day, None);
        Assert.Equal(32, salt.Length);
        Assert.Equal(salt, await store.GetSaltAsync(day, None));
        Assert.NotEqual(salt, await store.GetSaltAsync(day.AddDays(-1), None));

        store = await RestartAsync(store);
        Assert.Equal(salt, await store.GetSaltAsync(day, None));
        var yesterday = await store.GetSaltAsync(day.AddDays(-1), None);
        await store.PurgeSaltsBeforeAsync(day, None);
        Assert.Equal(salt, await store.GetSaltAsync(day, None));
        Assert.NotEqual(yesterday, await store.GetSaltAsync(day.AddDays(-1), None));
    }

    [Fact]
    public async Task Settings_round_trip_and_survive_a_restart()
    {
        var store = await FreshAsync(Schema());
        Assert.Null(await store.GetSettingAsync("k", None));
        await store.SetSettingAsync("k", "one", None);
        await store.SetSettingAsync("k", "two", None);
        store = await RestartAsync(store);
        Assert.Equal("two", await store.GetSettingAsync("k", None));
    }
}

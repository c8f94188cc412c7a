using System.Text.Json.Nodes;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;
using Tally.Core.Query;
using Tally.Core.Store;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>
/// What every store must do, engine-neutral: nothing here knows about tables, files or SQL. Each
/// engine subclasses this with a factory that opens a fresh, empty store, and one that opens the
/// same store again (a restart), and inherits every test.
/// </summary>
public abstract class EventStoreContract : IAsyncLifetime
{
    /// <summary>Opens a new, empty store (its own temporary folder, database or cluster schema).</summary>
    protected abstract Task<IEventStore> OpenFreshAsync();

    /// <summary>Opens again the store that <see cref="OpenFreshAsync"/> last opened: after that instance was disposed (a restart), or beside it (a second process).</summary>
    protected abstract Task<IEventStore> ReopenAsync();

    /// <summary>Removes whatever the factory created; runs after every store is disposed.</summary>
    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    private static readonly CancellationToken None = CancellationToken.None;
    private readonly List<IEventStore> _open = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _open) await store.DisposeAsync();
        _open.Clear();
        await CleanUpAsync();
    }

    private async Task<IEventStore> FreshAsync(TallySchema? schema)
    {
        var store = await OpenFreshAsync();
        _open.Add(store);
        if (schema is not null) await store.SetupAsync(schema, None);
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

    /// <summary>The store <see cref="OpenFreshAsync"/> last opened, opened a second time beside the first, as another process would.</summary>
    private async Task<IEventStore> BesideAsync()
    {
        var beside = await ReopenAsync();
        _open.Add(beside);
        return beside;
    }

    // ---- setup and check ---------------------------------------------------------------------

    [Fact]
    public async Task Check_before_setup_names_every_configured_type()
    {
        var schema = Schema();
        var store = await FreshAsync(schema: null);
        var differences = await store.CheckAsync(schema, None);
        foreach (var type in schema.EventTypes.Keys)
            Assert.Contains(differences, d => d.Contains($"'{type}'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Setup_then_check_is_empty_and_setup_again_changes_nothing()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        Assert.Empty(await store.CheckAsync(schema, None));

        await store.AppendAsync([Probe(schema, "e1", Now)], None);
        await store.SetupAsync(schema, None);
        Assert.Empty(await store.CheckAsync(schema, None));
        Assert.Single(await store.ScanAllAsync(schema.EventTypes["probe"]));
    }

    [Fact]
    public async Task Check_reports_a_configured_type_that_was_never_set_up()
    {
        var store = await FreshAsync(Schema());
        var later = Schema(change: o => o.EventTypes.Add(new EventTypeOptions { Name = "later", Fields = new() { ["item_id"] = new() } }));
        var line = Assert.Single(await store.CheckAsync(later, None));
        AssertReadable(line, "'later'");
    }

    [Fact]
    public async Task Check_reports_an_added_field()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now)], None);
        var added = Schema(change: o => o.ProbeOptions().Fields["extra_field"] = new FieldOptions());
        var differences = await store.CheckAsync(added, None);
        Assert.NotEmpty(differences);
        Assert.All(differences, d => AssertReadable(d, "'extra_field'"));
    }

    [Fact]
    public async Task Check_reports_a_changed_field_type_with_both_types()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now, n: 1)], None);
        var retyped = Schema(change: o => o.ProbeOptions().Fields["n"] = new FieldOptions { Type = "string" });
        var line = Assert.Single(await store.CheckAsync(retyped, None));
        AssertReadable(line, "'n'", "integer", "string");
    }

    [Fact]
    public async Task Check_reports_a_changed_partition_granularity()
    {
        var store = await FreshAsync(Schema("month"));
        var line = Assert.Single(await store.CheckAsync(Schema("day"), None));
        AssertReadable(line, "'probe'", "month", "day");
    }

    [Fact]
    public async Task Check_reports_a_removed_type_and_setup_never_drops_its_events()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now)], None);
        var without = Schema(change: o => o.EventTypes.Remove(o.ProbeOptions()));

        var line = Assert.Single(await store.CheckAsync(without, None));
        AssertReadable(line, "'probe'");

        await store.SetupAsync(without, None);
        await store.SetupAsync(schema, None);
        Assert.Equal(["e1"], (await store.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id));
    }

    private static void AssertReadable(string line, params string[] mentions)
    {
        Assert.False(string.IsNullOrWhiteSpace(line));
        Assert.DoesNotContain('\n', line);
        foreach (var mention in mentions) Assert.Contains(mention, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Setup_is_additive_old_rows_stay_and_the_new_field_is_writable_in_old_and_new_periods()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "old", Now.AddHours(-1), n: 7)], None);

        var wider = Schema(change: o => o.ProbeOptions().Fields["note"] = new FieldOptions());
        await store.SetupAsync(wider, None);
        Assert.Empty(await store.CheckAsync(wider, None));

        TallyEvent WithNote(string id, DateTime at)
        {
            var type = wider.EventTypes["probe"];
            var values = new object?[type.Fields.Count];
            values[type.OrdinalOf("item_id")] = "b";
            values[type.OrdinalOf("note")] = $"note of {id}";
            return new TallyEvent(type, id, at, values);
        }
        // The same month as the old row (an existing partition) and a month with no partition yet.
        Assert.Equal(new[] { true, true }, await store.AppendAsync([WithNote("same", Now), WithNote("next", Now.AddMonths(1))], None));

        store = await RestartAsync(store);
        var stored = (await store.ScanAllAsync(wider.EventTypes["probe"])).ToDictionary(e => e.Id);
        Assert.Equal(3, stored.Count);
        Assert.Equal(7L, stored["old"]["n"]);
        Assert.Null(stored["old"]["note"]);
        Assert.Equal("note of same", stored["same"]["note"]);
        Assert.Equal("note of next", stored["next"]["note"]);
    }

    [Fact]
    public async Task Setup_refuses_to_change_a_stored_field_type_and_keeps_the_data()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now, n: 5)], None);
        var retyped = Schema(change: o => o.ProbeOptions().Fields["n"] = new FieldOptions { Type = "string" });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.SetupAsync(retyped, None));
        Assert.Contains("n", error.Message, StringComparison.Ordinal);
        Assert.Empty(await store.CheckAsync(schema, None));
        Assert.Equal(5L, Assert.Single(await store.ScanAllAsync(schema.EventTypes["probe"]))["n"]);
    }

    // ---- appending -----------------------------------------------------------------------------

    [Fact]
    public async Task Every_field_type_null_envelope_and_extra_round_trip_across_a_restart()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var at = new DateTime(2026, 3, 14, 10, 0, 0, 123, DateTimeKind.Utc);
        var events = new List<TallyEvent>
        {
            Probe(schema, "max", at, item: "ünï \"quoted\" 'x' ✓", n: long.MaxValue, x: 2.5, flag: true, robot: true,
                visitor: long.MinValue, session: -1, extra: """{"colour":"red","tags":[1,2],"nested":{"a":null}}"""),
            Probe(schema, "min", at.AddMilliseconds(1), item: "b", n: long.MinValue, x: -1e-300, flag: false, visitor: long.MaxValue, session: 0),
            Probe(schema, "nulls", at.AddMilliseconds(2), item: null),
        };
        Assert.Equal(new[] { true, true, true }, await store.AppendAsync(events, None));

        store = await RestartAsync(store);
        var stored = (await store.ScanAllAsync(probe)).ToDictionary(e => e.Id);
        Assert.Equal(3, stored.Count);
        foreach (var sent in events)
        {
            var got = stored[sent.Id];
            Assert.Same(probe, got.Type);
            Assert.Equal(sent.Timestamp, got.Timestamp);
            Assert.Equal((sent.IsRobot, sent.VisitorId, sent.SessionId), (got.IsRobot, got.VisitorId, got.SessionId));
            foreach (var field in probe.Fields) Assert.Equal(sent.Values[field.Ordinal], got.Values[field.Ordinal]);
        }
        Assert.IsType<long>(stored["max"]["n"]);
        Assert.IsType<double>(stored["max"]["x"]);
        Assert.IsType<bool>(stored["min"]["flag"]);

        var page = await store.QueryEventsAsync(new RawEventQuery(at, at.AddSeconds(1), [probe], [], 1, 10, false), None);
        Assert.Equal(["max", "min", "nulls"], page.Events.Select(e => e.Id));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(events[0].Extra!), JsonNode.Parse(page.Events[0].Extra!)));
        Assert.Null(page.Events[1].Extra);
        Assert.Equal(long.MaxValue, page.Events[0]["n"]);
        Assert.False(Assert.IsType<bool>(page.Events[1]["flag"]));
    }

    [Fact]
    public async Task Extra_from_the_parser_is_kept_as_sent()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var events = Parse(schema, """
            {"type":"probe","id":"full","timestamp":"2026-03-14T10:00:00.123Z","item_id":"a","n":-42,"x":2.5,"flag":true,"colour":"red","tags":[1,2]}
            {"type":"probe","id":"sparse","timestamp":"2026-03-14T11:00:00Z","item_id":"b"}
            """);
        Assert.Equal(new[] { true, true }, await store.AppendAsync(events, None));

        var page = await store.QueryEventsAsync(new RawEventQuery(Now.AddDays(-2), Now, [schema.EventTypes["probe"]], [], 1, 10, false), None);
        var full = page.Events.Single(e => e.Id == "full");
        Assert.Equal(("a", -42L, 2.5, true), (full["item_id"], full["n"], full["x"], full["flag"]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"colour":"red","tags":[1,2]}"""), JsonNode.Parse(full.Extra!)));
        var sparse = page.Events.Single(e => e.Id == "sparse");
        Assert.Equal([null, null, null, null], new[] { sparse["n"], sparse["x"], sparse["flag"], sparse.Extra });
    }

    [Fact]
    public async Task An_empty_append_stores_nothing()
    {
        var store = await FreshAsync(Schema());
        Assert.Empty(await store.AppendAsync([], None));
        Assert.Empty(await store.GetDirtyDaysAsync(None));
    }

    [Fact]
    public async Task An_id_is_stored_once_within_a_batch_across_calls_and_across_a_restart()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        Assert.Equal(new[] { true, true, false }, await store.AppendAsync([Probe(schema, "e1", Now, n: 1), Probe(schema, "e2", Now), Probe(schema, "e1", Now, n: 2)], None));
        // A repeat with another timestamp (another partition) is still the same event.
        Assert.Equal(new[] { false, true }, await store.AppendAsync([Probe(schema, "e1", Now.AddDays(-40), n: 3), Probe(schema, "e3", Now)], None));

        store = await RestartAsync(store);
        Assert.Equal(new[] { false, false, true }, await store.AppendAsync([Probe(schema, "e2", Now), Probe(schema, "e3", Now.AddYears(-1)), Probe(schema, "e4", Now)], None));

        var stored = await store.ScanAllAsync(schema.EventTypes["probe"]);
        Assert.Equal(["e1", "e2", "e3", "e4"], stored.Select(e => e.Id).Order());
        Assert.Equal(1L, stored.Single(e => e.Id == "e1")["n"]); // the first one sent wins
    }

    [Fact]
    public async Task Concurrent_appends_of_the_same_ids_store_each_once()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(() =>
            store.AppendAsync(Enumerable.Range(0, 100).Select(i => Probe(schema, $"id{(i + w * 13) % 100}", Now.AddMinutes(-i), n: w)).ToList(), None)));
        var results = await Task.WhenAll(writers);

        Assert.Equal(100, results.Sum(r => r.Count(stored => stored)));
        var ids = (await store.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id).ToList();
        Assert.Equal(100, ids.Count);
        Assert.Equal(100, ids.Distinct().Count());
    }

    // ---- writes that commit as one (a log file) ------------------------------------------------

    [Fact]
    public async Task A_transaction_of_many_batches_is_invisible_until_committed_then_stored_whole()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        Assert.Equal(new[] { true }, await store.AppendAsync([Probe(schema, "before", Now, item: "first")], None));
        await using (var append = await store.BeginAppendAsync(None))
        {
            await append.AppendAsync([Probe(schema, "f1", Now, item: "first"), Probe(schema, "f2", Now.AddDays(-40)), Probe(schema, "f2", Now.AddDays(-40), item: "second")], None);
            // Repeats in later batches, of this transaction's ids and of one stored before it, are recognised before anything is committed.
            await append.AppendAsync([Probe(schema, "f1", Now.AddDays(-1), item: "second"), Probe(schema, "f3", Now.AddYears(-2))], None);
            await append.AppendAsync([Probe(schema, "before", Now.AddDays(-3), item: "second")], None);
            Assert.Equal(["before"], (await store.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id));
            Assert.Equal(new AppendCounts(Stored: 3, Duplicates: 3), await append.CommitAsync(None));
        }
        var stored = await store.ScanAllAsync(schema.EventTypes["probe"]);
        Assert.Equal(["before", "f1", "f2", "f3"], stored.Select(e => e.Id).Order());
        // The first event sent with an id is the one kept.
        Assert.DoesNotContain(stored, e => e["item_id"] as string == "second");
        Assert.Equal(Now, stored.Single(e => e.Id == "f1").Timestamp);
        // Only the days of stored events wait for aggregation: not the day of a repeat that lost.
        Assert.Equal(3, (await store.GetDirtyDaysAsync(None)).Count);
        Assert.Equal(new[] { false, true }, await store.AppendAsync([Probe(schema, "f3", Now), Probe(schema, "f4", Now)], None));
    }

    [Fact]
    public async Task A_transaction_disposed_without_commit_leaves_nothing_and_other_writers_go_on()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var waiting = Task.CompletedTask;
        await using (var append = await store.BeginAppendAsync(None))
        {
            await append.AppendAsync([Probe(schema, "r1", Now), Probe(schema, "r2", Now.AddYears(-3))], None);
            var salt = await append.GetSaltAsync(Today.AddDays(-500), None);
            Assert.Equal(32, salt.Length);
            // Another writer waits for the transaction instead of interleaving with it.
            waiting = store.AppendAsync([Probe(schema, "w1", Now)], None);
            await Task.Delay(100);
            Assert.False(waiting.IsCompleted);
        }
        await waiting;
        Assert.Equal(["w1"], (await store.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id));
        Assert.Equal([$"probe {Today}"], (await store.GetDirtyDaysAsync(None)).Select(d => $"{d.EventType} {d.Day}"));

        // Ids of the rolled-back events are free again, and so is the partition it had created.
        Assert.Equal(new[] { true, true }, await store.AppendAsync([Probe(schema, "r1", Now), Probe(schema, "r2", Now.AddYears(-3))], None));
        store = await RestartAsync(store);
        Assert.Equal(["r1", "r2", "w1"], (await store.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id).Order());
    }

    [Fact]
    public async Task Salts_made_inside_a_committed_transaction_are_the_days_salts()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        byte[] salt;
        await using (var append = await store.BeginAppendAsync(None))
        {
            salt = await append.GetSaltAsync(Today.AddDays(-2), None);
            Assert.Equal(salt, await append.GetSaltAsync(Today.AddDays(-2), None));
            await append.CommitAsync(None);
        }
        Assert.Equal(salt, await store.GetSaltAsync(Today.AddDays(-2), None));
        store = await RestartAsync(store);
        Assert.Equal(salt, await store.GetSaltAsync(Today.AddDays(-2), None));
    }

    // ---- partitions and scanning ---------------------------------------------------------------

    [Theory]
    [InlineData("hour")]
    [InlineData("day")]
    [InlineData("month")]
    [InlineData("year")]
    public async Task Events_land_in_one_partition_per_period_of_the_types_granularity(string partition)
    {
        var schema = Schema(partition);
        var probe = schema.EventTypes["probe"];
        var store = await FreshAsync(schema);
        var p0 = probe.Partition.PeriodStart(Now);
        var p1 = probe.Partition.NextPeriod(p0);
        var p2 = probe.Partition.NextPeriod(p1);
        var p3 = probe.Partition.NextPeriod(p2);
        DateTime Middle(DateTime start, DateTime end) => start + (end - start) / 2;
        var times = new Dictionary<string, DateTime>
        {
            ["p0-start"] = p0, ["p0-mid"] = Middle(p0, p1), ["p0-last"] = p1.AddMilliseconds(-1),
            ["p1-start"] = p1, ["p1-mid"] = Middle(p1, p2),
            ["p2-start"] = p2, ["p2-last"] = p3.AddMilliseconds(-1),
        };
        await store.AppendAsync(times.Select(t => Probe(schema, t.Key, t.Value)).ToList(), None);

        // A cutoff inside p1 may drop p0 only: partitions are whole periods, not single events.
        var first = Assert.Single(await store.DropPartitionsBeforeAsync(probe, Middle(p1, p2), None));
        Assert.Equal(["p1-mid", "p1-start", "p2-last", "p2-start"], (await store.ScanAllAsync(probe)).Select(e => e.Id).Order());

        var second = Assert.Single(await store.DropPartitionsBeforeAsync(probe, p2, None));
        Assert.NotEqual(first, second);
        Assert.Equal(["p2-last", "p2-start"], (await store.ScanAllAsync(probe)).Select(e => e.Id).Order());
        Assert.Empty(await store.DropPartitionsBeforeAsync(probe, p3.AddMilliseconds(-1), None));
    }

    [Theory]
    [InlineData("hour")]
    [InlineData("day")]
    [InlineData("month")]
    [InlineData("year")]
    public async Task Scan_returns_exactly_the_events_in_the_half_open_range(string partition)
    {
        var schema = Schema(partition);
        var probe = schema.EventTypes["probe"];
        var store = await FreshAsync(schema);
        // Every 30 minutes over 3 days (several partitions for hour and day), plus a year before and after.
        var times = Enumerable.Range(0, 144).Select(i => Now.Date.AddDays(-1).AddMinutes(30 * i))
            .Append(Now.AddYears(-1)).Append(Now.AddYears(1)).ToList();
        await store.AppendAsync(times.Select((t, i) => Probe(schema, $"e{i}", t, n: i)).ToList(), None);

        foreach (var (from, to) in new[]
        {
            (Now.Date.AddHours(-3), Now.Date.AddHours(5)),          // across a day boundary, on exact event times
            (Now.Date.AddHours(1).AddMinutes(10), Now.Date.AddHours(1).AddMinutes(40)),
            (Now.Date.AddDays(-1), Now.Date.AddDays(2)),            // everything in the three days
            (Now, Now),                                             // empty
        })
        {
            var scanned = await store.ScanAllAsync(probe, from, to);
            Assert.Equal(times.Where(t => t >= from && t < to).Order(), scanned.Select(e => e.Timestamp).Order());
            Assert.All(scanned, e => Assert.Equal((long)times.IndexOf(e.Timestamp), e["n"]));
        }
    }

    [Fact]
    public async Task Scan_fills_only_the_requested_fields_and_the_envelope()
    {
        var schema = Schema();
        var probe = schema.EventTypes["probe"];
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now, item: "a", n: 1, x: 1.5, flag: true, robot: true, visitor: 11, session: 22)], None);

        var e = Assert.Single(await store.ScanAllAsync(probe, fields: [probe.Field("x")!]));
        Assert.Equal(("e1", Now, true, 11L, 22L), (e.Id, e.Timestamp, e.IsRobot, e.VisitorId, e.SessionId));
        Assert.Equal(1.5, e["x"]);
        Assert.Equal([null, null, null], new[] { e["item_id"], e["n"], e["flag"] });
    }

    [Fact]
    public async Task Scan_reads_only_its_own_type()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "p", Now), .. Parse(schema, """{"type":"record-view","id":"v","item_id":"a","timestamp":"2026-03-15T12:00:00Z"}""")], None);
        Assert.Equal(["p"], (await store.ScanAllAsync(schema.EventTypes["probe"])).Select(e => e.Id));
        Assert.Equal(["v"], (await store.ScanAllAsync(schema.EventTypes["record-view"])).Select(e => e.Id));
        Assert.Empty(await store.ScanAllAsync(schema.EventTypes["file-download"]));
    }

    // ---- raw event queries ---------------------------------------------------------------------

    [Fact]
    public async Task Raw_events_page_newest_or_oldest_first_with_totals()
    {
        var schema = Schema("hour");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var views = schema.EventTypes["record-view"];
        // One a minute over 25 minutes, across an hour boundary (two partitions of probe), plus a record view.
        await store.AppendAsync(Enumerable.Range(0, 25).Select(i => Probe(schema, $"p{i:D2}", Now.AddMinutes(-i))).ToList(), None);
        await store.AppendAsync(Parse(schema, """{"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-15T11:59:30Z"}"""), None);
        RawEventQuery Query(IReadOnlyList<EventType> types, int page, int rows, bool descending) =>
            new(Now.AddHours(-1), Now.AddSeconds(1), types, [], page, rows, descending);

        var newest = await store.QueryEventsAsync(Query([probe, views], 1, 10, true), None);
        Assert.Equal(26, newest.Total);
        Assert.Equal(["p00", "v1", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08"], newest.Events.Select(e => e.Id));
        Assert.Equal("x", newest.Events[1]["item_id"]);

        var all = new List<string>();
        for (var page = 1; page <= 3; page++)
        {
            var oldest = await store.QueryEventsAsync(Query([probe], page, 10, false), None);
            Assert.Equal(25, oldest.Total);
            all.AddRange(oldest.Events.Select(e => e.Id));
        }
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"p{24 - i:D2}"), all);

        var beyond = await store.QueryEventsAsync(Query([probe], 4, 10, false), None);
        Assert.Empty(beyond.Events);
        Assert.Equal(25, beyond.Total);
    }

    [Fact]
    public async Task Raw_events_are_those_in_start_inclusive_end_exclusive()
    {
        var schema = Schema("day");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        await store.AppendAsync([Probe(schema, "before", Now.AddMilliseconds(-1)), Probe(schema, "start", Now), Probe(schema, "end", Now.AddDays(1))], None);
        var page = await store.QueryEventsAsync(new RawEventQuery(Now, Now.AddDays(1), [probe], [], 1, 10, false), None);
        Assert.Equal(1, page.Total);
        Assert.Equal(["start"], page.Events.Select(e => e.Id));
    }

    [Fact]
    public async Task Raw_event_filters_match_values_negate_and_apply_across_types()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var views = schema.EventTypes["record-view"];
        // 20 probes: item x for i % 5 == 0, y for i % 5 == 1, none for i % 5 == 2, z otherwise.
        await store.AppendAsync(Enumerable.Range(0, 20).Select(i => Probe(schema, $"p{i:D2}", Now.AddMinutes(-i),
            item: (i % 5) switch { 0 => "x", 1 => "y", 2 => null, _ => "z" }, n: i, flag: i % 2 == 0)).ToList(), None);
        await store.AppendAsync(Parse(schema, """
            {"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-15T11:30:00Z"}
            {"type":"record-view","id":"v2","item_id":"q","timestamp":"2026-03-15T11:31:00Z"}
            """), None);
        async Task<List<string>> IdsAsync(IReadOnlyList<EventType> types, params FieldFilter[] filters)
        {
            var page = await store.QueryEventsAsync(new RawEventQuery(Now.AddHours(-1), Now.AddSeconds(1), types, filters, 1, 100, true), None);
            Assert.Equal(page.Events.Count, page.Total);
            return page.Events.Select(e => e.Id).Order().ToList();
        }
        List<string> Probes(Func<int, bool> which) => Enumerable.Range(0, 20).Where(which).Select(i => $"p{i:D2}").ToList();

        Assert.Equal([.. Probes(i => i % 5 == 0), "v1"], await IdsAsync([probe, views], new FieldFilter("item_id", ["x"], false)));
        Assert.Equal([.. Probes(i => i % 5 is 0 or 1), "v1"], await IdsAsync([probe, views], new FieldFilter("item_id", ["x", "y"], false)));
        // Negation: none of the values, so events without the field's value are included.
        Assert.Equal([.. Probes(i => i % 5 != 0), "v2"], await IdsAsync([probe, views], new FieldFilter("item_id", ["x"], true)));
        Assert.Equal(Probes(i => i % 5 is 2 or 3 or 4), await IdsAsync([probe], new FieldFilter("item_id", ["x", "y"], true)));
        // Filters combine with AND.
        Assert.Equal(Probes(i => i % 5 == 0 && i >= 10), await IdsAsync([probe], new FieldFilter("item_id", ["x"], false), new FieldFilter("n", ["0", "5"], true)));
        // Only one type has the field: a match excludes the other type, a negation keeps it.
        Assert.Equal(Probes(i => i % 2 == 0), await IdsAsync([probe, views], new FieldFilter("flag", ["true"], false)));
        Assert.Equal([.. Probes(i => i % 2 == 1), "v1", "v2"], await IdsAsync([probe, views], new FieldFilter("flag", ["true"], true)));
        Assert.Equal(["p07", "p13"], await IdsAsync([probe], new FieldFilter("n", ["7", "13"], false)));
        Assert.Equal(["v1", "v2"], await IdsAsync([views]));
    }

    [Fact]
    public async Task Raw_events_filter_by_the_robot_flag()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var views = schema.EventTypes["record-view"];
        await store.AppendAsync(Enumerable.Range(0, 10).Select(i => Probe(schema, $"p{i}", Now.AddMinutes(-i), item: i < 5 ? "x" : "y", robot: i % 3 == 0)).ToList(), None);
        await store.AppendAsync(Parse(schema, """{"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-15T11:30:00Z"}"""), None);
        async Task<List<string>> IdsAsync(bool? robot, params FieldFilter[] filters)
        {
            var query = new RawEventQuery(Now.AddHours(-1), Now.AddSeconds(1), [probe, views], filters, 1, 100, true, robot);
            var page = await store.QueryEventsAsync(query, None);
            Assert.Equal(page.Events.Count, page.Total);
            Assert.Equal(page.Events.Select(e => e.Id), (await store.StreamAllAsync(query)).Select(e => e.Id));
            return page.Events.Select(e => e.Id).Order().ToList();
        }

        Assert.Equal(["p0", "p3", "p6", "p9"], await IdsAsync(true));
        Assert.Equal(["p1", "p2", "p4", "p5", "p7", "p8", "v1"], await IdsAsync(false));
        Assert.Equal(11, (await IdsAsync(null)).Count);
        Assert.Equal(["p0", "p3"], await IdsAsync(true, new FieldFilter("item_id", ["x"], false)));
        Assert.Equal(["p1", "p2", "p4", "v1"], await IdsAsync(false, new FieldFilter("item_id", ["x"], false)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Streamed_raw_events_are_all_pages_one_after_another(bool descending)
    {
        var schema = Schema("hour");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var views = schema.EventTypes["record-view"];
        // Probes three at each instant, every 7 minutes over 2 h 20 min (hour partitions), and views (month partitions)
        // at some of the same instants and between them: ties in time within a type, across types and across batches.
        await store.AppendAsync(Enumerable.Range(0, 60).Select(i => Probe(schema, $"p{i:D2}", Now.AddMinutes(-(i / 3) * 7),
            item: i % 2 == 0 ? "x" : "y", n: i, robot: i % 5 == 0)).ToList(), None);
        await store.AppendAsync(Parse(schema, """
            {"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-15T11:53:00Z"}
            {"type":"record-view","id":"v2","item_id":"y","timestamp":"2026-03-15T11:53:00Z"}
            {"type":"record-view","id":"v3","item_id":"x","timestamp":"2026-03-15T10:30:00Z"}
            {"type":"record-view","id":"v4","item_id":"x","timestamp":"2026-03-15T12:00:00Z"}
            """), None);
        (FieldFilter[] Filters, bool? Robot)[] cases =
        [
            ([], null),
            ([], false),
            ([new FieldFilter("item_id", ["x"], false)], null),
            ([new FieldFilter("item_id", ["x"], true)], true),
            // Only probes have n: views drop out of every batch.
            ([new FieldFilter("n", ["3", "4", "5", "40", "59"], false)], null),
            ([new FieldFilter("item_id", ["nothing"], false)], null),
        ];
        foreach (var (filters, robot) in cases)
        {
            // A window that starts and ends inside partitions.
            var query = new RawEventQuery(Now.AddMinutes(-130), Now.AddMilliseconds(1), [probe, views], filters, 1, 4, descending, robot);
            var (pages, total) = await store.AllPagesAsync(query);
            Assert.Equal(total, pages.Count);
            foreach (var batch in (int[])[1, 3])
                Assert.Equal(pages.Select(e => e.Id), (await store.StreamAllAsync(query with { RowsPerPage = batch })).Select(e => e.Id));
        }
        var everything = await store.StreamAllAsync(new RawEventQuery(Now.AddMinutes(-130), Now.AddMilliseconds(1), [probe, views], [], 1, 3, descending));
        Assert.Equal(64 - 3, everything.Count);
        Assert.Equal(everything.Count, everything.Select(e => e.Id).Distinct().Count());
        Assert.Equal("x", everything.Single(e => e.Id == "v3")["item_id"]);
    }

    // ---- dirty days ----------------------------------------------------------------------------

    [Fact]
    public async Task Appends_mark_each_type_and_day_and_the_marks_survive_a_restart()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now), Probe(schema, "e2", Now.AddDays(-3)), Probe(schema, "e3", Now.Date.AddTicks(-1))], None);
        await store.AppendAsync(Parse(schema, """{"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-15T00:00:00Z"}"""), None);

        string[] expected = [$"probe {Today.AddDays(-3)}", $"probe {Today.AddDays(-1)}", $"probe {Today}", $"record-view {Today}"];
        Assert.Equal(expected, (await store.GetDirtyDaysAsync(None)).Select(d => $"{d.EventType} {d.Day}").Order());
        store = await RestartAsync(store);
        Assert.Equal(expected, (await store.GetDirtyDaysAsync(None)).Select(d => $"{d.EventType} {d.Day}").Order());
    }

    [Fact]
    public async Task Clearing_keeps_a_day_that_received_events_after_its_mark_was_read()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        await store.AppendAsync([Probe(schema, "e1", Now), Probe(schema, "e2", Now.AddDays(-3))], None);
        var read = await store.GetDirtyDaysAsync(None);
        Assert.Equal(2, read.Count);

        await store.AppendAsync([Probe(schema, "late", Now.AddDays(-3))], None);
        await store.ClearDirtyAsync(read, None);
        var left = Assert.Single(await store.GetDirtyDaysAsync(None));
        Assert.Equal(("probe", Today.AddDays(-3)), (left.EventType, left.Day));
        Assert.True(left.Version > read.Single(d => d.Day == left.Day).Version);

        await store.ClearDirtyAsync(read, None); // stale marks again: still kept
        Assert.Single(await store.GetDirtyDaysAsync(None));
        await store.ClearDirtyAsync([left], None);
        Assert.Empty(await store.GetDirtyDaysAsync(None));
    }

    [Fact]
    public async Task Marking_a_range_marks_its_days_with_data_only_for_that_type_and_bumps_existing_marks()
    {
        var schema = Schema("day");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        await store.AppendAsync([.. Enumerable.Range(0, 6).Select(d => Probe(schema, $"e{d}", Now.AddDays(-d)))], None);
        await store.AppendAsync(Parse(schema, """{"type":"record-view","id":"v1","item_id":"x","timestamp":"2026-03-14T10:00:00Z"}"""), None);
        var appended = await store.GetDirtyDaysAsync(None);
        await store.ClearDirtyAsync(appended, None);
        Assert.Empty(await store.GetDirtyDaysAsync(None));

        await store.MarkDirtyAsync(probe, Today.AddDays(-4), Today.AddDays(-2), None);
        var marked = await store.GetDirtyDaysAsync(None);
        Assert.Equal([Today.AddDays(-4), Today.AddDays(-3), Today.AddDays(-2)], marked.Select(d => d.Day).Order());
        Assert.All(marked, d => Assert.Equal("probe", d.EventType));

        // A run that read the marks, then a restatement marks the same day again: the run must not clear it.
        await store.MarkDirtyAsync(probe, Today.AddDays(-3), Today.AddDays(-3), None);
        await store.ClearDirtyAsync(marked, None);
        Assert.Equal([Today.AddDays(-3)], (await store.GetDirtyDaysAsync(None)).Select(d => d.Day));
    }

    // ---- metrics -------------------------------------------------------------------------------

    /// <summary>A row of file-download-agg per item (grouping 1), or of all items together (grouping 0) when <paramref name="grouping"/> says.</summary>
    private static MetricRow Row(DateOnly period, string? item, long count, double size, long? sized = null, int grouping = 1)
    {
        var row = new MetricRow(period, [item], 1) { Count = count, UniqueVisitors = count - 1, UniqueSessions = count + 1, Grouping = grouping };
        row.Sums[0] = size;
        row.SumCounts[0] = sized ?? count;
        return row;
    }

    [Fact]
    public async Task Replacing_a_periods_metrics_replaces_only_that_period()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var aggregation = schema.Aggregations["file-download-agg"];
        var day = new DateOnly(2026, 3, 1);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, [Row(day, "a", 9, 1), Row(day, "b", 9, 1), Row(day, "gone", 1, 1)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day.AddDays(1), [Row(day.AddDays(1), "a", 4, 40)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Month, day, [Row(day, "a", 100, 1000)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, [Row(day, "a", 3, 30), Row(day, "b", 2, 20)], None);

        var daily = await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day, day.AddDays(1), [], true, aggregation.GroupBy), None);
        Assert.Equal([$"{day} a 3", $"{day} b 2", $"{day.AddDays(1)} a 4"],
            daily.Select(r => $"{r.Period} {r.Keys[0]} {r.Count}").Order(StringComparer.Ordinal));
        var month = Assert.Single(await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Month, day, day, [], true, aggregation.GroupBy), None));
        Assert.Equal((day, "a", 100L, 1000.0), (month.Period, month.Keys[0], month.Count, month.Sums[0]));

        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, [], None);
        Assert.Equal([day.AddDays(1)],
            (await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day, day.AddDays(1), [], true, aggregation.GroupBy), None)).Select(r => r.Period));
        store = await RestartAsync(store);
        Assert.Single(await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Month, day, day, [], true, aggregation.GroupBy), None));
    }

    [Fact]
    public async Task Each_grouping_keeps_its_own_rows_and_a_query_reads_the_one_it_groups_and_filters_by()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var aggregation = schema.Aggregations["file-download-agg"];
        var day = new DateOnly(2026, 3, 1);
        // Items a and one without an id, and the day's total over all items, whose key is null too.
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day,
            [Row(day, "a", 3, 30), Row(day, null, 2, 20), Row(day, null, 4, 50, grouping: 0)], None);
        store = await RestartAsync(store);

        var perItem = await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day, day, [], false, aggregation.GroupBy), None);
        Assert.Equal([" 2 1", "a 3 2"], perItem.Select(r => $"{r.Keys[0]} {r.Count} {r.UniqueVisitors}").Order(StringComparer.Ordinal));
        var total = Assert.Single(await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day, day, [], true, []), None));
        Assert.Equal((4L, 3L, 50.0), (total.Count, total.UniqueVisitors, total.Sums[0]));
        var filtered = Assert.Single(await store.ReadMetricsAsync(
            new MetricQuery(aggregation, MetricPeriod.Day, day, day, [new FieldFilter("item_id", ["a"], false)], true, []), None));
        Assert.Equal(3L, filtered.Count);
    }

    [Fact]
    public async Task Two_processes_replacing_the_same_period_at_once_leave_exactly_one_copy()
    {
        // Several workers may aggregate the same day at the same moment; the last replace must win whole.
        var schema = Schema();
        var first = await FreshAsync(schema);
        var second = await BesideAsync();
        var aggregation = schema.Aggregations["file-download-agg"];
        var day = new DateOnly(2026, 3, 1);
        var rows = new[] { Row(day, "a", 3, 30), Row(day, "b", 2, 20) };
        var counter = new CounterRow(day, ["a", null, null, "Controlled", "Regular", null, "DE", null]) { [CounterMetric.TotalItemRequests] = 5 };
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            var store = i % 2 == 0 ? first : second;
            await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, rows, None);
            await store.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, [counter], None);
        })));

        var read = await first.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, day, day, [], true, aggregation.GroupBy), None);
        Assert.Equal(["a 3", "b 2"], read.Select(r => $"{r.Keys[0]} {r.Count}").Order(StringComparer.Ordinal));
        var counted = await second.ReadCounterMetricsAsync(new CounterQuery(MetricPeriod.Day, day, day, new Dictionary<CounterDimension, IReadOnlyList<string?>>(), [CounterDimension.ItemId], false), None);
        Assert.Equal(5L, Assert.Single(counted)[CounterMetric.TotalItemRequests]);
    }

    [Fact]
    public async Task Reading_metrics_sums_filters_and_groups_by_period_and_fields()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var aggregation = schema.Aggregations["file-download-agg"];
        var d1 = new DateOnly(2026, 3, 1);
        var d2 = d1.AddDays(1);
        var d3 = d1.AddDays(2);
        // Per item, and each day's total over all items (grouping 0).
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, d1,
            [Row(d1, "a", 3, 30), Row(d1, "b", 2, 20), Row(d1, null, 5, 0, 0), Row(d1, null, 10, 50, 5, grouping: 0)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, d2, [Row(d2, "a", 4, 40, 2), Row(d2, null, 4, 40, 2, grouping: 0)], None);
        await store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, d3, [Row(d3, "a", 1000, 1)], None);
        Task<IReadOnlyList<MetricRow>> ReadAsync(DateOnly from, DateOnly to, bool byPeriod, IReadOnlyList<FieldDefinition> groupBy, params FieldFilter[] filters) =>
            store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Day, from, to, filters, byPeriod, groupBy), None);

        // By item over d1..d2 (inclusive; d3 left out): every metric summed.
        var byItem = await ReadAsync(d1, d2, false, aggregation.GroupBy);
        Assert.Equal(3, byItem.Count);
        var a = byItem.Single(r => r.Keys[0] == "a");
        Assert.Equal((7L, 5L, 9L, 70.0, 5L), (a.Count, a.UniqueVisitors, a.UniqueSessions, a.Sums[0], a.SumCounts[0]));
        Assert.Equal(70.0 / 5, a.Value(new MetricSelector(MetricKind.Avg, 0)));
        Assert.Equal(2L, byItem.Single(r => r.Keys[0] == "b").Count);
        Assert.Equal(5L, byItem.Single(r => r.Keys[0] is null).Count);

        // One total row, no keys, from the totals' grouping.
        var total = Assert.Single(await ReadAsync(d1, d2, false, []));
        Assert.Empty(total.Keys);
        Assert.Equal((14L, 12L, 90.0), (total.Count, total.UniqueVisitors, total.Sums[0]));

        // By period, filtered and negated (a row without the value is "none of them").
        var byDay = await ReadAsync(d1, d3, true, [], new FieldFilter("item_id", ["a"], true));
        Assert.Equal([(d1, 7L)], byDay.Select(r => (r.Period, r.Count)));
        var onlyAB = await ReadAsync(d1, d3, true, aggregation.GroupBy, new FieldFilter("item_id", ["a", "b"], false));
        Assert.Equal([$"{d1} a 3", $"{d1} b 2", $"{d2} a 4", $"{d3} a 1000"], onlyAB.Select(r => $"{r.Period} {r.Keys[0]} {r.Count}").Order(StringComparer.Ordinal));

        Assert.Empty(await ReadAsync(d1.AddDays(-10), d1.AddDays(-1), true, []));
        Assert.Empty(await ReadAsync(d1, d3, false, [], new FieldFilter("item_id", ["nothing"], false)));
        Assert.Empty(await store.ReadMetricsAsync(new MetricQuery(aggregation, MetricPeriod.Month, d1, d3, [], true, []), None));
    }

    // ---- retention -----------------------------------------------------------------------------

    [Fact]
    public async Task Dropping_takes_only_whole_partitions_that_end_by_the_cutoff_of_that_type()
    {
        var schema = Schema("day");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var views = schema.EventTypes["record-view"]; // monthly partitions
        await store.AppendAsync([
            Probe(schema, "old", Now.AddDays(-3)),
            Probe(schema, "edge", Now.Date.AddMilliseconds(-1)),
            Probe(schema, "cut-day", Now.Date),
            Probe(schema, "new", Now)], None);
        await store.AppendAsync(Parse(schema, """{"type":"record-view","id":"v-old","item_id":"x","timestamp":"2026-02-01T00:00:00Z"}"""), None);

        // The cutoff lies inside today's partition: yesterday's ends on it, today's does not.
        var dropped = await store.DropPartitionsBeforeAsync(probe, Now.Date.AddHours(6), None);
        Assert.Equal(2, dropped.Count);
        Assert.Equal(2, dropped.Distinct().Count());
        Assert.Equal(["cut-day", "new"], (await store.ScanAllAsync(probe)).Select(e => e.Id).Order());
        Assert.Equal(["v-old"], (await store.ScanAllAsync(views)).Select(e => e.Id));
        Assert.Empty(await store.DropPartitionsBeforeAsync(probe, Now.Date.AddHours(6), None));

        store = await RestartAsync(store);
        Assert.Empty(await store.DropPartitionsBeforeAsync(probe, Now.Date.AddHours(6), None));
        Assert.Equal(["cut-day", "new"], (await store.ScanAllAsync(probe)).Select(e => e.Id).Order());
        // The monthly view partition of February ends on March 1st.
        Assert.Single(await store.DropPartitionsBeforeAsync(views, new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc), None));
        Assert.Empty(await store.ScanAllAsync(views));
    }

    [Fact]
    public async Task An_id_from_a_dropped_partition_can_be_stored_again()
    {
        var schema = Schema("day");
        var store = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        await store.AppendAsync([Probe(schema, "old", Now.AddDays(-3), n: 1), Probe(schema, "kept", Now)], None);
        await store.DropPartitionsBeforeAsync(probe, Now.Date, None);

        Assert.Equal(new[] { true, false }, await store.AppendAsync([Probe(schema, "old", Now.AddDays(-3), n: 2), Probe(schema, "kept", Now)], None));
        store = await RestartAsync(store);
        Assert.Equal(new[] { false }, await store.AppendAsync([Probe(schema, "old", Now.AddDays(-3))], None));
        var again = (await store.ScanAllAsync(probe)).Single(e => e.Id == "old");
        Assert.Equal(2L, again["n"]);
    }

    // ---- salts and settings ----------------------------------------------------------------------

    [Fact]
    public async Task A_days_salt_is_stable_across_calls_and_restarts_and_days_differ()
    {
        var store = await FreshAsync(Schema());
        var salts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => store.GetSaltAsync(Today, None).AsTask()));
        var salt = salts[0];
        Assert.True(salt.Length >= 16);
        Assert.All(salts, s => Assert.Equal(salt, s));
        var yesterday = await store.GetSaltAsync(Today.AddDays(-1), None);
        Assert.NotEqual(salt, yesterday);

        store = await RestartAsync(store);
        Assert.Equal(salt, await store.GetSaltAsync(Today, None));
        Assert.Equal(yesterday, await store.GetSaltAsync(Today.AddDays(-1), None));
    }

    [Fact]
    public async Task Salts_asked_for_many_days_at_once_are_each_days_salt_and_stay_so()
    {
        var store = await FreshAsync(Schema());
        var known = await store.GetSaltAsync(Today.AddDays(-3), None);
        var days = Enumerable.Range(0, 40).Select(i => Today.AddDays(-i)).ToList();

        var salts = await ((ISaltSource)store).GetSaltsAsync(days, None);

        Assert.Equal(days.Order(), salts.Keys.Order());
        Assert.Equal(known, salts[Today.AddDays(-3)]);
        Assert.Equal(days.Count, salts.Values.Select(Convert.ToHexString).Distinct().Count());
        Assert.All(days, day => Assert.True(salts[day].Length >= 16));
        foreach (var day in days) Assert.Equal(salts[day], await store.GetSaltAsync(day, None));
        store = await RestartAsync(store);
        Assert.Equal(salts, await ((ISaltSource)store).GetSaltsAsync(days, None));
    }

    [Fact]
    public async Task A_salt_lives_from_its_last_use_however_old_its_day_and_every_salt_goes_in_the_end()
    {
        var store = await FreshAsync(Schema());
        // Uses are recorded on the real date, which the purge's cutoff is counted back from.
        var now = SaltCache.Today;
        var longAgo = now.AddDays(-400);
        var old = await store.GetSaltAsync(longAgo, None);
        var today = await store.GetSaltAsync(now, None);

        // Used today, so a purge of salts unused for a week keeps even a day from last year.
        await store.PurgeSaltsUnusedSinceAsync(now.AddDays(-7), None);
        store = await RestartAsync(store);
        // A log import asks inside its transaction: that is a use too.
        await using (var append = await store.BeginAppendAsync(None))
        {
            Assert.Equal(old, await append.GetSaltAsync(longAgo, None));
            await append.CommitAsync(None);
        }
        await store.PurgeSaltsUnusedSinceAsync(now, None);
        Assert.Equal(old, await store.GetSaltAsync(longAgo, None));
        Assert.Equal(today, await store.GetSaltAsync(now, None));

        // Days later, nothing having used them since, they go for good: after a restart too.
        await store.PurgeSaltsUnusedSinceAsync(now.AddDays(1), None);
        var remade = await store.GetSaltAsync(longAgo, None);
        Assert.NotEqual(old, remade);
        Assert.NotEqual(today, await store.GetSaltAsync(now, None));
        store = await RestartAsync(store);
        Assert.Equal(remade, await store.GetSaltAsync(longAgo, None));
    }

    [Fact]
    public async Task Settings_round_trip_overwrite_and_survive_a_restart()
    {
        var store = await FreshAsync(Schema());
        Assert.Null(await store.GetSettingAsync("k", None));
        await store.SetSettingAsync("k", "one", None);
        await store.SetSettingAsync("other", "ünï 'quoted'", None);
        Assert.Equal("one", await store.GetSettingAsync("k", None));
        await store.SetSettingAsync("k", "two", None);

        store = await RestartAsync(store);
        Assert.Equal("two", await store.GetSettingAsync("k", None));
        Assert.Equal("ünï 'quoted'", await store.GetSettingAsync("other", None));
        Assert.Null(await store.GetSettingAsync("K", None));

        await store.RemoveSettingAsync("k", None);
        await store.RemoveSettingAsync("never-set", None);
        store = await RestartAsync(store);
        Assert.Null(await store.GetSettingAsync("k", None));
        Assert.Equal("ünï 'quoted'", await store.GetSettingAsync("other", None));
    }

    // ---- saved queries -----------------------------------------------------------------------

    [Fact]
    public async Task A_saved_query_is_written_only_on_the_version_last_read_and_survives_a_restart()
    {
        var store = await FreshAsync(Schema());
        Assert.Null(await store.GetSavedQueryAsync("q", None));
        Assert.False(await store.PutSavedQueryAsync("q", "stale", 1, None));
        Assert.True(await store.PutSavedQueryAsync("q", "one 'ünï'", 0, None));
        Assert.False(await store.PutSavedQueryAsync("q", "again", 0, None));
        var first = Assert.IsType<StoredQuery>(await store.GetSavedQueryAsync("q", None));
        Assert.Equal(("q", "one 'ünï'"), (first.Name, first.Definition));
        Assert.NotEqual(0, first.Version);

        Assert.True(await store.PutSavedQueryAsync("q", "two", first.Version, None));
        Assert.False(await store.PutSavedQueryAsync("q", "lost", first.Version, None));
        var second = Assert.IsType<StoredQuery>(await store.GetSavedQueryAsync("q", None));
        Assert.Equal("two", second.Definition);
        Assert.NotEqual(first.Version, second.Version);
        Assert.True(await store.PutSavedQueryAsync("b", "other", 0, None));

        store = await RestartAsync(store);
        Assert.Equal([("b", "other"), ("q", "two")], (await store.ListSavedQueriesAsync(None)).Select(q => (q.Name, q.Definition)));
        Assert.Equal(second, await store.GetSavedQueryAsync("q", None));
        Assert.Null(await store.GetSavedQueryAsync("Q", None));
    }

    [Fact]
    public async Task A_saved_query_is_deleted_only_on_the_version_last_read_and_its_name_can_be_saved_again()
    {
        var store = await FreshAsync(Schema());
        Assert.False(await store.DeleteSavedQueryAsync("q", 0, None));
        await store.PutSavedQueryAsync("q", "one", 0, None);
        var first = (await store.GetSavedQueryAsync("q", None))!;
        await store.PutSavedQueryAsync("q", "two", first.Version, None);
        Assert.False(await store.DeleteSavedQueryAsync("q", first.Version, None));
        Assert.Equal("two", (await store.GetSavedQueryAsync("q", None))!.Definition);

        Assert.True(await store.DeleteSavedQueryAsync("q", (await store.GetSavedQueryAsync("q", None))!.Version, None));
        Assert.Null(await store.GetSavedQueryAsync("q", None));
        Assert.Empty(await store.ListSavedQueriesAsync(None));
        Assert.False(await store.DeleteSavedQueryAsync("q", 0, None));

        Assert.True(await store.PutSavedQueryAsync("q", "three", 0, None));
        store = await RestartAsync(store);
        Assert.Equal("three", Assert.Single(await store.ListSavedQueriesAsync(None)).Definition);
    }

    [Fact]
    public async Task Concurrent_puts_of_different_names_from_two_processes_are_all_kept()
    {
        var store = await FreshAsync(Schema());
        var beside = await BesideAsync();
        var names = Enumerable.Range(0, 40).Select(i => $"q{i:D2}").ToList();
        var results = await Task.WhenAll(names.Select((name, i) => Task.Run(() => (i % 2 == 0 ? store : beside).PutSavedQueryAsync(name, "definition of " + name, 0, None))));
        Assert.All(results, Assert.True);
        foreach (var reader in new[] { store, beside })
            Assert.Equal(names.Select(n => (n, "definition of " + n)), (await reader.ListSavedQueriesAsync(None)).Select(q => (q.Name, q.Definition)));
    }

    [Fact]
    public async Task Of_concurrent_puts_on_one_version_one_that_succeeded_is_stored_and_the_replaced_version_is_refused_after()
    {
        var store = await FreshAsync(Schema());
        var beside = await BesideAsync();
        await store.PutSavedQueryAsync("q", "start", 0, None);
        var start = (await store.GetSavedQueryAsync("q", None))!;
        var writers = Enumerable.Range(0, 10).Select(i => $"writer {i}").ToList();
        var results = await Task.WhenAll(writers.Select((writer, i) => Task.Run(() => (i % 2 == 0 ? store : beside).PutSavedQueryAsync("q", writer, start.Version, None))));

        var stored = (await beside.GetSavedQueryAsync("q", None))!;
        var succeeded = writers.Where((_, i) => results[i]).ToList();
        Assert.NotEmpty(succeeded);
        Assert.Contains(stored.Definition, succeeded);
        Assert.False(await store.PutSavedQueryAsync("q", "stale", start.Version, None));
        Assert.False(await store.DeleteSavedQueryAsync("q", start.Version, None));
        Assert.Equal(stored, await store.GetSavedQueryAsync("q", None));
    }

    [Fact]
    public async Task Two_catalogs_on_one_store_saving_at_once_keep_every_query_and_agree_on_them()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        var beside = await BesideAsync();
        var catalogs = new[] { new SavedQueryCatalog(schema, store, store, new FixedClock(Now)), new SavedQueryCatalog(schema, beside, beside, new FixedClock(Now)) };
        var names = Enumerable.Range(0, 30).Select(i => $"q{i:D2}").ToList();
        // Half the names are saved by both catalogs at once: both saves succeed, at least one of them as a creation.
        var saves = await Task.WhenAll(names.SelectMany((name, i) => (i % 2 == 0 ? catalogs : [catalogs[i % 4 == 1 ? 0 : 1]]).Select(catalog =>
            Task.Run(() => catalog.SaveAsync(name, new SavedQueryDraft(name, "record-view-histogram", null, [], "line"), None)))));
        Assert.All(names, name => Assert.Contains(saves, s => s.Created && s.Query.Name == name));
        foreach (var catalog in catalogs)
            Assert.Equal(names, (await catalog.ListAsync(None)).Select(q => q.Name));
    }

    [Fact]
    public async Task Saved_queries_a_store_kept_in_one_setting_move_into_their_table_once_keeping_any_already_there()
    {
        var schema = Schema();
        var store = await FreshAsync(schema);
        // As saved queries were kept before they had their own table.
        await store.SetSettingAsync(SavedQueryCatalog.LegacySetting, """
            [{"name":"top","title":"Top items","stat":"record-view-top","view":"totals","params":{"count":["5"]},"chart":"bar","created":"2026-01-02T03:04:05Z","updated":"2026-02-03T04:05:06Z"},
             {"name":"views","title":"Views","stat":"record-view-histogram","view":"timeline","params":{"days":["30"],"interval":["month"]},"chart":"line","created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z"}]
            """, None);
        await store.PutSavedQueryAsync("views", """{"name":"views","title":"Saved since","stat":"record-view-histogram","view":"timeline","params":{},"chart":"area","created":"2026-03-01T00:00:00Z","updated":"2026-03-01T00:00:00Z"}""", 0, None);
        var beside = await BesideAsync();

        var lists = await Task.WhenAll(new[] { store, beside }.Select(s => new SavedQueryCatalog(schema, s, s, new FixedClock(Now)).ListAsync(None)));
        foreach (var list in lists)
        {
            Assert.Equal(["top", "views"], list.Select(q => q.Name));
            var top = list[0];
            Assert.Equal(("Top items", "record-view-top", QueryView.Totals, "bar"), (top.Title, top.Stat, top.View, top.Chart));
            Assert.Equal(["5"], top.Params["count"]);
            Assert.Equal((new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), new DateTime(2026, 2, 3, 4, 5, 6, DateTimeKind.Utc)), (top.Created, top.Updated));
            Assert.Equal("Saved since", list[1].Title);
        }
        Assert.Null(await store.GetSettingAsync(SavedQueryCatalog.LegacySetting, None));
        store = await RestartAsync(store);
        Assert.Equal(2, (await new SavedQueryCatalog(schema, store, store, new FixedClock(Now)).ListAsync(None)).Count);
    }

    // ---- copying a whole store (tally migrate) -------------------------------------------------

    [Fact]
    public async Task Partitions_are_listed_per_type_and_period_with_their_event_counts()
    {
        var schema = Schema(partition: "month");
        var store = await FreshAsync(schema);
        Assert.Empty(await store.ListPartitionsAsync(None));
        var march = new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        await store.AppendAsync(
        [
            Probe(schema, "a", march.AddDays(2)), Probe(schema, "b", march.AddDays(30).AddHours(23)),
            Probe(schema, "c", march.AddMonths(1)), Probe(schema, "d", march.AddMonths(-1).AddDays(27)),
        ], None);

        var partitions = await store.ListPartitionsAsync(None);
        Assert.Equal(
            [
                new RawPartition("probe", march.AddMonths(-1), march, 1),
                new RawPartition("probe", march, march.AddMonths(1), 2),
                new RawPartition("probe", march.AddMonths(1), march.AddMonths(2), 1),
            ],
            partitions);
    }

    [Fact]
    public async Task Export_gives_every_field_the_envelope_and_extra_and_appending_it_elsewhere_round_trips()
    {
        var schema = Schema();
        var source = await FreshAsync(schema);
        var probe = schema.EventTypes["probe"];
        var at = new DateTime(2026, 3, 14, 10, 0, 0, 123, DateTimeKind.Utc);
        var sent = new List<TallyEvent>
        {
            Probe(schema, "full", at, item: "ünï", n: long.MinValue, x: 0.1, flag: false, robot: true, visitor: -7, session: 9,
                extra: """{"colour":"red","tags":[1,2]}"""),
            Probe(schema, "sparse", at.AddDays(20), item: null),
            Probe(schema, "outside", at.AddDays(40)),
        };
        await source.AppendAsync(sent, None);

        var exported = new List<TallyEvent>();
        await foreach (var e in source.ScanAsync(probe, at, at.AddDays(21), probe.Fields, withExtra: true, None)) exported.Add(e);
        Assert.Equal(["full", "sparse"], exported.Select(e => e.Id).Order());

        var target = await FreshAsync(schema);
        Assert.Equal(new[] { true, true }, await target.AppendAsync(exported, None));
        Assert.Equal(new[] { false, false }, await target.AppendAsync(exported, None));
        var page = await target.QueryEventsAsync(new RawEventQuery(at, at.AddDays(21), [probe], [], 1, 10, false), None);
        Assert.Equal(["full", "sparse"], page.Events.Select(e => e.Id));
        for (var i = 0; i < 2; i++)
        {
            var (was, got) = (sent[i], page.Events[i]);
            Assert.Equal((was.Timestamp, was.IsRobot, was.VisitorId, was.SessionId), (got.Timestamp, got.IsRobot, got.VisitorId, got.SessionId));
            Assert.Equal(was.Values, got.Values);
        }
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(sent[0].Extra!), JsonNode.Parse(page.Events[0].Extra!)));
        Assert.Null(page.Events[1].Extra);
    }

    [Fact]
    public async Task Every_stored_item_is_scanned_once_with_its_latest_values()
    {
        var store = await FreshAsync(Schema());
        await store.PutItemsAsync(
        [
            new ItemMetadata { Id = "a", UpdatedAt = Now, Name = "First", DataType = "Article" },
            new ItemMetadata { Id = "t", UpdatedAt = Now, Name = "Journal", PrintIssn = "1234-5678" },
        ], None);
        await store.PutItemsAsync([new ItemMetadata { Id = "a", UpdatedAt = Now.AddDays(1), Name = "Renamed", ParentId = "t" }], None);

        var items = new List<ItemMetadata>();
        await foreach (var item in store.ScanItemsAsync(None)) items.Add(item);
        Assert.Equal(["a", "t"], items.Select(i => i.Id).Order());
        var a = items.Single(i => i.Id == "a");
        Assert.Equal(("Renamed", "t", Now.AddDays(1)), (a.Name, a.ParentId, a.UpdatedAt));
        Assert.Equal("1234-5678", items.Single(i => i.Id == "t").PrintIssn);
    }

    [Fact]
    public async Task State_copies_settings_and_salts_without_replacing_a_salt_already_in_use()
    {
        var source = await FreshAsync(Schema());
        await source.SetSettingAsync("aggregation:last-run", "2026-03-15T00:00:00Z", None);
        await source.SetSettingAsync("follow:/var/log/x", "{\"offset\":12}", None);
        var yesterday = await source.GetSaltAsync(Today.AddDays(-1), None);
        var today = await source.GetSaltAsync(Today, None);

        var target = await FreshAsync(Schema());
        var targetToday = await target.GetSaltAsync(Today, None);
        await target.SetSettingAsync("aggregation:last-run", "older", None);
        await target.WriteStateAsync(await source.ReadStateAsync(None), None);

        target = await RestartAsync(target);
        var state = await target.ReadStateAsync(None);
        Assert.Equal("2026-03-15T00:00:00Z", state.Settings["aggregation:last-run"]);
        Assert.Equal("{\"offset\":12}", await target.GetSettingAsync("follow:/var/log/x", None));
        Assert.Equal(yesterday, await target.GetSaltAsync(Today.AddDays(-1), None));
        Assert.Equal(targetToday, await target.GetSaltAsync(Today, None));
        Assert.NotEqual(today, targetToday);
        Assert.Equal([Today.AddDays(-1), Today], state.Salts.Keys.Order());
    }
}

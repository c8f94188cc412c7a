using System.Globalization;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Store;

namespace Tally.Storage.Tests;

/// <summary>
/// The engine computes what the C# reference computes: the same events go through <see cref="ReferenceMetricComputer"/>
/// and through the engine's own <see cref="IMetricComputer"/>, and every stored day and month row, of every aggregation
/// and of COUNTER, must be identical. The events are built to sit on the rules' edges: double-clicks 29.999 s, 30 s and
/// 31 s apart, chains, simultaneous clicks on different items, robots, missing fields, a month boundary, referrers that
/// are the site's own pages, and group-by values that are numbers and booleans. Each engine subclasses it with its factory.
/// </summary>
public abstract class MetricComputerContract : IAsyncLifetime
{
    protected abstract Task<IEventStore> OpenFreshAsync();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateOnly First = new(2026, 1, 30);
    private static readonly DateOnly Last = new(2026, 2, 2);
    private static readonly DateOnly[] Days = [First, First.AddDays(1), First.AddDays(2), Last];
    private static readonly DateOnly[] Months = [new(2026, 1, 1), new(2026, 2, 1)];
    private IEventStore _store = null!;
    private readonly TallySchema _schema = TallySchema.Compile(Options());
    private int _nextId;

    public async Task InitializeAsync()
    {
        _store = await OpenFreshAsync();
        await _store.SetupAsync(_schema, None);
    }

    public async Task DisposeAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        await CleanUpAsync();
    }

    /// <summary>The default configuration, with the site's own host set and an aggregation that groups by a number, a boolean and an integer.</summary>
    private static TallyOptions Options()
    {
        var options = DefaultConfiguration.Create();
        options.Referrers.OwnHosts = ["repo.example.org", "*.campus.example.edu"];
        var downloads = options.EventTypes.Single(t => t.Name == "file-download");
        downloads.Fields["score"] = new() { Type = "number" };
        downloads.Fields["open"] = new() { Type = "boolean" };
        options.Aggregations.Add(new() { Name = "file-download-kinds", EventType = "file-download", GroupBy = ["open", "score", "size"], SumFields = ["score", "size"] });
        options.Aggregations.Add(new() { Name = "file-download-referrers", EventType = "file-download", GroupBy = ["referrer", "format"], IncludeRobots = true });
        return options;
    }

    // ---- the events -------------------------------------------------------------------------------

    private static readonly string?[] Referrers =
    [
        null, "https://www.Example.com/a/?q=1", "http://example.com/a", "https://example.com/a/", "repo.example.org/x", "  spaced words ",
        "https://repo.example.org/page", "https://www.repo.example.org/", "https://library.campus.example.edu/search", "https://campus.example.edu",
        "https://pages.example.net/list", "https://EXAMPLE.com:8080/p/", "android-app://com.google.android.gm", "https://xn--bcher-kva.example/",
        "", "https://search.example.com/?q=tally#top",
    ];

    private static readonly string?[] Urls =
        [null, "https://pages.example.net/item/1", "/relative/path", "HTTPS://Pages.Example.NET:443/x", "https://other.example.com/y?z=1", "urn:isbn:123"];

    private static readonly string?[] Formats = [null, "PDF", "HTML"];

    private TallyEvent Event(string typeName, DateTime at, long visitor, Random random, string? item = null, string? url = null, bool useRandomUrl = true)
    {
        var type = _schema.EventTypes[typeName];
        var values = new object?[type.Fields.Count];
        void Set(string field, object? value)
        {
            if (type.OrdinalOf(field) is >= 0 and var ordinal) values[ordinal] = value;
        }
        string? Pick(params string?[] choices) => choices[random.Next(choices.Length)];

        var itemNumber = random.Next(25);
        Set("item_id", item ?? (itemNumber == 24 ? "é-ítem ☃" : $"item-{itemNumber}"));
        Set("title_id", itemNumber % 3 == 0 ? null : $"title-{itemNumber % 5}");
        Set("url", useRandomUrl ? Urls[random.Next(Urls.Length)] : url);
        Set("format", Formats[random.Next(Formats.Length)]);
        Set("referrer", Referrers[random.Next(Referrers.Length)]);
        Set("access_type", Pick(null, "Controlled", "Open"));
        Set("access_method", Pick(null, "Regular", "TDM"));
        Set("institution", Pick(null, "inst-a", "inst-b"));
        Set("country", Pick(null, "DE", "US", "BR"));
        Set("region", Pick(null, "BE", "CA"));
        Set("database_id", Pick(null, "db-1", "db-2"));
        Set("search_type", Pick(null, "regular", "automated", "federated", "regular"));
        Set("size", random.Next(4) == 0 ? null : (long)random.Next(-2, 5000));
        // Numbers whose text .NET writes with an exponent, or with all seventeen digits, as well as plain ones.
        Set("score", Pick(null, "a", "b", "c", "d", "e", "f", "g", "h", "i") switch
        {
            "a" => 1.5, "b" => 2.0, "c" => 0.1, "d" => -0.25, "e" => 1e15, "f" => 0.00001, "g" => 0.1 + 0.2, "h" => -1234567890123456.8, "i" => 1e17, _ => null,
        });
        Set("open", Pick(null, "t", "f") switch { "t" => true, "f" => false, _ => null });
        // Metadata changes over the days, so the latest statement must win.
        Set("item_name", Pick(null, $"Name of {itemNumber}", $"Renamed {itemNumber}"));
        Set("title_name", Pick(null, $"Title {itemNumber % 5}"));
        Set("doi", Pick(null, $"10.1234/{itemNumber}"));
        Set("yop", Pick(null, "2020", "2021"));
        Set("data_type", Pick(null, "Article", "Book"));
        return new TallyEvent(type, $"e{_nextId++}", at, values)
        {
            IsRobot = random.Next(12) == 0,
            VisitorId = visitor,
            // A session is a visitor's hour, as the anonymizer makes it; a few visitors share a session id.
            SessionId = visitor % 7 == 0 ? 7 : visitor * 100 + at.Hour,
        };
    }

    /// <summary>Seeded traffic over four days across a month boundary, with clicks again 29.999 s, 30 s and 31 s later, and simultaneous clicks on other items or in other sessions.</summary>
    private List<TallyEvent> Traffic(int seed, int perDay)
    {
        var random = new Random(seed);
        var events = new List<TallyEvent>();
        foreach (var day in Days.SkipLast(1))
        {
            var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            for (var i = 0; i < perDay; i++)
            {
                var type = random.Next(10) switch { < 5 => "record-view", < 9 => "file-download", _ => "search" };
                // Days' edges: the first and the last millisecond.
                var at = i switch { 0 => start, 1 => start.AddDays(1).AddMilliseconds(-1), _ => start.AddMilliseconds(random.NextInt64(86_400_000)) };
                at = new DateTime(at.Ticks - at.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
                var e = Event(type, at, random.Next(40), random);
                events.Add(e);
                var again = random.Next(9);
                if (again == 4)
                {
                    // The same click in another session, which clicks again a minute later: only the tie-break on the
                    // session decides whether the row has one session or two.
                    foreach (var after in new[] { TimeSpan.Zero, TimeSpan.FromMinutes(1) }.Where(after => at + after < start.AddDays(1)))
                    {
                        events.Add(new TallyEvent(e.Type, $"e{_nextId++}", at + after, (object?[])e.Values.Clone())
                            { IsRobot = e.IsRobot, VisitorId = e.VisitorId, SessionId = e.SessionId + 1 });
                    }
                }
                if (again >= 4) continue;
                // The same visitor on the same target again, or a different item at the same instant.
                var later = again switch { 0 => TimeSpan.FromMilliseconds(29_999), 1 => TimeSpan.FromSeconds(30), 2 => TimeSpan.FromSeconds(31), _ => TimeSpan.Zero };
                if (at + later >= start.AddDays(1)) continue;
                var url = (string?)e[WellKnownFields.Url];
                var next = Event(type, at + later, e.VisitorId, random, item: again == 3 ? null : (string?)e[WellKnownFields.ItemId], url: url, useRandomUrl: again == 3 && url is null);
                if (again != 3 && url is null && next.Type.OrdinalOf(WellKnownFields.Format) is >= 0 and var format) next.Values[format] = e[WellKnownFields.Format];
                next.IsRobot = e.IsRobot;
                events.Add(next);
            }
        }
        return events;
    }

    private async Task StoreAsync(IReadOnlyList<TallyEvent> events)
    {
        foreach (var batch in events.Chunk(500)) Assert.All(await _store.AppendAsync(batch, None), Assert.True);
    }

    // ---- computing both ways ----------------------------------------------------------------------

    private IEnumerable<EventType> AggregatedTypes => _schema.Aggregations.Values.Select(a => a.EventType).Distinct();

    private async Task<long> ComputeAsync(IMetricComputer computer, IReadOnlyList<DateOnly> days)
    {
        long events = 0;
        foreach (var type in AggregatedTypes)
            events += await computer.ComputeDaysAsync(type, [.. _schema.AggregationsOf(type)], days, _schema.Referrers, None);
        await computer.ComputeCounterDaysAsync([.. _schema.CounterTypes], days, None);
        foreach (var aggregation in _schema.Aggregations.Values) await computer.RollUpMonthsAsync(aggregation, Months, None);
        await computer.RollUpCounterMonthsAsync(Months, None);
        return events;
    }

    private ReferenceMetricComputer Reference => new(_store, _store);

    /// <summary>Every stored metric row, day and month, of every aggregation and of COUNTER, one line each, sorted.</summary>
    private async Task<List<string>> SnapshotAsync()
    {
        var lines = new List<string>();
        foreach (var aggregation in _schema.Aggregations.Values)
        {
            foreach (var (period, starts) in new[] { (MetricPeriod.Day, Days), (MetricPeriod.Month, Months) })
            {
                foreach (var start in starts)
                {
                    foreach (var row in await MetricQuery.ReadEveryGroupingAsync(_store, aggregation, period, start, start, None))
                    {
                        var sums = string.Join(" ", row.Sums.Select((s, i) => $"{s.ToString("G12", CultureInfo.InvariantCulture)}/{row.SumCounts[i]}"));
                        lines.Add($"{aggregation.Name} {period} {start:yyyy-MM-dd} g{row.Grouping} [{string.Join("|", row.Keys.Select(k => k ?? "∅"))}] " +
                                  $"n={row.Count} v={row.UniqueVisitors} s={row.UniqueSessions} {sums}");
                    }
                }
            }
        }
        foreach (var (period, starts) in new[] { (MetricPeriod.Day, Days), (MetricPeriod.Month, Months) })
        {
            foreach (var start in starts)
            {
                var query = new CounterQuery(period, start, start, new Dictionary<CounterDimension, IReadOnlyList<string?>>(), CounterNames.Dimensions, ByMonth: false);
                foreach (var row in await _store.ReadCounterMetricsAsync(query, None))
                    lines.Add($"COUNTER {period} {start:yyyy-MM-dd} [{string.Join("|", row.Keys.Select(k => k ?? "∅"))}] {string.Join(" ", row.Values)}");
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    /// <summary>Empties every metric table for the test's days and months, so that what is read next was written by the run under test.</summary>
    private async Task ClearAsync()
    {
        foreach (var aggregation in _schema.Aggregations.Values)
        {
            foreach (var day in Days) await _store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, [], None);
            foreach (var month in Months) await _store.ReplaceMetricsAsync(aggregation, MetricPeriod.Month, month, [], None);
        }
        foreach (var day in Days) await _store.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, [], None);
        foreach (var month in Months) await _store.ReplaceCounterMetricsAsync(MetricPeriod.Month, month, [], None);
        Assert.Empty(await SnapshotAsync());
    }

    private async Task<List<string>> ReferenceRowsAsync()
    {
        await ClearAsync();
        await ComputeAsync(Reference, Days);
        var rows = await SnapshotAsync();
        await ClearAsync();
        return rows;
    }

    private static void AssertSameRows(List<string> expected, List<string> actual)
    {
        var missing = expected.Except(actual).Take(5).ToList();
        var extra = actual.Except(expected).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && expected.Count == actual.Count,
            $"{expected.Count} rows expected, {actual.Count} computed.\nmissing:\n  {string.Join("\n  ", missing)}\nunexpected:\n  {string.Join("\n  ", extra)}");
    }

    // ---- the contract -----------------------------------------------------------------------------

    [Fact]
    public async Task The_engine_writes_the_rows_the_reference_computes()
    {
        var events = Traffic(seed: 20, perDay: 700);
        await StoreAsync(events);
        var expected = await ReferenceRowsAsync();
        Assert.True(expected.Count > 1000, $"only {expected.Count} rows");
        Assert.Contains(expected, line => line.StartsWith("COUNTER Day", StringComparison.Ordinal));

        var counted = await ComputeAsync(_store.Computer, Days);

        AssertSameRows(expected, await SnapshotAsync());
        Assert.Equal(events.Count(e => _schema.Aggregations.Values.Any(a => a.EventType == e.Type)), counted);
    }

    [Fact]
    public async Task Recomputing_after_late_events_gives_the_rows_of_computing_once()
    {
        await StoreAsync(Traffic(seed: 21, perDay: 300));
        await ComputeAsync(_store.Computer, Days);
        await StoreAsync(Traffic(seed: 22, perDay: 100));
        var expected = await ReferenceRowsAsync();

        await ComputeAsync(_store.Computer, Days);
        await ComputeAsync(_store.Computer, Days);

        AssertSameRows(expected, await SnapshotAsync());
    }

    [Fact]
    public async Task A_day_without_events_keeps_no_rows()
    {
        await StoreAsync(Traffic(seed: 23, perDay: 50));
        await ComputeAsync(_store.Computer, Days);
        var aggregation = _schema.Aggregations["record-view-agg"];
        var stale = new MetricRow(Last, ["item-1"], 0) { Grouping = 1, Count = 5, UniqueVisitors = 1, UniqueSessions = 1 };
        await _store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, Last, [stale], None);
        var staleCounter = new CounterRow(Last, new string?[CounterNames.Dimensions.Length]) { [CounterMetric.SearchesRegular] = 3 };
        await _store.ReplaceCounterMetricsAsync(MetricPeriod.Day, Last, [staleCounter], None);

        Assert.Equal(0, await _store.Computer.ComputeDaysAsync(aggregation.EventType, [aggregation], [Last], _schema.Referrers, None));
        await _store.Computer.ComputeCounterDaysAsync([.. _schema.CounterTypes], [Last], None);

        Assert.Empty(await MetricQuery.ReadEveryGroupingAsync(_store, aggregation, MetricPeriod.Day, Last, Last, None));
        Assert.Empty(await _store.ReadCounterMetricsAsync(new CounterQuery(MetricPeriod.Day, Last, Last, new Dictionary<CounterDimension, IReadOnlyList<string?>>(), [], false), None));
    }

    [Fact]
    public async Task Months_rolled_up_again_follow_their_days_changed_values_groups_gone_and_groups_new()
    {
        await StoreAsync(Traffic(seed: 25, perDay: 300));
        await ComputeAsync(_store.Computer, Days);
        // February's day rows become one group that was not there, and a total of another value: every other group of February goes.
        var aggregation = _schema.Aggregations["record-view-agg"];
        foreach (var day in Days.Where(d => d.Month == 2))
        {
            MetricRow[] rows =
            [
                new(day, [null], 0) { Grouping = 0, Count = 7, UniqueVisitors = 2, UniqueSessions = 3 },
                new(day, ["item-only-now"], 0) { Grouping = 1, Count = 7, UniqueVisitors = 2, UniqueSessions = 3 },
            ];
            await _store.ReplaceMetricsAsync(aggregation, MetricPeriod.Day, day, rows, None);
            var counter = new CounterRow(day, new string?[CounterNames.Dimensions.Length]) { [CounterMetric.SearchesRegular] = 3 };
            await _store.ReplaceCounterMetricsAsync(MetricPeriod.Day, day, [counter], None);
        }

        await _store.Computer.RollUpMonthsAsync(aggregation, Months, None);
        await _store.Computer.RollUpCounterMonthsAsync(Months, None);
        var rolledUp = await SnapshotAsync();
        await Reference.RollUpMonthsAsync(aggregation, Months, None);
        await Reference.RollUpCounterMonthsAsync(Months, None);

        AssertSameRows(await SnapshotAsync(), rolledUp);
        Assert.Contains(rolledUp, line => line.StartsWith("record-view-agg Month 2026-02-01 g1 [item-only-now] n=14 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stated_metadata_merges_to_what_every_event_says()
    {
        var events = Traffic(seed: 24, perDay: 400);
        await StoreAsync(events);
        foreach (var type in _schema.CounterTypes)
        {
            var expected = Merge(type, events.Where(e => e.Type == type));
            var stated = new List<TallyEvent>();
            await foreach (var e in _store.Computer.ReadStatedMetadataAsync(type, Days, None)) stated.Add(e);
            Assert.Equal(expected, Merge(type, stated));
        }
    }

    /// <summary>What reading every event and merging by id gives, as JSON lines sorted by id.</summary>
    private static List<string> Merge(EventType type, IEnumerable<TallyEvent> events)
    {
        var reader = new ItemMetadataReader(type);
        var merged = new Dictionary<string, ItemMetadata>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            var (item, title) = reader.Read(e);
            foreach (var record in new[] { item, title }.OfType<ItemMetadata>())
                merged[record.Id] = merged.TryGetValue(record.Id, out var known) ? known.MergedWith(record) : record;
        }
        return [.. merged.Values.OrderBy(m => m.Id, StringComparer.Ordinal).Select(m => System.Text.Json.JsonSerializer.Serialize(m, ItemMetadataJson.Default.ItemMetadata))];
    }
}

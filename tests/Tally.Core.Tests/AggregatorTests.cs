using System.Globalization;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;
using Tally.Core.Retention;
using Tally.Core.Store;

namespace Tally.Core.Tests;

/// <summary>
/// What the aggregator asks of the engine, and what the stats service reads, over in-memory roles: which days go to the
/// engine and how they are grouped, which months are rolled up, what happens to days whose raw data retention dropped,
/// and when observers hear of a run. The numbers themselves are the engines' contract (tests/Tally.Storage.Tests).
/// </summary>
public sealed class AggregatorTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TallySchema _schema = CoreTestKit.DefaultSchema();
    private readonly InMemoryStore _store = new();
    private readonly RecordingComputer _computer;
    private readonly FixedClock _clock = new(CoreTestKit.Now);
    private readonly Aggregator _aggregator;
    private readonly Observer _observer = new();
    private int _nextId;

    public AggregatorTests()
    {
        _computer = new RecordingComputer(new ReferenceMetricComputer(_store, _store));
        _aggregator = new Aggregator(_schema, _store, _computer, _store, new ItemCatalog(_store, _store), _clock, [_observer]);
    }

    public void Dispose() => _aggregator.Dispose();

    private TallyEvent View(string typeName, DateTime at, string item, long visitor = 1, bool robot = false, string? name = null)
    {
        var type = _schema.EventTypes[typeName];
        var values = new object?[type.Fields.Count];
        values[type.OrdinalOf(WellKnownFields.ItemId)] = item;
        if (name is not null) values[type.OrdinalOf("item_name")] = name;
        return new TallyEvent(type, $"e{_nextId++}", at, values) { VisitorId = visitor, SessionId = visitor, IsRobot = robot };
    }

    private static DateTime At(int month, int day, int hour = 12) => new(2026, month, day, hour, 0, 0, DateTimeKind.Utc);

    private static DateOnly Day(int month, int day) => new(2026, month, day);

    private AggregationDefinition Views => _schema.Aggregations["record-view-agg"];

    [Fact]
    public async Task A_months_days_go_to_the_engine_together_one_call_per_type_and_month()
    {
        _store.Append(View("record-view", At(4, 30), "a"), View("record-view", At(5, 2), "a"), View("record-view", At(5, 20), "b"),
            View("file-download", At(5, 2), "a"));

        var result = await _aggregator.RunAsync(cancellationToken: None);

        Assert.Equal(
            ["file-download 2026-05-02", "record-view 2026-04-30", "record-view 2026-05-02 2026-05-20"],
            _computer.DayCalls.Select(c => $"{c.Type} {string.Join(' ', c.Days.Select(d => d.ToString("O", CultureInfo.InvariantCulture)))}").Order(StringComparer.Ordinal));
        // COUNTER days are redone from every COUNTER type, once per month.
        Assert.Equal(["2026-04-30", "2026-05-02 2026-05-20"], _computer.CounterCalls.Select(days => string.Join(' ', days.Select(d => d.ToString("O", CultureInfo.InvariantCulture)))));
        Assert.Equal(4, result.Days);
        Assert.Equal(2, result.Months);
        Assert.Equal(4, result.Events);
        Assert.Empty(await _store.GetDirtyDaysAsync(None));
    }

    [Fact]
    public async Task A_second_run_recomputes_only_the_days_that_received_events_and_their_months()
    {
        _store.Append(View("record-view", At(4, 10), "a"), View("record-view", At(5, 10), "a"));
        await _aggregator.RunAsync(cancellationToken: None);
        _computer.Clear();

        _store.Append(View("record-view", At(5, 12), "a", visitor: 2));
        var result = await _aggregator.RunAsync(cancellationToken: None);

        Assert.Equal(1, result.Days);
        Assert.Equal([("record-view", Day(5, 12))], _computer.DayCalls.SelectMany(c => c.Days.Select(d => (c.Type, d))));
        Assert.Equal([Day(5, 1)], _computer.RolledUp[Views.Name]);
        var may = await _store.ReadMetricsAsync(new MetricQuery(Views, MetricPeriod.Month, Day(5, 1), Day(5, 1), [], false, []), None);
        Assert.Equal((2L, 2L), (may.Single().Count, may.Single().UniqueVisitors));
    }

    [Fact]
    public async Task A_rebuild_marks_every_aggregated_day_again_and_a_range_limits_it()
    {
        _store.Append(View("record-view", At(4, 10), "a"), View("record-view", At(5, 10), "a"), View("file-download", At(5, 11), "a"));
        await _aggregator.RunAsync(cancellationToken: None);
        _computer.Clear();

        var result = await _aggregator.RunAsync(from: Day(5, 1), to: Day(5, 31), rebuild: true, cancellationToken: None);

        Assert.Equal(2, result.Days);
        Assert.Equal([Day(5, 10), Day(5, 11)], _computer.DayCalls.SelectMany(c => c.Days).Order());
    }

    [Fact]
    public async Task Days_whose_raw_events_retention_dropped_keep_their_metrics_and_leave_the_queue()
    {
        _store.Append(View("record-view", At(4, 10), "a"), View("record-view", At(4, 11), "a"));
        await _aggregator.RunAsync(cancellationToken: None);
        // A late event marks April 10 again; then retention drops that day before the next run.
        _store.Append(View("record-view", At(4, 10, 13), "a", visitor: 2));
        var type = _schema.EventTypes["record-view"];
        _store.DropRaw(type, Day(4, 11));
        await _store.SetSettingAsync(RetentionService.RawDataFromSetting(type), Day(4, 11).ToString("O", CultureInfo.InvariantCulture), None);
        _computer.Clear();

        await _aggregator.RunAsync(cancellationToken: None);

        Assert.Empty(_computer.DayCalls);
        Assert.Empty(_computer.CounterCalls);
        Assert.Empty(await _store.GetDirtyDaysAsync(None));
        var april10 = await _store.ReadMetricsAsync(new MetricQuery(Views, MetricPeriod.Day, Day(4, 10), Day(4, 10), [], false, []), None);
        Assert.Equal(1L, april10.Single().Count);
    }

    [Fact]
    public async Task Item_metadata_of_a_run_is_merged_and_written_once()
    {
        _store.Append(View("record-view", At(4, 10), "a", name: "Old"), View("file-download", At(5, 10), "a", name: "New"), View("record-view", At(5, 11), "b", name: "B"));

        await _aggregator.RunAsync(cancellationToken: None);

        Assert.Equal(1, _store.ItemWrites);
        var items = await _store.GetItemsAsync(["a", "b"], None);
        Assert.Equal(("New", "B"), (items["a"].Name, items["b"].Name));
    }

    [Fact]
    public async Task Observers_hear_a_run_begin_and_end_also_when_it_fails()
    {
        _store.Append(View("record-view", At(5, 10), "a"));
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(["starting", "ended 1"], _observer.Heard);

        _store.Append(View("record-view", At(5, 11), "a"));
        _computer.FailNext = true;
        await Assert.ThrowsAsync<InvalidOperationException>(() => _aggregator.RunAsync(cancellationToken: None));
        Assert.Equal(["starting", "ended 1", "starting", "ended (failed)"], _observer.Heard);
        Assert.Single(await _store.GetDirtyDaysAsync(None));
    }

    [Fact]
    public async Task Progress_is_reported_per_month_then_done()
    {
        _store.Append(View("record-view", At(3, 10), "a"), View("record-view", At(4, 10), "a"), View("record-view", At(4, 12), "a"));
        var heard = new List<AggregationProgress>();

        await _aggregator.RunAsync(progress: new Recorded(heard), cancellationToken: None);

        Assert.Equal(["0/3 2026-03", "1/3 2026-04", "3/3 done"], heard.Select(p => $"{p.DaysDone}/{p.DaysTotal} {p.Current}"));
    }

    [Fact]
    public async Task Stats_read_whole_months_from_month_rows_and_only_the_ragged_ends_from_day_rows()
    {
        foreach (var (month, day) in new[] { (3, 20), (4, 5), (4, 25), (5, 3), (5, 9) })
            _store.Append(View("record-view", At(month, day), "a", visitor: day));
        await _aggregator.RunAsync(cancellationToken: None);
        var stats = new StatsService(_store, _store);
        _store.MetricQueries.Clear();

        var timeline = await stats.TimelineAsync(Views, new StatsRequest(Day(3, 15), Day(5, 5), Interval.Month, [], 10, 0, null), None);

        Assert.Equal([(Day(3, 1), 1L), (Day(4, 1), 2L), (Day(5, 1), 1L)], timeline.Select(r => (r.Period, r.Count)));
        Assert.Equal(
            ["Day 2026-03-15..2026-03-31", "Month 2026-04-01..2026-04-30", "Day 2026-05-01..2026-05-05"],
            _store.MetricQueries.Select(q => $"{q.Source} {q.From:O}..{q.To:O}"));
    }

    [Fact]
    public async Task The_month_in_progress_is_read_from_its_days_and_rolled_up_by_the_first_run_after_it_ends()
    {
        // June is in progress (the clock says 10 June): its days are computed, its monthly rows wait.
        _store.Append(View("record-view", At(5, 20), "a"), View("record-view", At(6, 2), "a"), View("record-view", At(6, 9), "b"));
        var first = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal([Day(5, 1)], _computer.RolledUp[Views.Name]);
        Assert.Equal(["2026-05-01"], _computer.CounterMonthCalls.Select(m => string.Join(' ', m.Select(d => d.ToString("O", CultureInfo.InvariantCulture)))));
        Assert.Equal(1, first.Months);
        Assert.Equal("2026-06", await _store.GetSettingAsync(OpenMonths.Setting, None));

        // Reads take June from its days, even asked as a whole month; May comes from its monthly rows.
        var stats = new StatsService(_store, _store);
        _store.MetricQueries.Clear();
        var timeline = await stats.TimelineAsync(Views, new StatsRequest(Day(5, 1), Day(6, 30), Interval.Month, [], 10, 0, null), None);
        Assert.Equal([(Day(5, 1), 1L), (Day(6, 1), 2L)], timeline.Select(r => (r.Period, r.Count)));
        Assert.Equal(["Month 2026-05-01..2026-05-31", "Day 2026-06-01..2026-06-30"], _store.MetricQueries.Select(q => $"{q.Source} {q.From:O}..{q.To:O}"));
        Assert.Equal((Day(5, 1), Day(6, 1)), await OpenMonths.CounterMonthsAsync(_store, _store, None));

        // A late event for June on 3 July: June has ended, so it is rolled up whole, and taken off the list.
        _computer.Clear();
        _clock.Now = new DateTime(2026, 7, 3, 0, 30, 0, DateTimeKind.Utc);
        _store.Append(View("record-view", At(6, 30), "c"));
        var afterJune = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal([Day(6, 1)], _computer.RolledUp[Views.Name]);
        Assert.Equal(["2026-06-01"], _computer.CounterMonthCalls.Select(m => string.Join(' ', m.Select(d => d.ToString("O", CultureInfo.InvariantCulture)))));
        Assert.Equal(1, afterJune.Months);
        Assert.Equal("", await _store.GetSettingAsync(OpenMonths.Setting, None));
        _store.MetricQueries.Clear();
        var june = await stats.TimelineAsync(Views, new StatsRequest(Day(6, 1), Day(6, 30), Interval.Month, [], 10, 0, null), None);
        Assert.Equal([(Day(6, 1), 3L)], june.Select(r => (r.Period, r.Count)));
        Assert.Equal(["Month 2026-06-01..2026-06-30"], _store.MetricQueries.Select(q => $"{q.Source} {q.From:O}..{q.To:O}"));
    }

    [Fact]
    public async Task An_open_month_that_has_ended_is_rolled_up_by_the_next_run_even_with_nothing_new()
    {
        _store.Append(View("record-view", At(6, 2), "a"));
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.False(_computer.RolledUp.ContainsKey(Views.Name));

        _computer.Clear();
        _clock.Now = new DateTime(2026, 7, 1, 0, 5, 0, DateTimeKind.Utc);
        var result = await _aggregator.RunAsync(cancellationToken: None);

        Assert.Equal((0, 1), (result.Days, result.Months));
        Assert.Equal([Day(6, 1)], _computer.RolledUp[Views.Name]);
        Assert.Equal(["2026-06-01"], _computer.CounterMonthCalls.Select(m => string.Join(' ', m.Select(d => d.ToString("O", CultureInfo.InvariantCulture)))));
        var ranked = await new StatsService(_store, _store).RankAsync(
            Views, [Views.GroupBy[0]], new MetricSelector(MetricKind.Count, -1), new StatsRequest(Day(6, 1), Day(6, 30), Interval.Day, [], 10, 0, "item_id"), None);
        Assert.Equal(["a 1"], ranked.Rows.Select(r => $"{r.Keys[0]} {r.Count}"));
    }

    [Fact]
    public async Task Ranking_pages_by_the_metric_and_counts_every_group()
    {
        foreach (var (item, views) in new[] { ("a", 3), ("b", 5), ("c", 1), ("d", 5) })
        {
            for (var i = 0; i < views; i++) _store.Append(View("record-view", At(5, 2 + i), item, visitor: i));
        }
        await _aggregator.RunAsync(cancellationToken: None);

        var ranked = await new StatsService(_store, _store).RankAsync(
            Views, [Views.GroupBy[0]], new MetricSelector(MetricKind.Count, -1), new StatsRequest(Day(5, 1), Day(5, 31), Interval.Day, [], 2, 1, "item_id"), None);

        Assert.Equal(4, ranked.TotalGroups);
        Assert.Equal(["d 5", "a 3"], ranked.Rows.Select(r => $"{r.Keys[0]} {r.Count}"));
    }

    /// <summary>Passes calls on to the reference and records them; can fail one call, as a lost connection would.</summary>
    private sealed class RecordingComputer(IMetricComputer inner) : IMetricComputer
    {
        public List<(string Type, IReadOnlyList<DateOnly> Days)> DayCalls { get; } = [];
        public List<IReadOnlyList<DateOnly>> CounterCalls { get; } = [];
        public Dictionary<string, List<DateOnly>> RolledUp { get; } = [];
        public List<IReadOnlyList<DateOnly>> CounterMonthCalls { get; } = [];
        public bool FailNext { get; set; }

        public void Clear()
        {
            DayCalls.Clear();
            CounterCalls.Clear();
            RolledUp.Clear();
            CounterMonthCalls.Clear();
        }

        public Task<long> ComputeDaysAsync(
            EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken)
        {
            if (FailNext) throw new InvalidOperationException("connection lost");
            DayCalls.Add((type.Name, days));
            return inner.ComputeDaysAsync(type, aggregations, days, referrers, cancellationToken);
        }

        public Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken)
        {
            CounterCalls.Add(days);
            return inner.ComputeCounterDaysAsync(types, days, cancellationToken);
        }

        public IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(EventType type, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken) =>
            inner.ReadStatedMetadataAsync(type, days, cancellationToken);

        public Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
        {
            RolledUp[aggregation.Name] = [.. months];
            return inner.RollUpMonthsAsync(aggregation, months, cancellationToken);
        }

        public Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken)
        {
            CounterMonthCalls.Add(months);
            return inner.RollUpCounterMonthsAsync(months, cancellationToken);
        }
    }

    private sealed class Observer : IAggregationObserver
    {
        public List<string> Heard { get; } = [];

        public void AggregationStarting() => Heard.Add("starting");

        public void AggregationEnded(AggregationResult? result) => Heard.Add(result is null ? "ended (failed)" : $"ended {result.Days}");
    }

    private sealed class Recorded(List<AggregationProgress> heard) : IProgress<AggregationProgress>
    {
        public void Report(AggregationProgress value) => heard.Add(value);
    }
}

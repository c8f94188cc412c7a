using Microsoft.Data.Sqlite;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Query;
using Tally.Core.Retention;
using Tally.Core.Store;
using Tally.Storage.Sqlite;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>Aggregation, statistics and retention over a real SQLite store.</summary>
public sealed class AggregationTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tally-agg-").FullName;
    private readonly FixedClock _clock = new(Now);
    private TallySchema _schema = null!;
    private IEventStore _store = null!;
    private Aggregator _aggregator = null!;
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateOnly Today = DateOnly.FromDateTime(Now);

    public async Task InitializeAsync()
    {
        _schema = Schema("day", o => o.Aggregations.Add(new AggregationOptions
        {
            Name = "probe-agg", EventType = "probe", GroupBy = ["item_id"], SumFields = ["n"],
        }));
        _store = SqliteEventStore.Open(_directory);
        await _store.SetupAsync(_schema, None);
        _aggregator = new Aggregator(_schema, _store, _clock);
    }

    public async Task DisposeAsync()
    {
        _aggregator.Dispose();
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private AggregationDefinition Agg => _schema.Aggregations["probe-agg"];

    private int _next;

    private Task AppendAsync(DateTime at, string item, long n = 1, long visitor = 1, long session = 1, bool robot = false) =>
        _store.AppendAsync([Probe(_schema, $"e{_next++}", at, item, n, robot, visitor, session)], None);

    private async Task<MetricRow?> DayAsync(DateOnly day, string item) =>
        (await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Day, day, day, [new FieldFilter("item_id", [item], false)], true, Agg.GroupBy), None))
        .SingleOrDefault();

    [Fact]
    public async Task Counts_exact_uniques_and_sums_per_item_with_robots_excluded()
    {
        await AppendAsync(Now, "a", n: 10, visitor: 1, session: 1);
        await AppendAsync(Now, "a", n: 20, visitor: 1, session: 2);
        await AppendAsync(Now, "a", n: 30, visitor: 2, session: 3);
        await AppendAsync(Now, "a", n: 1000, visitor: 3, session: 4, robot: true);
        await AppendAsync(Now, "b", n: 5, visitor: 1, session: 1);
        await _aggregator.RunAsync(cancellationToken: None);

        var a = (await DayAsync(Today, "a"))!;
        Assert.Equal((3L, 2L, 3L, 60.0), (a.Count, a.UniqueVisitors, a.UniqueSessions, a.Sums[0]));
        Assert.Equal(20.0, a.Value(new MetricSelector(MetricKind.Avg, 0)));
        Assert.Equal(1L, (await DayAsync(Today, "b"))!.Count);
    }

    [Fact]
    public async Task Robots_count_when_the_aggregation_includes_them()
    {
        _schema = Schema("day", o => o.Aggregations.Add(new AggregationOptions { Name = "probe-agg", EventType = "probe", GroupBy = ["item_id"], SumFields = ["n"], IncludeRobots = true }));
        await _store.SetupAsync(_schema, None);
        using var aggregator = new Aggregator(_schema, _store, _clock);
        await AppendAsync(Now, "a", robot: true);
        await AppendAsync(Now, "a");
        await aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(2L, (await DayAsync(Today, "a"))!.Count);
    }

    [Fact]
    public async Task Months_are_the_sum_of_their_days()
    {
        for (var d = 0; d < 20; d++) await AppendAsync(Now.AddDays(-d), d % 2 == 0 ? "a" : "b", n: d, visitor: d);
        await _aggregator.RunAsync(cancellationToken: None);
        var daily = await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Day, new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 31), [], false, Agg.GroupBy), None);
        var monthly = await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Month, new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 1), [], false, Agg.GroupBy), None);
        Assert.Equal(daily.OrderBy(r => r.Keys[0]).Select(r => (r.Keys[0], r.Count, r.UniqueVisitors, r.Sums[0])),
            monthly.OrderBy(r => r.Keys[0]).Select(r => (r.Keys[0], r.Count, r.UniqueVisitors, r.Sums[0])));
        Assert.Equal(15L, daily.Sum(r => r.Count));
    }

    [Fact]
    public async Task A_run_recomputes_only_days_with_new_events_late_ones_included()
    {
        await AppendAsync(Now.AddDays(-5), "a");
        await AppendAsync(Now, "a");
        Assert.Equal(2, (await _aggregator.RunAsync(cancellationToken: None)).Days);
        Assert.Equal(0, (await _aggregator.RunAsync(cancellationToken: None)).Days);

        await AppendAsync(Now.AddDays(-5), "a");
        var late = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal((1, 2L), (late.Days, late.Events)); // the one day is recomputed whole
        Assert.Equal(2L, (await DayAsync(Today.AddDays(-5), "a"))!.Count);
        Assert.Equal(1L, (await DayAsync(Today, "a"))!.Count);
    }

    [Fact]
    public async Task Reruns_and_rebuilds_give_identical_numbers()
    {
        for (var i = 0; i < 50; i++) await AppendAsync(Now.AddHours(-i * 7), $"i{i % 4}", n: i, visitor: i % 9, session: i % 13);
        await _aggregator.RunAsync(cancellationToken: None);
        var before = await SnapshotAsync();
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(before, await SnapshotAsync());
        var rebuilt = await _aggregator.RunAsync(Today.AddDays(-20), Today, rebuild: true, cancellationToken: None);
        Assert.True(rebuilt.Days >= 15);
        Assert.Equal(before, await SnapshotAsync());
    }

    private async Task<string> SnapshotAsync()
    {
        var rows = await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Day, Today.AddDays(-60), Today, [], true, Agg.GroupBy), None);
        var months = await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Month, Today.AddDays(-60), Today, [], true, Agg.GroupBy), None);
        return string.Join(';', rows.Concat(months).OrderBy(r => r.Period).ThenBy(r => r.Keys[0])
            .Select(r => $"{r.Period}/{r.Keys[0]}/{r.Count}/{r.UniqueVisitors}/{r.UniqueSessions}/{r.Sums[0]}"));
    }

    [Fact]
    public async Task Events_stored_while_a_run_reads_are_counted_by_the_next_run()
    {
        await AppendAsync(Now, "a");
        var marks = await _store.GetDirtyDaysAsync(None);
        await AppendAsync(Now, "a");
        await _store.ClearDirtyAsync(marks, None);
        Assert.NotEmpty(await _store.GetDirtyDaysAsync(None));
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(2L, (await DayAsync(Today, "a"))!.Count);
    }

    [Fact]
    public async Task Retention_drops_raw_days_but_a_rebuild_keeps_their_metrics()
    {
        _schema = Schema("day", o =>
        {
            o.EventTypes[2].RetentionDays = 10;
            o.Aggregations.Add(new AggregationOptions { Name = "probe-agg", EventType = "probe", GroupBy = ["item_id"], SumFields = ["n"] });
        });
        using var aggregator = new Aggregator(_schema, _store, _clock);
        await AppendAsync(Now.AddDays(-30), "a");
        await AppendAsync(Now, "a");
        await aggregator.RunAsync(cancellationToken: None);

        var result = await new RetentionService(_schema, _store, _clock).RunAsync(None);
        Assert.Single(result.DroppedPartitions);
        await aggregator.RunAsync(Today.AddDays(-60), Today, rebuild: true, cancellationToken: None);
        Assert.Equal(1L, (await DayAsync(Today.AddDays(-30), "a"))!.Count);
        Assert.Equal(1L, (await DayAsync(Today, "a"))!.Count);
    }

    [Fact]
    public async Task Timelines_are_zero_filled_and_month_intervals_match_the_daily_sum()
    {
        for (var d = 0; d < 70; d += 3) await AppendAsync(Now.AddDays(-d), "a", visitor: d);
        await _aggregator.RunAsync(cancellationToken: None);
        var stats = new StatsService(_store);
        var from = Today.AddDays(-65);

        var daily = await stats.TimelineAsync(Agg, new StatsRequest(from, Today, Interval.Day, [], 100, 0, null), None);
        Assert.Equal(66, daily.Count);
        Assert.Equal(Enumerable.Range(0, 66).Select(i => from.AddDays(i)), daily.Select(r => r.Period));
        var monthly = await stats.TimelineAsync(Agg, new StatsRequest(from, Today, Interval.Month, [], 100, 0, null), None);
        Assert.Equal(daily.Sum(r => r.Count), monthly.Sum(r => r.Count));
        foreach (var month in monthly)
            Assert.Equal(daily.Where(r => r.Period.Month == month.Period.Month).Sum(r => r.Count), month.Count);
    }

    [Fact]
    public async Task Ranking_orders_by_the_metric_and_pages()
    {
        foreach (var (item, times) in new[] { ("a", 3), ("b", 5), ("c", 1), ("d", 4) })
            for (var i = 0; i < times; i++) await AppendAsync(Now, item, visitor: i);
        await _aggregator.RunAsync(cancellationToken: None);
        var ranked = await new StatsService(_store).RankAsync(Agg, Agg.GroupBy, MetricSelector.Count, new StatsRequest(Today, Today, Interval.Day, [], 2, 1, null), None);
        Assert.Equal(4, ranked.TotalGroups);
        Assert.Equal(["d", "a"], ranked.Rows.Select(r => r.Keys[0]));
    }
}

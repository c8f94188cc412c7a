using System.Globalization;
using System.Text;
using System.Text.Json;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Process;
using Tally.Core.Query;
using Tally.Core.Retention;
using Tally.Core.Store;
using static Tally.Storage.Tests.StoreTestKit;

namespace Tally.Storage.Tests;

/// <summary>
/// Aggregation, statistics and retention end to end: events go through the real parser and pipeline
/// (robot flag, salted visitor and session ids) into a real store, and the numbers that come out
/// are checked against what was sent. Engine-neutral; each engine subclasses it with its factory.
/// </summary>
public abstract class AggregationContract : IAsyncLifetime
{
    /// <summary>Opens a new, empty store.</summary>
    protected abstract Task<IEventStore> OpenFreshAsync();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    private static readonly CancellationToken None = CancellationToken.None;
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    private const string Robot = "Googlebot/2.1 (+http://www.google.com/bot.html)";
    private readonly FixedClock _clock = new(Now);
    /// <summary>
    /// The aggregator's clock is after every month the tests send, so each month is rolled up: these tests hold each
    /// engine's monthly rows to the reference. That a month in progress waits is the aggregator's rule, tested in Tally.Core.Tests.
    /// </summary>
    private readonly FixedClock _aggregationClock = new(new DateTime(2026, 4, 2, 0, 0, 0, DateTimeKind.Utc));
    private readonly RobotList _robots = new(["bot", "crawler", "spider"]);
    private IEventStore _store = null!;
    private TallySchema _schema = null!;
    private Aggregator _aggregator = null!;
    private EventParser _parser = null!;
    private EventPipeline _pipeline = null!;
    private int _nextId;

    public async Task InitializeAsync()
    {
        _store = await OpenFreshAsync();
        await UseSchemaAsync(Downloads());
    }

    public async Task DisposeAsync()
    {
        _aggregator?.Dispose();
        if (_store is not null) await _store.DisposeAsync();
        await CleanUpAsync();
    }

    /// <summary>The default configuration, whose file-download-agg counts downloads per item_id and sums size.</summary>
    private static TallySchema Downloads(Action<TallyOptions>? change = null)
    {
        var options = DefaultConfiguration.Create();
        change?.Invoke(options);
        return TallySchema.Compile(options);
    }

    private static Action<TallyOptions> DownloadType(Action<EventTypeOptions> change) =>
        o => change(o.EventTypes.Single(t => t.Name == "file-download"));

    private async Task UseSchemaAsync(TallySchema schema)
    {
        _aggregator?.Dispose();
        _schema = schema;
        await _store.SetupAsync(schema, None);
        _aggregator = new Aggregator(schema, _store, _store.Computer, _store, new ItemCatalog(_store, _store), _aggregationClock);
        _parser = new EventParser(schema, _clock);
        _pipeline = EventPipeline.FromSchema(schema, _robots, _store, Tally.Geo.MmdbGeoLookup.OpenDefaultCountryDatabase());
    }

    private AggregationDefinition Agg => _schema.Aggregations["file-download-agg"];

    // ---- sending events ----------------------------------------------------------------------------

    /// <summary>One download as a client would send it.</summary>
    private sealed record Sent(DateTime At, string Item, long? Size = null, string? User = null, string? Cookie = null, string? Ip = null, string Agent = Browser)
    {
        public bool IsRobot => Agent == Robot;
        public DateOnly Day => DateOnly.FromDateTime(At);
    }

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private string Line(Sent sent) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["type"] = "file-download",
        ["id"] = $"d{_nextId++}",
        ["timestamp"] = sent.At.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        ["item_id"] = sent.Item,
        ["size"] = sent.Size,
        ["user_id"] = sent.User,
        ["session_id"] = sent.Cookie,
        ["ip"] = sent.Ip,
        ["user_agent"] = sent.Agent,
    }, Json);

    /// <summary>Accept, process and store, as ingest does; every event must be stored.</summary>
    private async Task<List<Core.Events.TallyEvent>> ProcessAsync(IEnumerable<Sent> sent)
    {
        var batch = _parser.Parse(Encoding.UTF8.GetBytes(string.Join('\n', sent.Select(Line))));
        Assert.Empty(batch.Rejections);
        var kept = await _pipeline.ProcessAsync(batch.Events, None);
        Assert.Equal(batch.Events.Count, kept.Count);
        return batch.Events;
    }

    private async Task SendAsync(IEnumerable<Sent> sent)
    {
        var events = await ProcessAsync(sent);
        Assert.All(await _store.AppendAsync(events, None), Assert.True);
    }

    private Task SendAsync(params Sent[] sent) => SendAsync(sent.AsEnumerable());

    private static DateTime At(int month, int day, int hour = 12, int minute = 0) => new(2026, month, day, hour, minute, 0, DateTimeKind.Utc);

    /// <summary>Deterministic traffic: 0–5 downloads a day of items a–e by users u0–u9, some without size, some robots.</summary>
    private static List<Sent> Traffic(DateOnly from, DateOnly to, int seed)
    {
        var random = new Random(seed);
        var sent = new List<Sent>();
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            for (var i = random.Next(6); i > 0; i--)
            {
                var at = day.ToDateTime(new TimeOnly(random.Next(12), random.Next(60)), DateTimeKind.Utc);
                sent.Add(new Sent(at, $"{(char)('a' + random.Next(5))}", random.Next(5) == 0 ? null : random.Next(1, 1000),
                    User: $"u{random.Next(10)}", Agent: random.Next(8) == 0 ? Robot : Browser));
            }
        }
        return sent;
    }

    // ---- what the numbers must be ----------------------------------------------------------------

    /// <summary>Count, exact unique users and user-hours (the COUNTER session of a logged-in user), sum and count of size.</summary>
    private static string Truth(IEnumerable<Sent> sent)
    {
        var list = sent.Where(s => !s.IsRobot).ToList();
        var sized = list.Where(s => s.Size is not null).ToList();
        return Describe(list.Count, list.Select(s => s.User).Distinct().Count(), list.Select(s => (s.User, s.At.Hour)).Distinct().Count(),
            sized.Sum(s => (double)s.Size!.Value), sized.Count);
    }

    /// <summary>Per item and month, the sum of per-day truths: ids are salted per day, so a month's uniques add its days'.</summary>
    private static Dictionary<string, string> TruthByItem(IEnumerable<Sent> sent, DateOnly from, DateOnly to)
    {
        var inRange = sent.Where(s => s.Day >= from && s.Day <= to && !s.IsRobot).ToList();
        return inRange.GroupBy(s => s.Item).ToDictionary(g => g.Key, g =>
        {
            var days = g.GroupBy(s => s.Day).Select(d => d.ToList()).ToList();
            return Describe(g.Count(), days.Sum(d => d.Select(s => s.User).Distinct().Count()), days.Sum(d => d.Select(s => (s.User, s.At.Hour)).Distinct().Count()),
                g.Where(s => s.Size is not null).Sum(s => (double)s.Size!.Value), g.Count(s => s.Size is not null));
        });
    }

    private static string Describe(long count, long visitors, long sessions, double sum, long sized) =>
        $"count={count} visitors={visitors} sessions={sessions} sum={sum.ToString(CultureInfo.InvariantCulture)} sized={sized}";

    private static string Describe(MetricRow row) => Describe(row.Count, row.UniqueVisitors, row.UniqueSessions, row.Sums[0], row.SumCounts[0]);

    private async Task<Dictionary<string, string>> StoredAsync(MetricPeriod period, DateOnly from, DateOnly to) =>
        (await _store.ReadMetricsAsync(new MetricQuery(Agg, period, from, to, [], true, Agg.GroupBy), None))
        .ToDictionary(r => $"{r.Period:yyyy-MM-dd} {r.Keys[0]}", Describe);

    private async Task<MetricRow?> DayAsync(DateOnly day, string item) =>
        (await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Day, day, day, [new FieldFilter("item_id", [item], false)], true, Agg.GroupBy), None))
        .SingleOrDefault();

    private async Task<MetricRow?> MonthAsync(DateOnly month, string item) =>
        (await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Month, month, month, [new FieldFilter("item_id", [item], false)], true, Agg.GroupBy), None))
        .SingleOrDefault();

    /// <summary>Every stored daily and monthly row, one line each, in a stable order.</summary>
    private async Task<List<string>> SnapshotAsync()
    {
        var days = await StoredAsync(MetricPeriod.Day, new DateOnly(2025, 1, 1), new DateOnly(2027, 1, 1));
        var months = await StoredAsync(MetricPeriod.Month, new DateOnly(2025, 1, 1), new DateOnly(2027, 1, 1));
        return days.Select(d => $"day {d.Key} {d.Value}").Concat(months.Select(m => $"month {m.Key} {m.Value}")).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Overwrites a stored row with nonsense, so a test can see whether a run recomputed it.</summary>
    private Task PlantAsync(MetricPeriod period, DateOnly start, string item)
    {
        var row = new MetricRow(start, [item], 1) { Count = 999_999, UniqueVisitors = 999_999, UniqueSessions = 999_999, Grouping = 1 };
        return _store.ReplaceMetricsAsync(Agg, period, start, [row], None);
    }

    // ---- counting -------------------------------------------------------------------------------------

    /// <summary>Item a on March 15: 7 downloads by 3 visitors in 4 sessions, 700 bytes over 6 sized downloads; plus one robot.</summary>
    private static readonly Sent[] Mixed =
    [
        new(At(3, 15, 10, 5), "a", 100, User: "u1"),
        new(At(3, 15, 10, 40), "a", 200, User: "u1"),                     // same user, same hour: same session
        new(At(3, 15, 11, 10), "a", 300, User: "u1"),                     // next hour: new session
        new(At(3, 15, 9, 0), "a", 10, Cookie: "s9"),                       // a cookie is one session all day
        new(At(3, 15, 11, 50), "a", 20, Cookie: "s9"),
        new(At(3, 15, 11, 0), "a", null, Ip: "10.0.0.1"),                  // ip + agent, no size
        new(At(3, 15, 11, 30), "a", 70, Ip: "10.0.0.1"),
        new(At(3, 15, 11, 0), "a", 1000, Ip: "10.0.0.2", Agent: Robot),  // a robot: a 4th visitor, 5th session
        new(At(3, 15, 10, 0), "b", 5, User: "u1"),
        new(At(3, 14, 10, 5), "a", 1, User: "u1"),
    ];

    [Fact]
    public async Task Counts_exact_uniques_sums_and_averages_per_item_leave_robots_out()
    {
        await SendAsync(Mixed);
        var result = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal((2, 1), (result.Days, result.Months));

        var a = (await DayAsync(Today, "a"))!;
        Assert.Equal(Describe(7, 3, 4, 700, 6), Describe(a));
        Assert.Equal(700.0 / 6, a.Value(new MetricSelector(MetricKind.Avg, 0)), 9);
        Assert.Equal(700.0, a.Value(new MetricSelector(MetricKind.Sum, 0)));
        Assert.Equal(Describe(1, 1, 1, 5, 1), Describe((await DayAsync(Today, "b"))!));
        Assert.Equal(Describe(1, 1, 1, 1, 1), Describe((await DayAsync(Today.AddDays(-1), "a"))!));
        Assert.Equal(Describe(8, 4, 5, 701, 7), Describe((await MonthAsync(new DateOnly(2026, 3, 1), "a"))!));
    }

    [Fact]
    public async Task Robots_count_when_the_aggregation_includes_them_and_switching_restates_stored_days()
    {
        await SendAsync(Mixed);
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(7L, (await DayAsync(Today, "a"))!.Count);

        // The rules change: setup restates from the raw events already stored.
        await UseSchemaAsync(Downloads(o => o.Aggregations.Single(a => a.Name == "file-download-agg").IncludeRobots = true));
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(Describe(8, 4, 5, 1700, 7), Describe((await DayAsync(Today, "a"))!));
        Assert.Equal(Describe(1, 1, 1, 1, 1), Describe((await DayAsync(Today.AddDays(-1), "a"))!));
    }

    [Fact]
    public async Task Unique_visitors_and_sessions_are_exact_not_estimates()
    {
        const int users = 4999;
        var sent = Enumerable.Range(0, users).SelectMany(u => new Sent[]
        {
            new(At(3, 15, 9, u % 60), "a", 1, User: $"user-{u}"),
            new(At(3, 15, 9, 59 - u % 60), "a", 1, User: $"user-{u}"),
            new(At(3, 15, 10, u % 60), "a", 1, User: $"user-{u}"),
            new(At(3, 15, 10, u % 60), "b", 2, User: $"user-{u % 1234}"),
        });
        await SendAsync(sent);
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(Describe(3 * users, users, 2 * users, 3 * users, 3 * users), Describe((await DayAsync(Today, "a"))!));
        Assert.Equal(Describe(users, 1234, 1234, 2 * users, users), Describe((await DayAsync(Today, "b"))!));
    }

    [Fact]
    public async Task Daily_and_monthly_rows_match_what_was_sent_and_months_are_the_sum_of_their_days()
    {
        var sent = Traffic(new DateOnly(2026, 1, 20), Today, seed: 1);
        await SendAsync(sent);
        await _aggregator.RunAsync(cancellationToken: None);

        var daily = await StoredAsync(MetricPeriod.Day, new DateOnly(2026, 1, 1), Today);
        var expectedDaily = sent.Where(s => !s.IsRobot).GroupBy(s => $"{s.Day:yyyy-MM-dd} {s.Item}").ToDictionary(g => g.Key, g => Truth(g));
        Assert.Equal(expectedDaily.OrderBy(p => p.Key, StringComparer.Ordinal), daily.OrderBy(p => p.Key, StringComparer.Ordinal));

        foreach (var month in new[] { new DateOnly(2026, 1, 1), new DateOnly(2026, 2, 1), new DateOnly(2026, 3, 1) })
        {
            var last = month.AddMonths(1).AddDays(-1);
            var monthly = (await StoredAsync(MetricPeriod.Month, month, month)).ToDictionary(p => p.Key[11..], p => p.Value);
            var sumOfDays = (await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Day, month, last, [], false, Agg.GroupBy), None))
                .ToDictionary(r => r.Keys[0]!, Describe);
            Assert.NotEmpty(monthly);
            Assert.Equal(sumOfDays.OrderBy(p => p.Key, StringComparer.Ordinal), monthly.OrderBy(p => p.Key, StringComparer.Ordinal));
            Assert.Equal(TruthByItem(sent, month, last).OrderBy(p => p.Key, StringComparer.Ordinal), monthly.OrderBy(p => p.Key, StringComparer.Ordinal));
        }
    }

    // ---- incremental runs --------------------------------------------------------------------------

    [Fact]
    public async Task A_run_recomputes_only_the_days_that_received_events()
    {
        await SendAsync(new Sent(At(3, 10), "a", 1, User: "u1"), new Sent(At(3, 12), "a", 2, User: "u1"), new Sent(At(3, 15), "a", 4, User: "u1"));
        var first = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal((3, 1, 3L), (first.Days, first.Months, first.Events));
        var nothing = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal((0, 0, 0L), (nothing.Days, nothing.Months, nothing.Events));

        // If March 10 were recomputed, this planted row would be replaced.
        await PlantAsync(MetricPeriod.Day, new DateOnly(2026, 3, 10), "a");
        var fifteenth = Describe((await DayAsync(Today, "a"))!);
        await SendAsync(new Sent(At(3, 12, 13), "a", 8, User: "u2"));
        var second = await _aggregator.RunAsync(cancellationToken: None);

        Assert.Equal((1, 1, 2L), (second.Days, second.Months, second.Events)); // the one day is re-read whole
        Assert.Equal(Describe(2, 2, 2, 10, 2), Describe((await DayAsync(new DateOnly(2026, 3, 12), "a"))!));
        Assert.Equal(999_999L, (await DayAsync(new DateOnly(2026, 3, 10), "a"))!.Count);
        Assert.Equal(fifteenth, Describe((await DayAsync(Today, "a"))!));
        // The month is the sum of the stored days, whatever they hold.
        Assert.Equal(999_999L + 2 + 1, (await MonthAsync(new DateOnly(2026, 3, 1), "a"))!.Count);
    }

    [Fact]
    public async Task A_late_event_for_an_old_day_is_picked_up_by_the_next_run()
    {
        await SendAsync(new Sent(At(2, 20), "a", 1, User: "u1"), new Sent(At(3, 15), "a", 1, User: "u1"));
        await _aggregator.RunAsync(cancellationToken: None);
        var march = Describe((await MonthAsync(new DateOnly(2026, 3, 1), "a"))!);

        await SendAsync(new Sent(At(2, 20, 18), "a", 5, User: "u2"));
        var late = await _aggregator.RunAsync(cancellationToken: None);

        Assert.Equal((1, 1), (late.Days, late.Months));
        Assert.Equal(Describe(2, 2, 2, 6, 2), Describe((await DayAsync(new DateOnly(2026, 2, 20), "a"))!));
        Assert.Equal(Describe(2, 2, 2, 6, 2), Describe((await MonthAsync(new DateOnly(2026, 2, 1), "a"))!));
        Assert.Equal(march, Describe((await MonthAsync(new DateOnly(2026, 3, 1), "a"))!));
    }

    [Fact]
    public async Task Running_twice_gives_identical_metrics()
    {
        await SendAsync(Traffic(new DateOnly(2026, 2, 1), Today, seed: 2));
        await _aggregator.RunAsync(cancellationToken: None);
        var before = await SnapshotAsync();
        Assert.NotEmpty(before);

        Assert.Equal(0, (await _aggregator.RunAsync(cancellationToken: None)).Days);
        Assert.Equal(before, await SnapshotAsync());
        Assert.Empty(await _store.GetDirtyDaysAsync(None));
        Assert.NotNull(await _store.GetSettingAsync(Aggregator.LastRunSetting, None));
    }

    [Fact]
    public async Task A_rebuild_recomputes_its_range_only_and_gives_the_same_numbers()
    {
        var sent = Traffic(new DateOnly(2026, 2, 1), Today, seed: 3);
        await SendAsync(sent);
        await _aggregator.RunAsync(cancellationToken: None);
        var before = await SnapshotAsync();

        var inRange = sent.First(s => s.Day >= new DateOnly(2026, 3, 2) && !s.IsRobot);
        var outOfRange = sent.First(s => s.Day < new DateOnly(2026, 3, 1) && !s.IsRobot);
        await PlantAsync(MetricPeriod.Day, inRange.Day, inRange.Item);
        await PlantAsync(MetricPeriod.Month, new DateOnly(2026, 3, 1), inRange.Item);
        await PlantAsync(MetricPeriod.Day, outOfRange.Day, outOfRange.Item);

        var rebuilt = await _aggregator.RunAsync(new DateOnly(2026, 3, 1), Today, rebuild: true, cancellationToken: None);
        var daysWithData = sent.Where(s => s.Day.Month == 3).Select(s => s.Day).Distinct().Count();
        Assert.InRange(rebuilt.Days, daysWithData, Today.Day);
        Assert.Equal(1, rebuilt.Months);

        var after = await SnapshotAsync();
        var planted = $"{outOfRange.Day:yyyy-MM-dd} {outOfRange.Item} ";
        Assert.Equal(before.Where(l => !l.StartsWith($"day {planted}", StringComparison.Ordinal)), after.Where(l => !l.StartsWith($"day {planted}", StringComparison.Ordinal)));
        Assert.Equal(999_999L, (await DayAsync(outOfRange.Day, outOfRange.Item))!.Count);
        // Nothing outside the range was left marked for the next run either.
        Assert.Equal(0, (await _aggregator.RunAsync(cancellationToken: None)).Days);
        Assert.Equal(999_999L, (await DayAsync(outOfRange.Day, outOfRange.Item))!.Count);

        // A full rebuild restores everything.
        await _aggregator.RunAsync(rebuild: true, cancellationToken: None);
        Assert.Equal(before, await SnapshotAsync());
    }

    // ---- interrupted runs ---------------------------------------------------------------------------

    /// <summary>Does something at a chosen point of a run, as another writer or a crash would.</summary>
    private sealed class AfterDays(int daysDone, Action act) : IProgress<AggregationProgress>
    {
        public bool Fired { get; private set; }

        public void Report(AggregationProgress value)
        {
            if (value.DaysDone < daysDone || value.Current == "done" || Fired) return;
            Fired = true;
            act();
        }
    }

    [Fact]
    public async Task Events_stored_while_a_run_is_under_way_are_counted_by_the_next_run()
    {
        await SendAsync(new Sent(At(2, 10), "a", 1, User: "u1"), new Sent(At(3, 12), "a", 1, User: "u1"));
        var late = await ProcessAsync([new Sent(At(2, 10, 15), "a", 10, User: "u2")]);
        // February has been read; the run is about to read March when the late February 10 event is committed.
        var appendDuringRun = new AfterDays(1, () => Assert.True(_store.AppendAsync(late, None).GetAwaiter().GetResult().Single()));

        await _aggregator.RunAsync(progress: appendDuringRun, cancellationToken: None);
        Assert.True(appendDuringRun.Fired);
        Assert.Equal(1L, (await DayAsync(new DateOnly(2026, 2, 10), "a"))!.Count);
        Assert.Contains(await _store.GetDirtyDaysAsync(None), d => d.Day == new DateOnly(2026, 2, 10));

        var next = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(1, next.Days);
        Assert.Equal(Describe(2, 2, 2, 11, 2), Describe((await DayAsync(new DateOnly(2026, 2, 10), "a"))!));
        Assert.Equal(2L, (await MonthAsync(new DateOnly(2026, 2, 1), "a"))!.Count);
    }

    [Fact]
    public async Task A_run_that_dies_halfway_loses_nothing_and_the_next_run_completes_it()
    {
        var sent = Traffic(new DateOnly(2026, 2, 1), Today, seed: 4);
        await SendAsync(sent);
        var dirty = (await _store.GetDirtyDaysAsync(None)).Count;
        Assert.True(dirty > 3);
        using var crash = new CancellationTokenSource();
        // It dies once February is done, before March.
        var dieAfterFebruary = new AfterDays(1, crash.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _aggregator.RunAsync(progress: dieAfterFebruary, cancellationToken: crash.Token));
        Assert.Equal(dirty, (await _store.GetDirtyDaysAsync(None)).Count);

        var resumed = await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal(dirty, resumed.Days);
        var march = (await StoredAsync(MetricPeriod.Month, new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 1))).ToDictionary(p => p.Key[11..], p => p.Value);
        Assert.Equal(TruthByItem(sent, new DateOnly(2026, 3, 1), Today).OrderBy(p => p.Key, StringComparer.Ordinal), march.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    // ---- retention ----------------------------------------------------------------------------------

    [Fact]
    public async Task After_retention_drops_raw_days_their_metrics_survive_runs_and_rebuilds()
    {
        await UseSchemaAsync(Downloads(DownloadType(t => { t.Partition = "day"; t.RetentionDays = 10; })));
        // Events are sent while they are young (the parser refuses events older than the retention).
        _clock.Now = At(2, 20, 23);
        await SendAsync(new Sent(At(2, 20), "a", 1, User: "u1"), new Sent(At(2, 20, 13), "a", 2, User: "u2"));
        _clock.Now = At(3, 1, 23);
        await SendAsync(new Sent(At(3, 1), "a", 4, User: "u1"));
        _clock.Now = Now;
        await SendAsync(new Sent(At(3, 10), "a", 8, User: "u1"), new Sent(At(3, 15, 9), "a", 16, User: "u1"));
        await _aggregator.RunAsync(cancellationToken: None);

        // A March 1 event arrives after that run and is dropped with its partition before being aggregated.
        _clock.Now = At(3, 1, 23);
        await SendAsync(new Sent(At(3, 1, 5), "a", 32, User: "u9"));
        _clock.Now = Now;

        var retention = await new RetentionService(_schema, _store, _store, _store, _clock).RunAsync(None);
        Assert.Equal(2, retention.DroppedPartitions.Count); // Feb 20 and Mar 1 end before the cutoff, Mar 5
        Assert.Empty(await _store.ScanAllAsync(_schema.EventTypes["file-download"], to: At(3, 5, 0)));

        await SendAsync(new Sent(At(3, 10, 11), "a", 64, User: "u2"));
        await _aggregator.RunAsync(cancellationToken: None);
        await _aggregator.RunAsync(new DateOnly(2026, 1, 1), Today, rebuild: true, cancellationToken: None);
        await _aggregator.RunAsync(rebuild: true, cancellationToken: None);

        Assert.Equal(Describe(2, 2, 2, 3, 2), Describe((await DayAsync(new DateOnly(2026, 2, 20), "a"))!));
        Assert.Equal(Describe(1, 1, 1, 4, 1), Describe((await DayAsync(new DateOnly(2026, 3, 1), "a"))!));
        Assert.Equal(Describe(2, 2, 2, 72, 2), Describe((await DayAsync(new DateOnly(2026, 3, 10), "a"))!));
        Assert.Equal(Describe(2, 2, 2, 3, 2), Describe((await MonthAsync(new DateOnly(2026, 2, 1), "a"))!));
        Assert.Equal(Describe(4, 4, 4, 92, 4), Describe((await MonthAsync(new DateOnly(2026, 3, 1), "a"))!));
        Assert.Empty(await _store.GetDirtyDaysAsync(None));
    }

    // ---- statistics ---------------------------------------------------------------------------------

    [Fact]
    public async Task The_days_with_metrics_run_from_the_first_to_the_last_day_people_used_and_follow_restatements()
    {
        Assert.Null(await _store.GetMetricDaysAsync(Agg, None));
        await SendAsync(new Sent(At(2, 20), "a", Agent: Robot), new Sent(At(3, 2), "a", 5, User: "u1"), new Sent(At(3, 9), "b", 7, User: "u2"),
            new Sent(At(3, 12), "a", Agent: Robot));
        await _aggregator.RunAsync(cancellationToken: None);
        Assert.Equal((new DateOnly(2026, 3, 2), new DateOnly(2026, 3, 9)), await _store.GetMetricDaysAsync(Agg, None));
        Assert.Null(await _store.GetMetricDaysAsync(_schema.Aggregations["record-view-agg"], None));

        await _store.ReplaceMetricsAsync(Agg, MetricPeriod.Day, new DateOnly(2026, 3, 9), [], None);
        Assert.Equal((new DateOnly(2026, 3, 2), new DateOnly(2026, 3, 2)), await _store.GetMetricDaysAsync(Agg, None));
    }

    [Fact]
    public async Task A_daily_timeline_has_every_day_zero_filled_in_order()
    {
        var sent = new[] { new Sent(At(3, 2), "a", 5, User: "u1"), new Sent(At(3, 2, 13), "b", 7, User: "u2"), new Sent(At(3, 9), "a", 1, User: "u1") };
        await SendAsync(sent);
        await _aggregator.RunAsync(cancellationToken: None);

        var timeline = await new StatsService(_store, _store).TimelineAsync(Agg, new StatsRequest(new DateOnly(2026, 2, 27), new DateOnly(2026, 3, 10), Interval.Day, [], 100, 0, null), None);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => new DateOnly(2026, 2, 27).AddDays(i)), timeline.Select(r => r.Period));
        var byDay = timeline.ToDictionary(r => r.Period, Describe);
        Assert.Equal(Describe(2, 2, 2, 12, 2), byDay[new DateOnly(2026, 3, 2)]);
        Assert.Equal(Describe(1, 1, 1, 1, 1), byDay[new DateOnly(2026, 3, 9)]);
        Assert.All(timeline.Where(r => r.Period.Day is not 2 and not 9), r => Assert.Equal(Describe(0, 0, 0, 0, 0), Describe(r)));

        var onlyB = await new StatsService(_store, _store).TimelineAsync(Agg,
            new StatsRequest(new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 10), Interval.Day, [new FieldFilter("item_id", ["b"], false)], 100, 0, null), None);
        Assert.Equal([0L, 1L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L], onlyB.Select(r => r.Count));
    }

    [Fact]
    public async Task Unique_visitors_are_distinct_across_items_and_filters_within_a_day_and_a_visitor_counts_on_each_day()
    {
        // On March 14 a reader opens five items and another visitor one of them; on March 15 the reader comes back to one.
        await SendAsync([
            .. "abcde".Select((item, i) => new Sent(At(3, 14, 10, i), item.ToString(), 1, User: "reader")),
            new Sent(At(3, 14, 11), "a", 1, User: "other"),
            new Sent(At(3, 15, 9), "a", 1, User: "reader"),
        ]);
        await _aggregator.RunAsync(cancellationToken: None);
        var stats = new StatsService(_store, _store);
        var (first, second) = (new DateOnly(2026, 3, 14), new DateOnly(2026, 3, 15));
        async Task<long[]> VisitorsAsync(Interval interval, params FieldFilter[] filters) =>
            (await stats.TimelineAsync(Agg, new StatsRequest(first, second, interval, filters, 100, 0, null), None)).Select(r => r.UniqueVisitors).ToArray();

        Assert.Equal(new long[] { 2, 1 }, await VisitorsAsync(Interval.Day));
        Assert.Equal(new long[] { 2, 1 }, await VisitorsAsync(Interval.Day, new FieldFilter("item_id", ["a"], false)));
        Assert.Equal(new long[] { 1, 0 }, await VisitorsAsync(Interval.Day, new FieldFilter("item_id", ["b"], false)));
        // Ids are salted per day, so the month counts the reader once on each day it came.
        Assert.Equal(new long[] { 3 }, await VisitorsAsync(Interval.Month));
        var month = await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Month, new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 1), [], false, []), None);
        Assert.Equal(Describe(7, 3, 3, 7, 7), Describe(Assert.Single(month)));

        var perItem = await stats.RankAsync(Agg, Agg.GroupBy, new MetricSelector(MetricKind.UniqueVisitors, -1), new StatsRequest(first, second, Interval.Day, [], 100, 0, null), None);
        Assert.Equal(["a=3", "b=1", "c=1", "d=1", "e=1"], perItem.Rows.Select(r => $"{r.Keys[0]}={r.UniqueVisitors}"));
    }

    [Theory]
    [InlineData("2026-01-09", "2026-03-10")] // ragged days at both ends, a whole month between
    [InlineData("2026-01-31", "2026-03-01")] // one ragged day at each end
    [InlineData("2026-02-01", "2026-02-28")] // exactly one whole month
    [InlineData("2026-01-01", "2026-02-28")] // whole months only
    [InlineData("2026-02-03", "2026-02-20")] // inside one month
    [InlineData("2026-01-15", "2026-02-10")] // across a month boundary, no whole month
    [InlineData("2025-12-20", "2026-03-15")] // across a year boundary
    public async Task A_monthly_timeline_equals_the_sum_of_its_days(string from, string to)
    {
        var sent = Traffic(new DateOnly(2025, 12, 1), Today, seed: 5);
        await SendAsync(sent);
        await _aggregator.RunAsync(cancellationToken: None);
        var (start, end) = (DateOnly.Parse(from, CultureInfo.InvariantCulture), DateOnly.Parse(to, CultureInfo.InvariantCulture));
        var stats = new StatsService(_store, _store);

        var monthly = await stats.TimelineAsync(Agg, new StatsRequest(start, end, Interval.Month, [], 100, 0, null), None);
        var daily = await _store.ReadMetricsAsync(new MetricQuery(Agg, MetricPeriod.Day, start, end, [], true, []), None);
        var expected = new List<string>();
        for (var month = new DateOnly(start.Year, start.Month, 1); month <= end; month = month.AddMonths(1))
        {
            var total = new MetricRow(month, [], 1);
            foreach (var day in daily.Where(r => r.Period.Year == month.Year && r.Period.Month == month.Month)) total.Add(day);
            var truth = sent.Where(s => !s.IsRobot && s.Day >= start && s.Day <= end && s.Day.Year == month.Year && s.Day.Month == month.Month);
            Assert.Equal(truth.Count(), total.Count);
            Assert.Equal((double)truth.Sum(s => s.Size ?? 0), total.Sums[0]);
            expected.Add($"{month:yyyy-MM-dd} {Describe(total)}");
        }
        Assert.Equal(expected, monthly.Select(r => $"{r.Period:yyyy-MM-dd} {Describe(r)}"));

        // Ranking over the same range reads the same mixture of months and days.
        var ranked = await stats.RankAsync(Agg, Agg.GroupBy, MetricSelector.Count, new StatsRequest(start, end, Interval.Month, [], 100, 0, null), None);
        Assert.Equal(TruthByItem(sent, start, end).OrderBy(p => p.Key, StringComparer.Ordinal),
            ranked.Rows.ToDictionary(r => r.Keys[0]!, Describe).OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_engine_ranks_pages_of_groups_as_the_reference_in_dotnet_does()
    {
        await SendAsync(Traffic(new DateOnly(2025, 12, 1), Today, seed: 11));
        await _aggregator.RunAsync(cancellationToken: None);
        var metrics = new[]
        {
            MetricSelector.Count, new MetricSelector(MetricKind.UniqueVisitors, -1), new MetricSelector(MetricKind.UniqueSessions, -1),
            new MetricSelector(MetricKind.Sum, 0), new MetricSelector(MetricKind.Avg, 0),
        };
        var filters = new[] { Array.Empty<FieldFilter>(), [new FieldFilter("item_id", ["a", "c", "e"], false)], [new FieldFilter("item_id", ["b"], true)] };
        // Ragged days at both ends and whole months between, as StatsService splits such a range.
        var parts = new[] { (MetricPeriod.Day, new DateOnly(2025, 12, 20), new DateOnly(2025, 12, 31)), (MetricPeriod.Month, new DateOnly(2026, 1, 1), new DateOnly(2026, 2, 28)), (MetricPeriod.Day, new DateOnly(2026, 3, 1), Today) };
        foreach (var filter in filters)
        {
            var queries = parts.Select(p => new MetricQuery(Agg, p.Item1, p.Item2, p.Item3, filter, false, Agg.GroupBy)).ToList();
            foreach (var metric in metrics)
            {
                foreach (var (count, offset) in new[] { (100, 0), (2, 1), (3, 1000) })
                {
                    var expected = await RankedMetrics.RankAsync(_store, queries, metric, offset, count, None);
                    var actual = await _store.RankMetricsAsync(queries, metric, offset, count, None);
                    Assert.Equal(expected.TotalGroups, actual.TotalGroups);
                    Assert.Equal(expected.Rows.Select(r => $"{r.Keys[0]} {Describe(r)}"), actual.Rows.Select(r => $"{r.Keys[0]} {Describe(r)}"));
                }
            }
        }
    }

    [Fact]
    public async Task Ranking_orders_by_the_chosen_metric_breaks_ties_by_key_and_pages()
    {
        // a: 3 downloads by 3 users; b: 5 by one user; c: 1; d: 4 by 2 users; e: 4 by 4 users. Each item on one day
        // (uniques are per day), the days spread over whole February and the ragged end of March.
        var plan = new (string Item, DateOnly Day, int Times, int Users, long Size)[]
        {
            ("a", new(2026, 2, 10), 3, 3, 50), ("b", new(2026, 3, 3), 5, 1, 10), ("c", new(2026, 2, 20), 1, 1, 1000),
            ("d", new(2026, 3, 5), 4, 2, 20), ("e", new(2026, 3, 14), 4, 4, 5),
        };
        await SendAsync(plan.SelectMany(p => Enumerable.Range(0, p.Times).Select(i =>
            new Sent(p.Day.ToDateTime(new TimeOnly(1 + i, 0), DateTimeKind.Utc), p.Item, p.Size, User: $"u{i % p.Users}"))));
        await _aggregator.RunAsync(cancellationToken: None);
        var stats = new StatsService(_store, _store);
        Task<RankedMetrics> RankAsync(MetricSelector metric, int count, int offset, params FieldFilter[] filters) =>
            stats.RankAsync(Agg, Agg.GroupBy, metric, new StatsRequest(new DateOnly(2026, 1, 20), Today, Interval.Day, filters, count, offset, null), None);

        var byCount = await RankAsync(MetricSelector.Count, 100, 0);
        Assert.Equal(5, byCount.TotalGroups);
        Assert.Equal(["b", "d", "e", "a", "c"], byCount.Rows.Select(r => r.Keys[0]));
        Assert.Equal([5L, 4L, 4L, 3L, 1L], byCount.Rows.Select(r => r.Count));

        Assert.Equal(["d", "e"], (await RankAsync(MetricSelector.Count, 2, 1)).Rows.Select(r => r.Keys[0]));
        Assert.Equal(["c"], (await RankAsync(MetricSelector.Count, 2, 4)).Rows.Select(r => r.Keys[0]));
        var past = await RankAsync(MetricSelector.Count, 2, 5);
        Assert.Empty(past.Rows);
        Assert.Equal(5, past.TotalGroups);

        Assert.Equal(["e", "a", "d", "b", "c"], (await RankAsync(new MetricSelector(MetricKind.UniqueVisitors, -1), 100, 0)).Rows.Select(r => r.Keys[0]));
        Assert.Equal(["c", "a", "d", "b", "e"], (await RankAsync(new MetricSelector(MetricKind.Sum, 0), 100, 0)).Rows.Select(r => r.Keys[0]));

        var withoutB = await RankAsync(MetricSelector.Count, 2, 0, new FieldFilter("item_id", ["b"], true));
        Assert.Equal(4, withoutB.TotalGroups);
        Assert.Equal(["d", "e"], withoutB.Rows.Select(r => r.Keys[0]));
    }
}

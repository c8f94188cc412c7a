using Tally.Core.Aggregate;
using Tally.Core.Events;
using Tally.Core.Configuration;
using Tally.Server.Live;

namespace Tally.Server.Tests;

/// <summary>What a live view is told: every stored event once, and after an aggregation only what the metrics may lack.</summary>
public sealed class UsageFeedTests
{
    private static readonly DateTime Now = new(2026, 6, 10, 12, 0, 0, DateTimeKind.Utc);
    private static readonly TallySchema Schema = TallySchema.Compile(DefaultConfiguration.Create());
    private static readonly AggregationResult Changed = new(Days: 1, Months: 1, Events: 10, TimeSpan.Zero, CounterMonths: []);
    private static readonly DateOnly Day = DateOnly.FromDateTime(Now);

    private static TallyEvent Event(string type, bool robot = false, int daysAgo = 0) =>
        new(Schema.EventTypes[type], Guid.NewGuid().ToString(), Now.AddDays(-daysAgo), new object?[Schema.EventTypes[type].Fields.Count]) { IsRobot = robot };

    private static void Store(UsageFeed feed, params TallyEvent[] events) => feed.Stored(events, events.Select(_ => true).ToArray());

    private static async Task<FeedUpdate> NextAsync(UsageFeed.Subscription subscription)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await subscription.NextAsync(timeout.Token);
    }

    private static async Task AssertQuietAsync(UsageFeed.Subscription subscription)
    {
        using var shortly = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => subscription.NextAsync(shortly.Token));
    }

    [Fact]
    public async Task Stored_events_are_counted_per_type_and_day_with_robots_apart_and_duplicates_left_out()
    {
        var feed = new UsageFeed();
        using var subscription = feed.Subscribe();
        var duplicate = Event("record-view");
        feed.Stored([Event("record-view"), Event("record-view"), Event("record-view", robot: true), Event("file-download"), Event("record-view", daysAgo: 2), duplicate],
            [true, true, true, true, true, false]);

        var update = await NextAsync(subscription);
        Assert.Null(update.Aggregated);
        Assert.Equal(
            [new StoredCount("record-view", Day.AddDays(-2), 1, 0), new StoredCount("file-download", Day, 1, 0), new StoredCount("record-view", Day, 2, 1)],
            update.Stored);
        await AssertQuietAsync(subscription);
    }

    [Fact]
    public async Task A_slow_reader_gets_everything_merged_into_one_update_and_each_subscriber_gets_its_own()
    {
        var feed = new UsageFeed();
        using var slow = feed.Subscribe();
        using var other = feed.Subscribe();
        for (var i = 0; i < 1000; i++) Store(feed, Event("record-view"));

        Assert.Equal(new StoredCount("record-view", Day, 1000, 0), Assert.Single((await NextAsync(slow)).Stored));
        Assert.Equal(new StoredCount("record-view", Day, 1000, 0), Assert.Single((await NextAsync(other)).Stored));
        other.Dispose();
        Store(feed, Event("record-view"));
        Assert.Equal(1, Assert.Single((await NextAsync(slow)).Stored).Events);
    }

    [Fact]
    public async Task After_an_aggregation_that_changed_metrics_what_came_before_it_is_not_told_again_but_what_came_during_it_is()
    {
        var feed = new UsageFeed();
        using var subscription = feed.Subscribe();
        Store(feed, Event("record-view"));
        Assert.Equal(1, Assert.Single((await NextAsync(subscription)).Stored).Events);
        Store(feed, Event("record-view"), Event("record-view"));

        feed.AggregationStarting();
        Store(feed, Event("file-download"));
        Assert.Equal([new StoredCount("file-download", Day, 1, 0), new StoredCount("record-view", Day, 2, 0)], (await NextAsync(subscription)).Stored);
        Store(feed, Event("file-download", robot: true));
        feed.AggregationEnded(Changed);

        // The view reads the metrics again (which hold the three views) and adds what the run may have missed.
        var update = await NextAsync(subscription);
        Assert.Equal(Changed, update.Aggregated);
        Assert.Equal(new StoredCount("file-download", Day, 1, 1), Assert.Single(update.Stored));
        await AssertQuietAsync(subscription);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_failed_run_or_one_with_nothing_to_do_changes_nothing_for_the_view(bool failed)
    {
        var feed = new UsageFeed();
        using var subscription = feed.Subscribe();
        Store(feed, Event("record-view"));
        feed.AggregationStarting();
        Store(feed, Event("record-view"));
        feed.AggregationEnded(failed ? null : new AggregationResult(0, 0, 0, TimeSpan.Zero, []));

        var update = await NextAsync(subscription);
        Assert.Null(update.Aggregated);
        Assert.Equal(2, Assert.Single(update.Stored).Events);
        await AssertQuietAsync(subscription);
    }

    [Fact]
    public async Task A_view_that_joins_during_a_run_is_told_when_the_run_ends()
    {
        var feed = new UsageFeed();
        feed.AggregationStarting();
        using var late = feed.Subscribe();
        feed.AggregationEnded(Changed);
        Assert.Equal(Changed, (await NextAsync(late)).Aggregated);
    }
}

using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Tally.Tracker.Tests;

/// <summary>Keeps what it is sent, for assertions.</summary>
public sealed class MemoryBackend : ITrackerBackend
{
    public ConcurrentQueue<TrackerEvent> Events { get; } = new();

    public void Send(TrackerEvent trackerEvent) => Events.Enqueue(trackerEvent);
}

public sealed class FailingBackend : ITrackerBackend
{
    public void Send(TrackerEvent trackerEvent) => throw new IOException("disk full");
}

public sealed class ContextTests
{
    private static Dictionary<string, object?> Values(params (string Key, object? Value)[] pairs) => pairs.ToDictionary(p => p.Key, p => p.Value);

    private readonly MemoryBackend _backend = new();
    private readonly Tracker _tracker;

    public ContextTests() => _tracker = new Tracker(_backend);

    private TrackerEvent Last => _backend.Events.Last();

    [Fact]
    public void Emit_produces_the_envelope_with_a_utc_timestamp_the_context_and_the_data()
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.FromHours(2)));
        var tracker = new Tracker(_backend, clock);
        tracker.EnterContext("outer", Values(("user_id", 10938)));
        tracker.Emit("navigation.request", Values(("url", "http://www.example.org/some/path/1")));

        var json = JsonDocument.Parse(TrackerEventJson.ToJson(Last)).RootElement;
        Assert.Equal("navigation.request", json.GetProperty("name").GetString());
        Assert.Equal("2026-11-23T08:00:00Z", json.GetProperty("timestamp").GetString());
        Assert.Equal(10938, json.GetProperty("context").GetProperty("user_id").GetInt32());
        Assert.Equal("http://www.example.org/some/path/1", json.GetProperty("data").GetProperty("url").GetString());
        Assert.Equal(DateTimeKind.Utc, Last.Timestamp.Kind);
    }

    [Fact]
    public void Contexts_nest_merge_outer_to_inner_and_leaving_restores_the_outer_value()
    {
        _tracker.EnterContext("outer", Values(("user_id", 10938), ("course", "c1")));
        using (_tracker.Context("request", Values(("user_id", 11111), ("session_id", "2987"))))
        {
            _tracker.Emit("inner");
            Assert.Equal(Values(("user_id", 11111), ("course", "c1"), ("session_id", "2987")), Last.Context);
        }
        _tracker.Emit("after");
        Assert.Equal(Values(("user_id", 10938), ("course", "c1")), Last.Context);

        _tracker.ExitContext("outer");
        _tracker.Emit("none");
        Assert.Empty(Last.Context);
    }

    [Fact]
    public void Exiting_by_name_leaves_the_innermost_context_of_that_name_and_keeps_the_others()
    {
        _tracker.EnterContext("a", Values(("k", "a1")));
        _tracker.EnterContext("b", Values(("k", "b")));
        _tracker.EnterContext("a", Values(("k", "a2")));
        _tracker.ExitContext("a");
        _tracker.Emit("e");
        Assert.Equal("b", Last.Context["k"]);
        _tracker.ExitContext("b");
        _tracker.Emit("e");
        Assert.Equal("a1", Last.Context["k"]);
        _tracker.ExitContext("unknown");
        _tracker.Emit("e");
        Assert.Equal("a1", Last.Context["k"]);
    }

    [Fact]
    public void A_scope_left_out_of_order_removes_only_itself()
    {
        var first = _tracker.Context("first", Values(("k", 1), ("only-first", true)));
        var second = _tracker.Context("second", Values(("k", 2)));
        first.Dispose();
        first.Dispose();
        _tracker.Emit("e");
        Assert.Equal(Values(("k", 2)), Last.Context);
        second.Dispose();
        _tracker.Emit("e");
        Assert.Empty(Last.Context);
    }

    [Fact]
    public async Task Contexts_flow_across_await_and_into_tasks_but_not_back_out_of_them()
    {
        using var scope = _tracker.Context("request", Values(("user_id", 7)));
        await Task.Yield();
        await Task.Delay(1);
        _tracker.Emit("after-await");
        Assert.Equal(7, Last.Context["user_id"]);

        await Task.Run(async () =>
        {
            await Task.Delay(1);
            _tracker.EnterContext("inside", Values(("task", "yes")));
            _tracker.Emit("in-task");
        });
        Assert.Equal(Values(("user_id", 7), ("task", "yes")), _backend.Events.Single(e => e.Name == "in-task").Context);
        _tracker.Emit("back");
        Assert.Equal(Values(("user_id", 7)), Last.Context);
    }

    [Fact]
    public async Task Concurrent_requests_never_see_each_others_context()
    {
        // Every request enters its context before any emits, so they all overlap.
        var entered = 0;
        var allEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(request => Task.Run(async () =>
        {
            using var scope = _tracker.Context("request", Values(("request", request)));
            if (Interlocked.Increment(ref entered) == 16) allEntered.SetResult();
            await allEntered.Task;
            for (var i = 0; i < 50; i++)
            {
                await Task.Yield();
                using var inner = _tracker.Context("step", Values(("step", i)));
                _tracker.Emit("work", Values(("request", request), ("step", i)));
            }
        })));

        Assert.Equal(16 * 50, _backend.Events.Count);
        Assert.All(_backend.Events, e =>
        {
            Assert.Equal(e.Data["request"], e.Context["request"]);
            Assert.Equal(e.Data["step"], e.Context["step"]);
        });
    }
}

public sealed class ProcessorAndRoutingTests
{
    private sealed class Rename : ITrackerProcessor
    {
        public TrackerEvent? Process(TrackerEvent trackerEvent) => trackerEvent with { Name = "tally." + trackerEvent.Name };
    }

    private sealed class AddField : ITrackerProcessor
    {
        public TrackerEvent? Process(TrackerEvent trackerEvent) =>
            trackerEvent with { Data = new Dictionary<string, object?>(trackerEvent.Data) { ["platform"] = "web" } };
    }

    private sealed class Throws : ITrackerProcessor
    {
        public TrackerEvent? Process(TrackerEvent trackerEvent) => throw new InvalidOperationException("bug in a processor");
    }

    private static RoutingBackend Route(IEnumerable<ITrackerProcessor> processors, ILogger? logger = null, params (string, ITrackerBackend)[] backends) =>
        new(processors, backends.Select(b => KeyValuePair.Create(b.Item1, b.Item2)), logger);

    [Fact]
    public void Processors_run_in_order_and_can_change_replace_or_drop_an_event()
    {
        var backend = new MemoryBackend();
        var tracker = new Tracker(Route([new NameFilter(NameFilterMode.DenyList, names: ["heartbeat"]), new Rename(), new AddField()], null, ("memory", backend)));
        tracker.Emit("record-view", new Dictionary<string, object?> { ["item_id"] = "a" });
        tracker.Emit("heartbeat");

        var stored = Assert.Single(backend.Events);
        Assert.Equal("tally.record-view", stored.Name);
        Assert.Equal(new Dictionary<string, object?> { ["item_id"] = "a", ["platform"] = "web" }, stored.Data);
    }

    [Fact]
    public void A_processor_that_throws_is_logged_and_the_event_goes_on()
    {
        var backend = new MemoryBackend();
        var logger = new ListLogger();
        var tracker = new Tracker(Route([new Throws(), new Rename()], logger, ("memory", backend)));
        tracker.Emit("record-view");

        Assert.Equal("tally.record-view", Assert.Single(backend.Events).Name);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("Throws", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failing_backend_does_not_stop_the_others_and_each_branch_has_its_own_processors()
    {
        var all = new MemoryBackend();
        var downloadsOnly = new MemoryBackend();
        var logger = new ListLogger();
        var root = Route([], logger,
            ("broken", new FailingBackend()),
            ("everything", all),
            ("downloads", Route([new NameFilter(NameFilterMode.AllowList, patterns: ["file-.*"])], logger, ("memory", downloadsOnly))));
        var tracker = new Tracker(root);
        tracker.Emit("record-view");
        tracker.Emit("file-download");

        Assert.Equal(["record-view", "file-download"], all.Events.Select(e => e.Name));
        Assert.Equal(["file-download"], downloadsOnly.Events.Select(e => e.Name));
        Assert.Equal(2, logger.Entries.Count(e => e.Message.Contains("broken", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(NameFilterMode.AllowList, "edx.course.enrollment.activated", true)]
    [InlineData(NameFilterMode.AllowList, "edx.course.enrollment.activated.extra", false)]
    [InlineData(NameFilterMode.AllowList, "record-view", true)]
    [InlineData(NameFilterMode.AllowList, "record-views", false)]
    [InlineData(NameFilterMode.DenyList, "edx.course.enrollment.deactivated", false)]
    [InlineData(NameFilterMode.DenyList, "file-download", true)]
    public void Name_filters_match_exact_names_and_whole_name_patterns(NameFilterMode mode, string name, bool passes)
    {
        var filter = new NameFilter(mode, names: ["record-view"], patterns: [@"edx\.course\.enrollment\.(activated|deactivated)"]);
        var trackerEvent = new TrackerEvent(name, DateTime.UtcNow, new Dictionary<string, object?>(), new Dictionary<string, object?>());
        Assert.Equal(passes, filter.Process(trackerEvent) is not null);
    }

    [Fact]
    public void The_logger_backend_writes_the_envelope_as_json()
    {
        var logger = new ListLogger();
        var tracker = new Tracker(new LoggerBackend(logger));
        using (tracker.Context("request", new Dictionary<string, object?> { ["user_id"] = "u1" }))
            tracker.Emit("record-view", new Dictionary<string, object?> { ["item_id"] = "a" });

        var json = JsonDocument.Parse(Assert.Single(logger.Entries).Message).RootElement;
        Assert.Equal("u1", json.GetProperty("context").GetProperty("user_id").GetString());
        Assert.Equal("a", json.GetProperty("data").GetProperty("item_id").GetString());
    }
}

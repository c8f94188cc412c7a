using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tally.Tracker.Tests;

/// <summary>A backend that holds every event until released, as a slow network would.</summary>
public sealed class GatedBackend : ITrackerBackend
{
    private readonly ManualResetEventSlim _open = new(false);

    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<string> Names { get; } = new();

    /// <summary>Completes when the first event has reached the backend (and waits there).</summary>
    public Task Entered => _entered.Task;

    public void Send(TrackerEvent trackerEvent)
    {
        _entered.TrySetResult();
        _open.Wait(TimeSpan.FromSeconds(30));
        Names.Enqueue(trackerEvent.Name);
    }

    public void Open() => _open.Set();
}

/// <summary>Reads the tracker's counters for one backend name, as an exporter would.</summary>
public sealed class MetricsReader : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public MetricsReader(string backend)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == Tally.Tracker.TrackerMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "backend" && (string?)tag.Value == backend) _totals.AddOrUpdate(instrument.Name, value, (_, total) => total + value);
            }
        });
        _listener.Start();
    }

    public long this[string instrument] => _totals.GetValueOrDefault(instrument);

    public void Dispose() => _listener.Dispose();
}

public sealed class AsyncRoutingTests
{
    private static TrackerEvent Event(string name) => new(name, DateTime.UtcNow, new Dictionary<string, object?>(), new Dictionary<string, object?>());

    [Fact]
    public async Task Emitting_never_waits_on_a_slow_backend_and_dispose_flushes_everything()
    {
        var slow = new GatedBackend();
        var backend = new AsyncRoutingBackend(slow, capacity: 1000);
        var tracker = new Tracker(backend);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 500; i++) tracker.Emit($"e{i}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"emitting took {watch.Elapsed}");
        Assert.Empty(slow.Names);

        slow.Open();
        await backend.DisposeAsync();
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"e{i}"), slow.Names);
    }

    [Theory]
    [InlineData(BufferFullPolicy.DropNewest, new[] { "e0", "e1", "e2", "e3" })]
    [InlineData(BufferFullPolicy.DropOldest, new[] { "e0", "e7", "e8", "e9" })]
    public async Task A_full_buffer_drops_by_policy_and_counts_the_drops(BufferFullPolicy policy, string[] delivered)
    {
        var name = "policy-" + policy;
        using var metrics = new MetricsReader(name);
        var slow = new GatedBackend();
        var backend = new AsyncRoutingBackend(slow, name, capacity: 3, policy: policy);
        backend.Send(Event("e0"));
        // The first event is taken by the sender, which waits in the backend; three more fill the buffer.
        await slow.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 1; i < 10; i++) backend.Send(Event($"e{i}"));

        slow.Open();
        await backend.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(delivered, slow.Names);
        Assert.Equal(6, metrics["tally.tracker.dropped"]);
        await backend.DisposeAsync();
    }

    [Fact]
    public async Task Block_waits_for_room_up_to_its_timeout_then_drops()
    {
        const string Name = "block";
        using var metrics = new MetricsReader(Name);
        var slow = new GatedBackend();
        var backend = new AsyncRoutingBackend(slow, Name, capacity: 1, policy: BufferFullPolicy.Block, blockTimeout: TimeSpan.FromSeconds(1.5));
        backend.Send(Event("taken"));
        await slow.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        backend.Send(Event("buffered"));
        var watch = Stopwatch.StartNew();
        backend.Send(Event("dropped after waiting"));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
        Assert.Equal(1, metrics["tally.tracker.dropped"]);

        _ = Task.Run(async () =>
        {
            await Task.Delay(100);
            slow.Open();
        });
        backend.Send(Event("waited for room"));
        await backend.DisposeAsync();
        Assert.Equal(["taken", "buffered", "waited for room"], slow.Names);
    }

    [Fact]
    public async Task A_failing_backend_is_counted_and_the_events_after_it_still_go_out()
    {
        const string Name = "failing";
        using var metrics = new MetricsReader(Name);
        var memory = new MemoryBackend();
        var backend = new AsyncRoutingBackend(new RoutingBackend([], [KeyValuePair.Create("memory", (ITrackerBackend)memory)]), Name);
        var failing = new AsyncRoutingBackend(new FailingBackend(), Name);
        for (var i = 0; i < 5; i++)
        {
            backend.Send(Event($"e{i}"));
            failing.Send(Event($"e{i}"));
        }
        await failing.DisposeAsync();
        await backend.DisposeAsync();
        Assert.Equal(5, memory.Events.Count);
        Assert.Equal(5, metrics["tally.tracker.failed"]);
    }
}

using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using Tally.Tracker;
using TallyTracker = Tally.Tracker.Tracker;

namespace Tally.Benchmarks;

/// <summary>
/// The tracker SDK's Emit, per event: against building the same envelope by hand and handing it to the
/// same no-op backend, with no context, inside a request context, through a name filter, and through
/// the asynchronous buffer (its background loop draining on the other core).
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet's GlobalCleanup disposes the asynchronous backend.")]
public class TrackerBenchmarks
{
    private const string EventName = "item.download";

    /// <summary>Events per invocation of the asynchronous benchmark, which flushes after each batch.</summary>
    private const int AsyncBatch = 10_000;

    // Created once, so the benchmarks measure the SDK and not the application's dictionary.
    private static readonly IReadOnlyDictionary<string, object?> Data =
        new Dictionary<string, object?>(StringComparer.Ordinal) { ["item_id"] = "item-1042", ["format"] = "pdf" };

    // What Contexts.Resolve() gives when no context is in force.
    private static readonly IReadOnlyDictionary<string, object?> NoContext = ImmutableDictionary<string, object?>.Empty;

    private NoopBackend _baselineBackend = null!;
    private NoopBackend _plainBackend = null!;
    private NoopBackend _contextBackend = null!;
    private NoopBackend _routedBackend = null!;
    private NoopBackend _asyncInner = null!;
    private TallyTracker _plain = null!;
    private TallyTracker _inContext = null!;
    private TallyTracker _routed = null!;
    private TallyTracker _async = null!;
    private AsyncRoutingBackend _asyncBackend = null!;
    private long _asyncEmitted;

    /// <summary>Takes the event and keeps a reference to it, so the JIT cannot prove the envelope unused and drop or stack-allocate it.</summary>
    private sealed class NoopBackend : ITrackerBackend
    {
        public TrackerEvent? Last;
        public long Count;

        public void Send(TrackerEvent trackerEvent)
        {
            Last = trackerEvent;
            Count++;
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        _baselineBackend = new NoopBackend();
        _plainBackend = new NoopBackend();
        _contextBackend = new NoopBackend();
        _routedBackend = new NoopBackend();
        _asyncInner = new NoopBackend();
        _plain = new TallyTracker(_plainBackend);

        // The request context the ASP.NET Core middleware enters (six keys), and one nested context inside it.
        // BenchmarkDotNet runs the setup and the benchmark on the same thread, so the AsyncLocal contexts stay in force.
        _inContext = new TallyTracker(_contextBackend);
        _inContext.EnterContext("request", new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["user_id"] = "u-5f1c2a",
            ["session_id"] = "s-9b7e4d0c31",
            ["ip"] = "192.0.2.44",
            ["user_agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            ["url"] = "https://journal.example.org/article/view/1042/2210",
            ["referrer"] = "https://www.example.com/search?q=usage+statistics",
        });
        _inContext.EnterContext("article", new Dictionary<string, object?>(StringComparer.Ordinal) { ["journal"] = "jexample" });

        _routed = new TallyTracker(new RoutingBackend(
            [new NameFilter(NameFilterMode.AllowList, names: [EventName, "item.view", "search"])],
            [new("noop", _routedBackend)]));

        // Room for a whole batch, so under DropNewest nothing is ever dropped (checked in Cleanup).
        _asyncBackend = new AsyncRoutingBackend(_asyncInner, "bench", capacity: AsyncBatch, policy: BufferFullPolicy.DropNewest);
        _async = new TallyTracker(_asyncBackend);

        // The cases must measure what they say: the merged context has its 7 keys, and the allow list lets the name through.
        _inContext.Emit(EventName, Data);
        if (_contextBackend.Last?.Context.Count != 7)
            throw new InvalidOperationException($"the request context is not in force: {_contextBackend.Last?.Context.Count} keys, expected 7");
        _routed.Emit(EventName, Data);
        if (_routedBackend.Count != 1) throw new InvalidOperationException("the allow list stopped the event");
    }

    /// <summary>The envelope Emit builds (with its id), handed to the same no-op backend: the floor.</summary>
    [Benchmark(Baseline = true)]
    public void Baseline() => _baselineBackend.Send(new TrackerEvent(EventName, DateTime.UtcNow, NoContext, Data));

    [Benchmark]
    public void Emit() => _plain.Emit(EventName, Data);

    /// <summary>Six request keys plus one nested key merged into a new dictionary per event.</summary>
    [Benchmark]
    public void EmitInRequestContext() => _inContext.Emit(EventName, Data);

    /// <summary>A routing node with an allow list of exact names in front of the no-op backend.</summary>
    [Benchmark]
    public void EmitRoutedAllowList() => _routed.Emit(EventName, Data);

    /// <summary>
    /// Emit through the bounded buffer while the background loop drains it to the no-op backend on the
    /// other core. Each invocation emits AsyncBatch events and then flushes, so every invocation starts
    /// with an empty buffer and, with the capacity equal to the batch (also the SDK's default), the
    /// buffer can never fill: no event is dropped, which would make Send cheaper than it is (Cleanup
    /// checks that every event arrived). The time is the caller's emits plus the wait for the last
    /// events of the batch to drain, spread over 10,000 events; should the loop fall behind the caller,
    /// it would show the rate the loop sustains. An [IterationCleanup] flush would keep the wait out,
    /// but BenchmarkDotNet then runs one invocation per iteration in a job of its own, and this row
    /// would get no ratio to the baseline.
    /// </summary>
    [Benchmark(OperationsPerInvoke = AsyncBatch)]
    public void EmitAsyncRouting()
    {
        for (var i = 0; i < AsyncBatch; i++) _async.Emit(EventName, Data);
        _asyncBackend.FlushAsync().GetAwaiter().GetResult();
        _asyncEmitted += AsyncBatch;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _asyncBackend.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (_asyncInner.Count != _asyncEmitted)
            throw new InvalidOperationException($"the asynchronous buffer dropped events: {_asyncEmitted} emitted, {_asyncInner.Count} delivered");
        if (_contextBackend.Last?.Context.Count != 7)
            throw new InvalidOperationException("the request context was not in force while measuring");
    }
}

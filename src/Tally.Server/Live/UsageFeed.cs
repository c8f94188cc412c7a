using Tally.Core.Aggregate;
using Tally.Core.Events;
using Tally.Core.Ingest;

namespace Tally.Server.Live;

/// <summary>Events just stored of one type on one UTC day: <see cref="Events"/> by people, <see cref="Robots"/> by robots.</summary>
public sealed record StoredCount(string Type, DateOnly Date, long Events, long Robots);

/// <summary>
/// What a live view has not seen yet. When <see cref="Aggregated"/> is set, the metrics changed and
/// should be read again first; <see cref="Stored"/> then counts what was stored since that aggregation began.
/// <see cref="LastRunElsewhere"/> is set when another process aggregated (its run's time, as the store has it).
/// </summary>
public sealed record FeedUpdate(AggregationResult? Aggregated, IReadOnlyList<StoredCount> Stored, string? LastRunElsewhere = null);

/// <summary>
/// Tells live views (the dashboard) what happens as it happens: events stored, and aggregation runs
/// that changed metrics. Each subscriber keeps running totals rather than a queue, so a slow reader
/// costs a few counters, never unbounded memory, and nothing it was told about is lost.
/// </summary>
public sealed class UsageFeed : IStoredEventsObserver, IAggregationObserver
{
    private readonly Lock _gate = new();
    // Copied on (un)subscribe, so the ingest path reads it without a lock and, with nobody watching, does nothing.
    private volatile Subscription[] _subscriptions = [];
    private bool _aggregating;

    public Subscription Subscribe()
    {
        var subscription = new Subscription(this);
        lock (_gate)
        {
            // Joining during a run: the metrics read now may predate it, so this view is told when it ends.
            if (_aggregating) subscription.AggregationStarting();
            _subscriptions = [.. _subscriptions, subscription];
        }
        return subscription;
    }

    /// <param name="stored">Per event, whether it was stored (false: a duplicate of one already stored).</param>
    public void Stored(IReadOnlyList<TallyEvent> events, IReadOnlyList<bool> stored)
    {
        var subscriptions = _subscriptions;
        if (subscriptions.Length == 0 || events.Count == 0) return;
        var counts = new Dictionary<(string, DateOnly), (long Events, long Robots)>();
        for (var i = 0; i < events.Count; i++)
        {
            if (!stored[i]) continue;
            var e = events[i];
            var key = (e.Type.Name, DateOnly.FromDateTime(e.Timestamp));
            var (people, robots) = counts.GetValueOrDefault(key);
            counts[key] = e.IsRobot ? (people, robots + 1) : (people + 1, robots);
        }
        if (counts.Count == 0) return;
        foreach (var subscription in subscriptions) subscription.Add(counts);
    }

    /// <summary>
    /// Called as a run begins: what was stored before it is the run's to count, so a view that reads
    /// the metrics again afterwards must not add it a second time.
    /// </summary>
    public void AggregationStarting() => ForEach(s => s.AggregationStarting(), aggregating: true);

    /// <param name="result">The run's result, or null when it failed (the metrics did not change).</param>
    public void AggregationEnded(AggregationResult? result) => ForEach(s => s.AggregationEnded(result), aggregating: false);

    /// <summary>
    /// Another process aggregated (a query node sees a new last run in the shared store): the metrics
    /// changed, and this process has stored nothing that it could tell about.
    /// </summary>
    public void AggregatedElsewhere(string lastRun) => ForEach(s => s.AggregatedElsewhere(lastRun));

    private void ForEach(Action<Subscription> action, bool? aggregating = null)
    {
        Subscription[] subscriptions;
        lock (_gate)
        {
            // Set together with the copy, so that a view subscribing meanwhile is either told or marked.
            if (aggregating is { } running) _aggregating = running;
            subscriptions = _subscriptions;
        }
        foreach (var subscription in subscriptions) action(subscription);
    }

    private void Remove(Subscription subscription)
    {
        lock (_gate) _subscriptions = [.. _subscriptions.Where(s => s != subscription)];
    }

    public sealed class Subscription : IDisposable
    {
        private readonly UsageFeed _feed;
        private readonly Lock _gate = new();
        // Never disposed: it makes no wait handle, and the feed may still signal a subscription being disposed.
        private readonly SemaphoreSlim _pending = new(0, 1);
        private Dictionary<(string Type, DateOnly Date), (long Events, long Robots)> _stored = [];
        private Dictionary<(string Type, DateOnly Date), (long Events, long Robots)>? _sinceRunStarted;
        private AggregationResult? _aggregated;
        private string? _lastRunElsewhere;

        internal Subscription(UsageFeed feed) => _feed = feed;

        /// <summary>Waits until there is something new, then returns all of it at once.</summary>
        public async Task<FeedUpdate> NextAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                await _pending.WaitAsync(cancellationToken);
                lock (_gate)
                {
                    if (_aggregated is null && _lastRunElsewhere is null && _stored.Count == 0) continue;
                    var update = new FeedUpdate(_aggregated,
                        _stored.Select(p => new StoredCount(p.Key.Type, p.Key.Date, p.Value.Events, p.Value.Robots))
                            .OrderBy(c => c.Date).ThenBy(c => c.Type, StringComparer.Ordinal).ToList(),
                        _lastRunElsewhere);
                    _aggregated = null;
                    _lastRunElsewhere = null;
                    _stored = [];
                    return update;
                }
            }
        }

        internal void Add(Dictionary<(string, DateOnly), (long Events, long Robots)> counts)
        {
            lock (_gate)
            {
                Merge(_stored, counts);
                if (_sinceRunStarted is not null) Merge(_sinceRunStarted, counts);
            }
            Signal();
        }

        internal void AggregationStarting()
        {
            lock (_gate) _sinceRunStarted = [];
        }

        internal void AggregationEnded(AggregationResult? result)
        {
            lock (_gate)
            {
                var sinceRunStarted = _sinceRunStarted;
                _sinceRunStarted = null;
                // A failed run, or one with nothing to do, left the metrics as the view has them.
                if (result is null || result.Days == 0 || sinceRunStarted is null) return;
                // The view reads the metrics again, which count what was stored before the run; what came
                // during it may not be in them, so it is told again (a brief overcount the next run corrects).
                _aggregated = result;
                _stored = sinceRunStarted;
            }
            Signal();
        }

        internal void AggregatedElsewhere(string lastRun)
        {
            lock (_gate) _lastRunElsewhere = lastRun;
            Signal();
        }

        private static void Merge(
            Dictionary<(string, DateOnly), (long Events, long Robots)> into, Dictionary<(string, DateOnly), (long Events, long Robots)> counts)
        {
            foreach (var (key, (people, robots)) in counts)
            {
                var (p, r) = into.GetValueOrDefault(key);
                into[key] = (p + people, r + robots);
            }
        }

        private void Signal()
        {
            try { _pending.Release(); }
            catch (SemaphoreFullException)
            {
                // Already signalled; the reader will take everything at once.
            }
        }

        /// <summary>Stops this subscription; a reader still waiting must cancel its wait.</summary>
        public void Dispose() => _feed.Remove(this);
    }
}

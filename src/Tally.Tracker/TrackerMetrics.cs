using System.Diagnostics.Metrics;

namespace Tally.Tracker;

/// <summary>
/// The "Tally.Tracker" meter: events dropped (a full buffer or spool) and events a backend failed to
/// take, each tagged with the backend's name, so an operator can alert on loss without reading logs.
/// </summary>
public static class TrackerMetrics
{
    public const string MeterName = "Tally.Tracker";
    internal static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> DroppedCounter = Meter.CreateCounter<long>("tally.tracker.dropped", "{event}", "Events dropped because a buffer or spool was full");
    private static readonly Counter<long> FailedCounter = Meter.CreateCounter<long>("tally.tracker.failed", "{event}", "Events a backend failed to take");

    internal static void Dropped(string backend, long count = 1) => DroppedCounter.Add(count, new KeyValuePair<string, object?>("backend", backend));

    internal static void Failed(string backend, long count = 1) => FailedCounter.Add(count, new KeyValuePair<string, object?>("backend", backend));
}

using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Store;

/// <summary>
/// Computes metrics from raw events where the events are: set-based statements inside the engine, never a raw
/// row at a time through .NET. The rules are the core's; <see cref="ReferenceMetricComputer"/> states them in C#,
/// and the contract suite requires every engine to write the same rows from the same events.
/// Each method replaces what it computes, so a re-run, a crash halfway or a rebuild all give the same rows.
/// </summary>
public interface IMetricComputer
{
    /// <summary>
    /// Replaces the day rows of each aggregation of <paramref name="type"/> on each of <paramref name="days"/>, at every
    /// grouping, from that day's raw events: count, exact unique visitors and sessions, sums and how many events
    /// carried each summed field; robots only when the aggregation includes them; a referrer grouped by its
    /// <see cref="Referrers.Key"/> with the page's <see cref="Referrers.PageAuthority"/>. Days without events keep no rows.
    /// </summary>
    /// <returns>The raw events read: those of the days, robots included.</returns>
    Task<long> ComputeDaysAsync(
        EventType type, IReadOnlyList<AggregationDefinition> aggregations, IReadOnlyList<DateOnly> days, Referrers referrers, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the COUNTER day rows of each of <paramref name="days"/> from the raw events of every type in
    /// <paramref name="types"/>, by the rules <see cref="CounterDayCalculator"/> states.
    /// </summary>
    Task ComputeCounterDaysAsync(IReadOnlyList<EventType> types, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken);

    /// <summary>
    /// The item metadata events of <paramref name="type"/> stated on <paramref name="days"/>: one event per distinct
    /// combination of <see cref="ItemMetadataReader.EventFields"/> with an item id and at least one other of them, at
    /// the latest time it was stated, with only those fields filled in. Merging what <see cref="ItemMetadataReader"/>
    /// reads from them gives what merging every event would.
    /// </summary>
    IAsyncEnumerable<TallyEvent> ReadStatedMetadataAsync(EventType type, IReadOnlyList<DateOnly> days, CancellationToken cancellationToken);

    /// <summary>Replaces each month's rows of the aggregation (months given by their first day) with the sums of its day rows, grouping by grouping.</summary>
    Task RollUpMonthsAsync(AggregationDefinition aggregation, IReadOnlyList<DateOnly> months, CancellationToken cancellationToken);

    /// <summary>Replaces each month's COUNTER rows with the sums of its day rows.</summary>
    Task RollUpCounterMonthsAsync(IReadOnlyList<DateOnly> months, CancellationToken cancellationToken);
}

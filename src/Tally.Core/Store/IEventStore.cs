using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;

namespace Tally.Core.Store;

/// <summary>
/// Everything Tally needs from a storage engine, as the roles its consumers use: each service asks only for the
/// roles it needs, and the engine factory, the store contract suite and tally migrate work with the whole.
/// SQLite, PostgreSQL and ClickHouse each implement it, and one contract test suite holds them to the same
/// behaviour. Rules (robots, sessions, COUNTER) live in the core; a store only keeps and finds rows.
/// </summary>
public interface IEventStore : IStoreSetup, IEventWriter, IRawEventReader, IAggregationQueue, IMetricStore, IItemStore, IPartitionStore,
    ISaltStore, ISettingStore, IStoreSnapshot, ISavedQueryStore, IAsyncDisposable
{
    /// <summary>The engine's own computation of metrics: an object of its own, so that the store does not forward its members.</summary>
    IMetricComputer Computer { get; }
}

/// <summary>Creates and checks what the configuration needs in storage.</summary>
public interface IStoreSetup
{
    /// <summary>Creates what the configuration needs (tables, partitions' templates, columns). Never drops anything.</summary>
    Task SetupAsync(TallySchema schema, CancellationToken cancellationToken);

    /// <summary>Differences between storage and configuration, one readable line each; empty when in sync.</summary>
    Task<IReadOnlyList<string>> CheckAsync(TallySchema schema, CancellationToken cancellationToken);
}

/// <summary>Stores processed events durably, each id once.</summary>
public interface IEventWriter
{
    /// <summary>
    /// Stores processed events durably, in one transaction, and marks their days for aggregation.
    /// Returns, per event, true when stored and false when its id was already stored.
    /// </summary>
    Task<bool[]> AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken);

    /// <summary>Opens a write of many batches that commits as one, such as a whole log file.</summary>
    Task<IAppendTransaction> BeginAppendAsync(CancellationToken cancellationToken);
}

/// <summary>Reads raw events back: for aggregation, for the raw API's pages and for its export.</summary>
public interface IRawEventReader
{
    /// <summary>
    /// Raw events of one type in [from, to), with only <paramref name="fields"/> filled in, and their extra
    /// JSON when <paramref name="withExtra"/> (a complete copy, as tally migrate needs).
    /// </summary>
    IAsyncEnumerable<TallyEvent> ScanAsync(EventType type, DateTime from, DateTime to, IReadOnlyList<FieldDefinition> fields, bool withExtra, CancellationToken cancellationToken);

    /// <summary>A page of raw events, newest or oldest first, with the total that match.</summary>
    Task<RawEventPage> QueryEventsAsync(RawEventQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Every raw event the query selects, in the order its pages list them one after another (its Page is not
    /// used). Read <see cref="RawEventQuery.RowsPerPage"/> rows at a time in <see cref="RawEventOrder"/>, so memory
    /// stays bounded however many match, and no connection or transaction is held while the caller consumes a batch.
    /// </summary>
    IAsyncEnumerable<TallyEvent> StreamEventsAsync(RawEventQuery query, CancellationToken cancellationToken);
}

/// <summary>The days that wait for aggregation: marked as events arrive or a range is restated, cleared once aggregated.</summary>
public interface IAggregationQueue
{
    /// <summary>Days that received events since they were last aggregated.</summary>
    Task<IReadOnlyList<DirtyDay>> GetDirtyDaysAsync(CancellationToken cancellationToken);

    /// <summary>Marks every day in [from, to] of a type for re-aggregation (restating).</summary>
    Task MarkDirtyAsync(EventType type, DateOnly from, DateOnly to, CancellationToken cancellationToken);

    /// <summary>Forgets the marks, unless a day received more events after the mark was read.</summary>
    Task ClearDirtyAsync(IReadOnlyList<DirtyDay> days, CancellationToken cancellationToken);
}

/// <summary>Aggregated metrics: each aggregation's rows and COUNTER's, by day and by month.</summary>
public interface IMetricStore
{
    /// <summary>Replaces the metric rows of one aggregation for one period.</summary>
    Task ReplaceMetricsAsync(AggregationDefinition aggregation, MetricPeriod period, DateOnly start, IReadOnlyList<MetricRow> rows, CancellationToken cancellationToken);

    /// <summary>Sums metric rows, bucketed as the query asks.</summary>
    Task<IReadOnlyList<MetricRow>> ReadMetricsAsync(MetricQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// The groups of the parts' rows summed across the parts, ranked by <paramref name="metric"/>, highest first and then by
    /// their keys (<see cref="RankedMetrics.KeysInOrder"/>): the page of <paramref name="count"/> from <paramref name="offset"/>,
    /// and how many groups there are. The parts share an aggregation, filters and group-by fields, and none groups by period.
    /// </summary>
    Task<RankedMetrics> RankMetricsAsync(IReadOnlyList<MetricQuery> parts, MetricSelector metric, int offset, int count, CancellationToken cancellationToken);

    /// <summary>The first and last days that have metrics of the aggregation, or null when none do.</summary>
    Task<(DateOnly First, DateOnly Last)?> GetMetricDaysAsync(AggregationDefinition aggregation, CancellationToken cancellationToken);

    /// <summary>Replaces every COUNTER metric row of one period (a day, or a month starting on <paramref name="start"/>).</summary>
    Task ReplaceCounterMetricsAsync(MetricPeriod period, DateOnly start, IReadOnlyList<CounterRow> rows, CancellationToken cancellationToken);

    /// <summary>Sums COUNTER metric rows as the query asks; row keys follow the query's group-by order.</summary>
    Task<IReadOnlyList<CounterRow>> ReadCounterMetricsAsync(CounterQuery query, CancellationToken cancellationToken);

    /// <summary>The first and last months that have COUNTER metrics, or null when none do.</summary>
    Task<(DateOnly First, DateOnly Last)?> GetCounterMonthsAsync(CancellationToken cancellationToken);
}

/// <summary>Metadata of items and titles, for COUNTER reports.</summary>
public interface IItemStore
{
    /// <summary>Stored metadata of the items and titles with these ids; unknown ids are left out.</summary>
    Task<IReadOnlyDictionary<string, ItemMetadata>> GetItemsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Stores item metadata as given, replacing what is stored under the same ids, in one transaction.</summary>
    Task PutItemsAsync(IReadOnlyList<ItemMetadata> items, CancellationToken cancellationToken);

    /// <summary>Every stored item and title, in no particular order.</summary>
    IAsyncEnumerable<ItemMetadata> ScanItemsAsync(CancellationToken cancellationToken);
}

/// <summary>Raw events in whole partitions by type and period, which retention drops.</summary>
public interface IPartitionStore
{
    /// <summary>Every raw partition, of every type, with how many events it holds; ordered by type, then start.</summary>
    Task<IReadOnlyList<RawPartition>> ListPartitionsAsync(CancellationToken cancellationToken);

    /// <summary>Drops whole raw partitions of a type that end on or before <paramref name="cutoff"/>; returns their names.</summary>
    Task<IReadOnlyList<string>> DropPartitionsBeforeAsync(EventType type, DateTime cutoff, CancellationToken cancellationToken);
}

/// <summary>The daily salts visitor ids are made with, handed out (<see cref="ISaltSource"/>) and purged once unused.</summary>
public interface ISaltStore : ISaltSource
{
    /// <summary>
    /// Deletes the salts last used before <paramref name="cutoff"/>. A salt is used when it is made and
    /// whenever the store hands it out (see <see cref="SaltCache"/>), so a past day that still receives
    /// data (a late log) keeps its salt, and every salt goes once its day's data stops arriving.
    /// </summary>
    Task PurgeSaltsUnusedSinceAsync(DateOnly cutoff, CancellationToken cancellationToken);
}

/// <summary>Small durable settings, such as the last aggregation time or a followed log's position.</summary>
public interface ISettingStore
{
    /// <summary>The value stored under <paramref name="key"/>, or null.</summary>
    Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken);

    Task SetSettingAsync(string key, string value, CancellationToken cancellationToken);

    /// <summary>Removes a setting; nothing happens when there is none.</summary>
    Task RemoveSettingAsync(string key, CancellationToken cancellationToken);
}

/// <summary>What the other roles do not cover when a whole store is copied to another engine (tally migrate).</summary>
public interface IStoreSnapshot
{
    /// <summary>Every setting and every daily salt.</summary>
    Task<StoreState> ReadStateAsync(CancellationToken cancellationToken);

    /// <summary>Writes the settings (replacing values under the same keys) and the salts of days that have none yet, in one transaction.</summary>
    Task WriteStateAsync(StoreState state, CancellationToken cancellationToken);
}

/// <summary>
/// A write of many batches that is stored whole or not at all (a log file). Other writers wait until
/// it is committed or disposed; disposing without a commit rolls it back. Salts it hands out for new
/// days are made in the same transaction, so processing inside it never waits on the store.
/// </summary>
public interface IAppendTransaction : ISaltSource, IAsyncDisposable
{
    /// <summary>
    /// Appends a batch. Which of its events are new and which have an id already stored, here or before, is
    /// settled by the commit: an engine may settle a whole file's ids at once rather than batch by batch.
    /// </summary>
    Task AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken);

    /// <summary>Makes everything appended durable and marks its days for aggregation; says how many events were stored.</summary>
    Task<AppendCounts> CommitAsync(CancellationToken cancellationToken);
}

/// <summary>What a committed write stored: events that were new, and events whose id was stored already.</summary>
public readonly record struct AppendCounts(long Stored, long Duplicates)
{
    /// <summary>These counts and a batch's per-event outcomes (true: stored).</summary>
    public AppendCounts Add(bool[] stored)
    {
        var added = stored.Count(s => s);
        return new AppendCounts(Stored + added, Duplicates + stored.Length - added);
    }
}

using Tally.Core.Events;

namespace Tally.Core.Store;

/// <summary>A day of one event type awaiting aggregation. <see cref="Version"/> grows with each write to that day.</summary>
public sealed record DirtyDay(string EventType, DateOnly Day, long Version);

/// <summary>A filter on one field: the value must be one of <see cref="Values"/>, or none of them when negated.</summary>
public sealed record FieldFilter(string Field, IReadOnlyList<string> Values, bool Negated);

/// <summary>Raw events of <see cref="Types"/> in [Start, End) that pass every filter; <see cref="Robot"/> keeps only robots (true) or only the rest (false), null both.</summary>
public sealed record RawEventQuery(
    DateTime Start,
    DateTime End,
    IReadOnlyList<EventType> Types,
    IReadOnlyList<FieldFilter> Filters,
    int Page,
    int RowsPerPage,
    bool Descending,
    bool? Robot = null);

public sealed record RawEventPage(IReadOnlyList<TallyEvent> Events, long Total);

/// <summary>A raw partition: events of <see cref="EventType"/> with timestamps in [Start, End).</summary>
public sealed record RawPartition(string EventType, DateTime Start, DateTime End, long Events);

/// <summary>A store's small durable state besides events and metrics: settings (bookmarks) and daily salts.</summary>
public sealed record StoreState(IReadOnlyDictionary<string, string> Settings, IReadOnlyDictionary<DateOnly, byte[]> Salts);

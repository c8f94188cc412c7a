using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Aggregate;

/// <summary>
/// Computes one aggregation's metric rows for one day, at each kept grouping, from that day's raw events.
/// A referrer is grouped by its key (<see cref="Referrers"/>).
/// </summary>
public sealed class DayCalculator(AggregationDefinition aggregation, DateOnly day, Referrers referrers)
{
    private readonly Dictionary<GroupKey, Accumulator>[] _groups =
        aggregation.Groupings.Select(_ => new Dictionary<GroupKey, Accumulator>()).ToArray();
    private readonly int[] _groupings = [.. aggregation.Groupings];
    private readonly int[] _groupOrdinals = aggregation.GroupBy.Select(f => f.Ordinal).ToArray();
    private readonly int[] _sumOrdinals = aggregation.SumFields.Select(f => f.Ordinal).ToArray();
    /// <summary>The event's keys, then its keys for one grouping; copied only when a group is new.</summary>
    private readonly string?[] _keys = new string?[aggregation.GroupBy.Count];
    private readonly string?[] _scratch = new string?[aggregation.GroupBy.Count];
    private readonly int _referrerKey = ReferrerKey(aggregation);
    private readonly int _urlOrdinal = aggregation.EventType.OrdinalOf(WellKnownFields.Url);

    /// <summary>The fields the calculator reads from raw events: group-by and summed fields, and the page url that tells a referrer on the site itself.</summary>
    public static IEnumerable<FieldDefinition> FieldsRead(AggregationDefinition aggregation) =>
        aggregation.GroupBy.Concat(aggregation.SumFields)
            .Concat(ReferrerKey(aggregation) >= 0 && aggregation.EventType.Field(WellKnownFields.Url) is { } url ? [url] : []);

    private static int ReferrerKey(AggregationDefinition aggregation) =>
        aggregation.GroupBy.ToList().FindIndex(f => f.Name == WellKnownFields.Referrer);

    public void Add(TallyEvent e)
    {
        if (e.IsRobot && !aggregation.IncludeRobots) return;
        for (var i = 0; i < _keys.Length; i++) _keys[i] = Format(e.Values[_groupOrdinals[i]]);
        if (_referrerKey >= 0) _keys[_referrerKey] = referrers.Key(_keys[_referrerKey], e.Text(_urlOrdinal));
        for (var g = 0; g < _groups.Length; g++)
        {
            var grouping = _groupings[g];
            for (var i = 0; i < _scratch.Length; i++)
                _scratch[i] = (grouping & 1 << i) != 0 ? _keys[i] : null;
            var groups = _groups[g];
            if (!groups.TryGetValue(new GroupKey(_scratch), out var acc))
            {
                var keys = _scratch.ToArray();
                acc = new Accumulator(new MetricRow(day, keys, _sumOrdinals.Length) { Grouping = grouping });
                groups.Add(new GroupKey(keys), acc);
            }
            acc.Add(e, _sumOrdinals);
        }
    }

    public IReadOnlyList<MetricRow> Rows() => _groups.SelectMany(groups => groups.Values).Select(acc =>
    {
        acc.Row.UniqueVisitors = acc.Visitors.Count;
        acc.Row.UniqueSessions = acc.Sessions.Count;
        return acc.Row;
    }).ToList();

    /// <summary>A group-by value as metric rows key it: text as it is, numbers in .NET's shortest round-trip form, booleans true/false.</summary>
    public static string? Format(object? value) => value switch
    {
        null => null,
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private sealed record Accumulator(MetricRow Row)
    {
        public HashSet<long> Visitors { get; } = [];
        public HashSet<long> Sessions { get; } = [];

        public void Add(TallyEvent e, int[] sumOrdinals)
        {
            Row.Count++;
            Visitors.Add(e.VisitorId);
            Sessions.Add(e.SessionId);
            for (var i = 0; i < sumOrdinals.Length; i++)
            {
                switch (e.Values[sumOrdinals[i]])
                {
                    case long l: Row.Sums[i] += l; Row.SumCounts[i]++; break;
                    case double d: Row.Sums[i] += d; Row.SumCounts[i]++; break;
                }
            }
        }
    }
}

/// <summary>Group-by values compared by content.</summary>
internal readonly struct GroupKey(string?[] values) : IEquatable<GroupKey>
{
    public string?[] Values { get; } = values;

    public bool Equals(GroupKey other) => Values.AsSpan().SequenceEqual(other.Values);

    public override bool Equals(object? obj) => obj is GroupKey other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var v in Values) hash.Add(v);
        return hash.ToHashCode();
    }
}

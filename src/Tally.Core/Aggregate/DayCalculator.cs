using Tally.Core.Configuration;
using Tally.Core.Events;

namespace Tally.Core.Aggregate;

/// <summary>Computes one aggregation's metric rows for one day from that day's raw events.</summary>
public sealed class DayCalculator(AggregationDefinition aggregation, DateOnly day)
{
    private readonly Dictionary<GroupKey, Accumulator> _groups = [];
    private readonly int[] _groupOrdinals = aggregation.GroupBy.Select(f => f.Ordinal).ToArray();
    private readonly int[] _sumOrdinals = aggregation.SumFields.Select(f => f.Ordinal).ToArray();

    public void Add(TallyEvent e)
    {
        if (e.IsRobot && !aggregation.IncludeRobots) return;
        var keys = new string?[_groupOrdinals.Length];
        for (var i = 0; i < keys.Length; i++) keys[i] = Format(e.Values[_groupOrdinals[i]]);
        var key = new GroupKey(keys);
        if (!_groups.TryGetValue(key, out var acc))
        {
            acc = new Accumulator(new MetricRow(day, keys, _sumOrdinals.Length));
            _groups.Add(key, acc);
        }
        acc.Row.Count++;
        acc.Visitors.Add(e.VisitorId);
        acc.Sessions.Add(e.SessionId);
        for (var i = 0; i < _sumOrdinals.Length; i++)
        {
            switch (e.Values[_sumOrdinals[i]])
            {
                case long l: acc.Row.Sums[i] += l; acc.Row.SumCounts[i]++; break;
                case double d: acc.Row.Sums[i] += d; acc.Row.SumCounts[i]++; break;
            }
        }
    }

    public IReadOnlyList<MetricRow> Rows() => _groups.Values.Select(acc =>
    {
        acc.Row.UniqueVisitors = acc.Visitors.Count;
        acc.Row.UniqueSessions = acc.Sessions.Count;
        return acc.Row;
    }).ToList();

    internal static string? Format(object? value) => value switch
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

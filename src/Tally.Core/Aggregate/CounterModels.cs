namespace Tally.Core.Aggregate;

/// <summary>COUNTER R5.1 metric types Tally computes, in storage column order.</summary>
public enum CounterMetric
{
    TotalItemInvestigations,
    TotalItemRequests,
    UniqueItemInvestigations,
    UniqueItemRequests,
    UniqueTitleInvestigations,
    UniqueTitleRequests,
    NoLicense,
    LimitExceeded,
    SearchesRegular,
    SearchesAutomated,
    SearchesFederated,
    SearchesPlatform,
}

/// <summary>The dimensions COUNTER metrics are kept by, in storage column order.</summary>
public enum CounterDimension { ItemId, TitleId, DatabaseId, AccessType, AccessMethod, Institution, Country, Region }

public static class CounterNames
{
    public static readonly CounterMetric[] Metrics = Enum.GetValues<CounterMetric>();
    public static readonly CounterDimension[] Dimensions = Enum.GetValues<CounterDimension>();

    /// <summary>The metric's name in COUNTER reports, e.g. Total_Item_Requests.</summary>
    public static string Report(CounterMetric metric) => metric switch
    {
        CounterMetric.TotalItemInvestigations => "Total_Item_Investigations",
        CounterMetric.TotalItemRequests => "Total_Item_Requests",
        CounterMetric.UniqueItemInvestigations => "Unique_Item_Investigations",
        CounterMetric.UniqueItemRequests => "Unique_Item_Requests",
        CounterMetric.UniqueTitleInvestigations => "Unique_Title_Investigations",
        CounterMetric.UniqueTitleRequests => "Unique_Title_Requests",
        CounterMetric.NoLicense => "No_License",
        CounterMetric.LimitExceeded => "Limit_Exceeded",
        CounterMetric.SearchesRegular => "Searches_Regular",
        CounterMetric.SearchesAutomated => "Searches_Automated",
        CounterMetric.SearchesFederated => "Searches_Federated",
        _ => "Searches_Platform",
    };

    /// <summary>The metric's storage column, e.g. total_item_requests.</summary>
    public static string Column(CounterMetric metric) => Report(metric).ToLowerInvariant();

    public static string Column(CounterDimension dimension) => dimension switch
    {
        CounterDimension.ItemId => "item_id",
        CounterDimension.TitleId => "title_id",
        CounterDimension.DatabaseId => "database_id",
        CounterDimension.AccessType => "access_type",
        CounterDimension.AccessMethod => "access_method",
        CounterDimension.Institution => "institution",
        CounterDimension.Country => "country",
        _ => "region",
    };
}

/// <summary>COUNTER metrics of one combination of dimensions in one period (a day or a month).</summary>
public sealed class CounterRow(DateOnly period, string?[] keys)
{
    public DateOnly Period { get; set; } = period;
    /// <summary>Dimension values indexed by <see cref="CounterDimension"/>, or by the query's group-by order when read back.</summary>
    public string?[] Keys { get; } = keys;
    public long[] Values { get; } = new long[CounterNames.Metrics.Length];

    public long this[CounterMetric metric]
    {
        get => Values[(int)metric];
        set => Values[(int)metric] = value;
    }

    public bool IsEmpty => Values.All(v => v == 0);

    public void Add(CounterRow other)
    {
        for (var i = 0; i < Values.Length; i++) Values[i] += other.Values[i];
    }
}

/// <summary>
/// Sums stored COUNTER rows of <see cref="Source"/> periods between From and To (inclusive), keeping
/// rows whose dimension is one of the listed values, grouped by <see cref="GroupBy"/> and (when
/// <see cref="ByMonth"/>) by month.
/// </summary>
public sealed record CounterQuery(
    MetricPeriod Source,
    DateOnly From,
    DateOnly To,
    IReadOnlyDictionary<CounterDimension, IReadOnlyList<string?>> Filters,
    IReadOnlyList<CounterDimension> GroupBy,
    bool ByMonth);

using Tally.Core.Aggregate;

namespace Tally.Core.Query.Sushi;

/// <summary>What a report's rows are: the platform, a database, a title, or an item.</summary>
public enum ReportLevel { Platform, Database, Title, Item }

/// <summary>
/// One COUNTER R5.1 report or standard view. A standard view is its master report with fixed
/// filters (<see cref="FixedDataTypes"/>, <see cref="FixedAccessType"/>, Regular access only and a
/// fixed metric list) and a fixed set of Attribute_Performance columns; an item view also fixes
/// which item details it shows (<see cref="ItemAttributes"/>) and whether items come under their parent.
/// </summary>
public sealed record SushiReportDefinition(
    string Id,
    string Name,
    string Description,
    ReportLevel Level,
    IReadOnlyList<CounterMetric> Metrics,
    IReadOnlyList<string> DataTypes,
    IReadOnlyList<string>? FixedDataTypes = null,
    string? FixedAccessType = null,
    IReadOnlyList<string>? ViewColumns = null,
    IReadOnlyList<string>? Attributes = null,
    IReadOnlyList<string>? ItemAttributes = null,
    bool WithParent = false)
{
    public bool IsStandardView => ViewColumns is not null;

    /// <summary>Lower-case id used in paths, e.g. tr_j1.</summary>
    public string PathId => Id.ToLowerInvariant();
}

/// <summary>The reports Tally serves, per the COUNTER_SUSHI API 5.1 and the Code of Practice.</summary>
public static class SushiReportCatalog
{
    private static readonly CounterMetric[] ItemMetrics =
    [
        CounterMetric.TotalItemInvestigations, CounterMetric.TotalItemRequests,
        CounterMetric.UniqueItemInvestigations, CounterMetric.UniqueItemRequests,
    ];
    private static readonly CounterMetric[] TitleMetrics = [CounterMetric.UniqueTitleInvestigations, CounterMetric.UniqueTitleRequests];
    private static readonly CounterMetric[] Denials = [CounterMetric.LimitExceeded, CounterMetric.NoLicense];
    private static readonly CounterMetric[] Searches = [CounterMetric.SearchesAutomated, CounterMetric.SearchesFederated, CounterMetric.SearchesRegular];
    private static readonly CounterMetric[] Requests = [CounterMetric.TotalItemRequests, CounterMetric.UniqueItemRequests];

    /// <summary>Data types an item may have in PR and IR; a title in TR; items and databases in DR.</summary>
    public static readonly string[] PlatformDataTypes =
    [
        "Article", "Audiovisual", "Book", "Book_Segment", "Conference", "Conference_Item", "Database_Full_Item", "Dataset", "Image",
        "Interactive_Resource", "Journal", "Multimedia", "News_Item", "Newspaper_or_Newsletter", "Other", "Patent", "Reference_Item",
        "Reference_Work", "Report", "Software", "Sound", "Standard", "Thesis_or_Dissertation", "Unspecified",
    ];
    public static readonly string[] TitleDataTypes =
        ["Book", "Conference", "Journal", "Newspaper_or_Newsletter", "Other", "Patent", "Reference_Work", "Report", "Standard", "Thesis_or_Dissertation", "Unspecified"];
    public static readonly string[] ItemDataTypes =
    [
        "Article", "Audiovisual", "Book_Segment", "Conference_Item", "Database_Full_Item", "Dataset", "Image", "Interactive_Resource",
        "Multimedia", "News_Item", "Other", "Patent", "Reference_Item", "Report", "Software", "Sound", "Standard", "Thesis_or_Dissertation", "Unspecified",
    ];
    public static readonly string[] DatabaseItemDataTypes =
    [
        "Audiovisual", "Book", "Conference", "Database_Full_Item", "Image", "Interactive_Resource", "Journal", "Multimedia",
        "Newspaper_or_Newsletter", "Other", "Patent", "Reference_Work", "Report", "Sound", "Standard", "Thesis_or_Dissertation", "Unspecified",
    ];
    public static readonly string[] DatabaseDataTypes = ["Database_Aggregated", "Database_AI", "Database_Full"];

    private static readonly string[] Geo = ["Institution_Name", "Customer_ID", "Country_Name", "Country_Code", "Subdivision_Name", "Subdivision_Code", "Attributed"];

    public static readonly IReadOnlyList<SushiReportDefinition> All =
    [
        new("PR", "Platform Report", "Platform-level usage summarized by Data_Type and Access_Method.", ReportLevel.Platform,
            [CounterMetric.SearchesPlatform, .. ItemMetrics, .. TitleMetrics], PlatformDataTypes, Attributes: ["Access_Method", .. Geo]),
        new("PR_P1", "Platform Usage", "Standard view of the Platform Report with Regular usage of the platform.", ReportLevel.Platform,
            [CounterMetric.SearchesPlatform, CounterMetric.TotalItemRequests, CounterMetric.UniqueItemRequests, CounterMetric.UniqueTitleRequests],
            PlatformDataTypes, ViewColumns: ["Data_Type"]),
        new("DR", "Database Report", "Database-level usage with searches, investigations, requests and access denials.", ReportLevel.Database,
            [.. Searches, .. ItemMetrics, .. TitleMetrics, .. Denials], [.. DatabaseDataTypes, .. DatabaseItemDataTypes], Attributes: ["Access_Method", .. Geo]),
        new("DR_D1", "Database Search and Item Usage", "Standard view of the Database Report with searches, investigations and requests.", ReportLevel.Database,
            [.. Searches, .. ItemMetrics], [.. DatabaseDataTypes, .. DatabaseItemDataTypes], ViewColumns: []),
        new("DR_D2", "Database Access Denied", "Standard view of the Database Report with access denials.", ReportLevel.Database,
            Denials, [.. DatabaseDataTypes, .. DatabaseItemDataTypes], ViewColumns: []),
        new("TR", "Title Report", "Title-level usage of books, journals and other serials.", ReportLevel.Title,
            [.. ItemMetrics, .. TitleMetrics, .. Denials], TitleDataTypes, Attributes: ["YOP", "Access_Type", "Access_Method", .. Geo]),
        new("TR_B1", "Book Requests (Controlled)", "Standard view of the Title Report with requests of controlled books.", ReportLevel.Title,
            [CounterMetric.TotalItemRequests, CounterMetric.UniqueTitleRequests], TitleDataTypes, ["Book", "Reference_Work"], "Controlled", ["Data_Type", "YOP"]),
        new("TR_B2", "Book Access Denied", "Standard view of the Title Report with access denials for books.", ReportLevel.Title,
            Denials, TitleDataTypes, ["Book", "Reference_Work"], ViewColumns: ["Data_Type", "YOP"]),
        new("TR_B3", "Book Usage by Access Type", "Standard view of the Title Report with book usage by Access_Type.", ReportLevel.Title,
            [.. ItemMetrics, .. TitleMetrics], TitleDataTypes, ["Book", "Reference_Work"], ViewColumns: ["Data_Type", "YOP", "Access_Type"]),
        new("TR_J1", "Journal Requests (Controlled)", "Standard view of the Title Report with requests of controlled journals.", ReportLevel.Title,
            Requests, TitleDataTypes, ["Journal"], "Controlled", []),
        new("TR_J2", "Journal Access Denied", "Standard view of the Title Report with access denials for journals.", ReportLevel.Title,
            Denials, TitleDataTypes, ["Journal"], ViewColumns: []),
        new("TR_J3", "Journal Usage by Access Type", "Standard view of the Title Report with journal usage by Access_Type.", ReportLevel.Title,
            ItemMetrics, TitleDataTypes, ["Journal"], ViewColumns: ["Access_Type"]),
        new("TR_J4", "Journal Requests by YOP (Controlled)", "Standard view of the Title Report with requests of controlled journals by YOP.", ReportLevel.Title,
            Requests, TitleDataTypes, ["Journal"], "Controlled", ["YOP"]),
        new("IR", "Item Report", "Item-level usage of articles, book segments, multimedia and other items.", ReportLevel.Item,
            [.. ItemMetrics, .. Denials], ItemDataTypes, Attributes: ["YOP", "Access_Type", "Access_Method", "Authors", "Publication_Date", "Article_Version", .. Geo]),
        new("IR_A1", "Journal Article Requests", "Standard view of the Item Report with requests of journal articles.", ReportLevel.Item,
            Requests, ItemDataTypes, ["Article"], ViewColumns: ["Access_Type"], ItemAttributes: ["Authors", "Publication_Date", "Article_Version"], WithParent: true),
        new("IR_M1", "Multimedia Item Requests", "Standard view of the Item Report with requests of multimedia items.", ReportLevel.Item,
            Requests, ItemDataTypes, ["Audiovisual", "Image", "Interactive_Resource", "Multimedia", "Sound"], ViewColumns: ["Data_Type"], ItemAttributes: []),
    ];

    public static SushiReportDefinition? Find(string id) =>
        All.FirstOrDefault(r => string.Equals(r.Id, id, StringComparison.OrdinalIgnoreCase));
}

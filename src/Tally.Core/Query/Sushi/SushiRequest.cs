using System.Globalization;
using Tally.Core.Aggregate;

namespace Tally.Core.Query.Sushi;

/// <summary>A COUNTER exception: <see cref="Code"/> and <see cref="Message"/> as Appendix D of the Code of Practice names them.</summary>
public sealed record SushiError(int Code, string Message, string? Data = null)
{
    public static SushiError InsufficientInformation(string data) => new(1030, "Insufficient Information to Process Request", data);
    public static SushiError RequestorNotAuthorized(string data) => new(2000, "Requestor Not Authorized to Access Service", data);
    public static SushiError NotAuthorizedForInstitution(string data) => new(2010, "Requestor is Not Authorized to Access Usage for Institution", data);
    public static SushiError ApiKeyInvalid(string data) => new(2020, "APIKey Invalid", data);
    public static SushiError ReportNotSupported(string data) => new(3000, "Report Not Supported", data);
    public static SushiError InvalidDates(string data) => new(3020, "Invalid Date Arguments", data);
    public static SushiError NoUsage(string data) => new(3030, "No Usage Available for Requested Dates", data);
    public static SushiError NotReady(string data) => new(3031, "Usage Not Ready for Requested Dates", data);
    public static SushiError NoLongerAvailable(string data) => new(3032, "Usage No Longer Available for Requested Dates", data);
    public static SushiError ParameterNotRecognized(string data) => new(3050, "Parameter Not Recognized in this Context", data);
    public static SushiError InvalidFilter(string data) => new(3060, "Invalid ReportFilter Value", data);
    public static SushiError InvalidAttribute(string data) => new(3062, "Invalid ReportAttribute Value", data);
    public static SushiError ComponentsNotSupported(string data) => new(3063, "Components Not Supported", data);

    /// <summary>The HTTP status the COUNTER_SUSHI API gives this exception when it is the whole answer.</summary>
    public int HttpStatus => Code switch
    {
        1030 or 3020 => 400,
        2000 or 2020 => 401,
        2010 or 2011 => 403,
        3000 => 404,
        _ => 200,
    };
}

/// <summary>Thrown when a request cannot produce a report at all; the answer is the exception alone.</summary>
public sealed class SushiException(SushiError error) : Exception(error.Message)
{
    public SushiError Error { get; } = error;
}

/// <summary>
/// A report request as the COUNTER_SUSHI API defines it, parsed and checked. Problems that still
/// allow a report (an unknown parameter, a bad filter value) are kept as <see cref="Warnings"/> for
/// the report header; problems that do not are thrown as <see cref="SushiException"/>.
/// </summary>
public sealed class SushiRequest
{
    private static readonly HashSet<string> Common = ["customer_id", "requestor_id", "api_key", "platform", "begin_date", "end_date"];

    public required SushiReportDefinition Report { get; init; }
    public required string CustomerId { get; init; }
    public DateOnly BeginMonth { get; init; }
    public DateOnly EndMonth { get; init; }
    public IReadOnlyList<CounterMetric> Metrics { get; init; } = [];
    public IReadOnlyList<string>? DataTypes { get; init; }
    public IReadOnlyList<string>? AccessTypes { get; init; }
    public IReadOnlyList<string> AccessMethods { get; init; } = ["Regular", "TDM"];
    public IReadOnlyList<(int From, int To)>? Yops { get; init; }
    public string? ItemId { get; init; }
    public string? Database { get; init; }
    public string? Author { get; init; }
    public string? CountryCode { get; init; }
    public string? SubdivisionCode { get; init; }
    /// <summary>Only usage attributed to an institution (true), only unattributed usage (false), or both (null).</summary>
    public bool? Attributed { get; init; }
    public IReadOnlyList<string> AttributesToShow { get; init; } = [];

    /// <summary>Item details (Authors, Publication_Date, Article_Version) shown: fixed by an item view, else asked for.</summary>
    public IReadOnlyList<string> ItemDetails => Report.ItemAttributes ?? AttributesToShow;
    public bool Totals { get; init; }
    public bool IncludeParentDetails { get; init; }
    /// <summary>Filters as the client gave them, for Report_Filters in the header.</summary>
    public IReadOnlyList<(string Name, object Value)> EchoFilters { get; init; } = [];
    public List<SushiError> Warnings { get; } = [];

    /// <param name="window">The dates any query may name; months outside it are invalid dates (3020).</param>
    /// <param name="maxMonths">The most months one report may span (limits.sushiMaxMonths); wider is 3020.</param>
    public static SushiRequest Parse(SushiReportDefinition report, IReadOnlyDictionary<string, string> query, QueryWindow window, int maxMonths)
    {
        var warnings = new List<SushiError>();
        string? Get(string name) => query.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        var allowed = report.IsStandardView ? Common : AllowedParameters(report);
        foreach (var name in query.Keys.Where(k => !allowed.Contains(k)).Order(StringComparer.Ordinal))
            warnings.Add(SushiError.ParameterNotRecognized(name));

        var begin = Get("begin_date") ?? throw new SushiException(SushiError.InsufficientInformation("begin_date is required"));
        var end = Get("end_date") ?? throw new SushiException(SushiError.InsufficientInformation("end_date is required"));
        var beginMonth = ParseMonth(begin, "begin_date", window);
        var endMonth = ParseMonth(end, "end_date", window);
        if (endMonth < beginMonth) throw new SushiException(SushiError.InvalidDates($"end_date {end} is before begin_date {begin}"));
        var months = (endMonth.Year - beginMonth.Year) * 12 + endMonth.Month - beginMonth.Month + 1;
        if (months > maxMonths)
            throw new SushiException(SushiError.InvalidDates($"{begin} to {end} spans {months} months; at most {maxMonths} may be asked at once (limits.sushiMaxMonths)"));

        var echo = new List<(string, object)>();
        List<string>? Values(string parameter, string filterName, IReadOnlyCollection<string> valid)
        {
            if (report.IsStandardView || Get(parameter) is not { } text) return null;
            var values = text.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
            var known = values.Where(v => valid.Contains(v)).ToList();
            foreach (var bad in values.Except(known)) warnings.Add(SushiError.InvalidFilter($"{filterName}={bad}"));
            if (known.Count > 0) echo.Add((filterName, known.ToArray()));
            return known.Count > 0 ? known : values.Count > 0 ? [] : null;
        }

        var metricNames = report.Metrics.ToDictionary(CounterNames.Report);
        var metrics = Values("metric_type", "Metric_Type", metricNames.Keys)?.Select(n => metricNames[n]).ToList() ?? [.. report.Metrics];
        var dataTypes = Values("data_type", "Data_Type", report.DataTypes);
        var accessTypes = report.Level is ReportLevel.Title or ReportLevel.Item ? Values("access_type", "Access_Type", ["Controlled", "Open", "Free_To_Read"]) : null;
        var accessMethods = Values("access_method", "Access_Method", ["Regular", "TDM"]);
        var yops = ParseYops(report, Get("yop"), warnings, echo);

        var attributes = new List<string>();
        if (!report.IsStandardView && Get("attributes_to_show") is { } shown)
        {
            foreach (var name in shown.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct())
            {
                if (report.Attributes!.Contains(name)) attributes.Add(name);
                else warnings.Add(SushiError.InvalidAttribute($"attributes_to_show={name}"));
            }
        }
        var granularity = report.IsStandardView ? null : Get("granularity");
        // The spec's enum says Total, the Code of Practice (which wins) Totals: accept both.
        if (granularity is not (null or "Month" or "Total" or "Totals"))
        {
            warnings.Add(SushiError.InvalidAttribute($"granularity={granularity}"));
            granularity = null;
        }
        // True or False, as the Code of Practice spells them; clients that write true or TRUE mean the same.
        bool? Switch(string parameter)
        {
            if (report.IsStandardView || report.Level != ReportLevel.Item || Get(parameter) is not { } text) return null;
            if (text.Equals("True", StringComparison.OrdinalIgnoreCase)) return true;
            if (text.Equals("False", StringComparison.OrdinalIgnoreCase)) return false;
            warnings.Add(SushiError.InvalidAttribute($"{parameter}={text}"));
            return null;
        }
        if (Switch("include_component_details") == true)
            warnings.Add(SushiError.ComponentsNotSupported("Tally does not track components of items"));
        var includeParentDetails = report.WithParent || Switch("include_parent_details") == true;

        string? Single(string parameter, string filterName, Func<string, string>? normalize = null)
        {
            if (report.IsStandardView || Get(parameter) is not { } given) return null;
            var value = normalize is null ? given : normalize(given);
            echo.Add((filterName, value));
            return value;
        }

        var attributedText = report.IsStandardView ? null : Get("attributed");
        bool? attributed = attributedText switch { "Yes" => true, "No" => false, _ => null };
        if (attributed is not null) echo.Add(("Attributed", attributedText!));
        else if (attributedText is not null) warnings.Add(SushiError.InvalidFilter($"Attributed={attributedText}"));

        var request = new SushiRequest
        {
            Report = report,
            CustomerId = Get("customer_id") ?? throw new SushiException(SushiError.InsufficientInformation("customer_id is required; use 0000000000000000 for all usage")),
            BeginMonth = beginMonth,
            EndMonth = endMonth,
            Metrics = metrics,
            DataTypes = report.FixedDataTypes ?? dataTypes,
            AccessTypes = report.FixedAccessType is { } fixedType ? [fixedType] : accessTypes,
            AccessMethods = report.IsStandardView ? ["Regular"] : accessMethods ?? ["Regular", "TDM"],
            Yops = yops,
            ItemId = report.Level is ReportLevel.Title or ReportLevel.Item ? Single("item_id", "Item_ID") : null,
            Database = report.Level == ReportLevel.Database ? Single("database", "Database") : null,
            Author = report.Level == ReportLevel.Item ? Single("author", "Author") : null,
            CountryCode = Single("country_code", "Country_Code", code => code.ToUpperInvariant()),
            SubdivisionCode = Single("subdivision_code", "Subdivision_Code", code => code.ToUpperInvariant()),
            Attributed = attributed,
            AttributesToShow = attributes,
            Totals = granularity is "Total" or "Totals",
            IncludeParentDetails = includeParentDetails,
            EchoFilters = echo,
        };
        request.Warnings.AddRange(warnings);
        return request;
    }

    private static HashSet<string> AllowedParameters(SushiReportDefinition report)
    {
        var names = new HashSet<string>(Common) { "metric_type", "data_type", "access_method", "attributes_to_show", "granularity", "attributed", "country_code", "subdivision_code" };
        if (report.Level is ReportLevel.Title or ReportLevel.Item) names.UnionWith(["access_type", "yop", "item_id"]);
        if (report.Level == ReportLevel.Item) names.UnionWith(["include_parent_details", "include_component_details", "author"]);
        if (report.Level == ReportLevel.Database) names.Add("database");
        return names;
    }

    /// <summary>yyyy-mm or yyyy-mm-dd; COUNTER reports whole months, so a day is taken as its month.</summary>
    private static DateOnly ParseMonth(string text, string name, QueryWindow window)
    {
        if (!DateOnly.TryParseExact(text, ["yyyy-MM", "yyyy-MM-dd"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            throw new SushiException(SushiError.InvalidDates($"{name} '{text}' is not yyyy-mm or yyyy-mm-dd"));
        var month = new DateOnly(date.Year, date.Month, 1);
        if (month < new DateOnly(window.Earliest.Year, window.Earliest.Month, 1) || month > window.Latest)
            throw new SushiException(SushiError.InvalidDates($"{name} must lie between {window.Earliest:yyyy-MM} and {window.Latest:yyyy-MM}"));
        return month;
    }

    private static List<(int, int)>? ParseYops(SushiReportDefinition report, string? text, List<SushiError> warnings, List<(string, object)> echo)
    {
        if (report.IsStandardView || report.Level is not (ReportLevel.Title or ReportLevel.Item) || text is null) return null;
        var ranges = new List<(int, int)>();
        var shown = new List<string>();
        foreach (var part in text.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-');
            if (bounds.Length is 1 or 2 && bounds.All(b => b.Length == 4 && int.TryParse(b, CultureInfo.InvariantCulture, out _))
                && int.Parse(bounds[0], CultureInfo.InvariantCulture) <= int.Parse(bounds[^1], CultureInfo.InvariantCulture))
            {
                ranges.Add((int.Parse(bounds[0], CultureInfo.InvariantCulture), int.Parse(bounds[^1], CultureInfo.InvariantCulture)));
                shown.Add(part);
            }
            else warnings.Add(SushiError.InvalidFilter($"YOP={part}"));
        }
        if (shown.Count > 0) echo.Add(("YOP", shown.ToArray()));
        return ranges;
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Events;
using Tally.Core.Process;
using Tally.Core.Store;

namespace Tally.Core.Query.Sushi;

/// <summary>
/// Builds COUNTER R5.1 reports in the COUNTER_SUSHI JSON layout from the monthly COUNTER metrics and
/// item metadata. Every number comes from stored metrics; metadata (names, identifiers, Data_Type,
/// YOP) is the newest known, joined at report time.
/// </summary>
public sealed partial class SushiReportBuilder(TallySchema schema, IMetricStore store, ISettingStore settings, ItemCatalog catalog, TimeProvider clock)
{
    private static readonly HashSet<string> BookTypes = ["Book", "Reference_Work"];
    /// <summary>How much JSON is gathered before it goes to the output.</summary>
    private const int HandOnBytes = 32 * 1024;
    private static readonly string[] ArticleVersions = ["AO", "SMUR", "AM", "P", "VoR", "CVoR", "EVoR"];
    private static readonly HashSet<CounterMetric> TitleMetrics = [CounterMetric.UniqueTitleInvestigations, CounterMetric.UniqueTitleRequests];
    private static readonly HashSet<CounterMetric> SearchMetrics =
        [CounterMetric.SearchesPlatform, CounterMetric.SearchesRegular, CounterMetric.SearchesAutomated, CounterMetric.SearchesFederated];

    private TallySchema Schema => schema;
    private CounterOptions Counter => schema.Options.Counter;

    /// <summary>The institution a customer id names, or null for "The World"; throws 2010 for an unknown id.</summary>
    private Institution? Customer(string customerId) =>
        customerId == Institution.TheWorld ? null
            : schema.Institutions.GetValueOrDefault(customerId)
              ?? throw new SushiException(SushiError.NotAuthorizedForInstitution($"customer_id '{customerId}' is not known"));

    /// <summary>
    /// Writes the report as COUNTER_SUSHI JSON to <paramref name="output"/>, item by item: memory holds the report's
    /// facts and a few kilobytes of JSON, never the whole document.
    /// </summary>
    public async Task WriteAsync(SushiRequest request, Stream output, CancellationToken cancellationToken)
    {
        var institution = Customer(request.CustomerId);
        var open = await OpenMonths.ReadAsync(settings, cancellationToken);
        var months = await ReportableMonthsAsync(request, open, cancellationToken);

        var filters = new Dictionary<CounterDimension, IReadOnlyList<string?>>();
        if (institution is not null) filters[CounterDimension.Institution] = [institution.CustomerId];
        if (request.AccessTypes is { } accessTypes) filters[CounterDimension.AccessType] = [.. accessTypes];
        filters[CounterDimension.AccessMethod] = [.. request.AccessMethods];
        if (request.CountryCode is { } country) filters[CounterDimension.Country] = [country];
        if (request.SubdivisionCode is { } subdivision) filters[CounterDimension.Region] = [subdivision];
        var shown = request.AttributesToShow;
        var groupBy = new List<CounterDimension>
            { CounterDimension.ItemId, CounterDimension.TitleId, CounterDimension.DatabaseId, CounterDimension.AccessType, CounterDimension.AccessMethod, CounterDimension.Institution };
        if (shown.Any(a => a.StartsWith("Country_", StringComparison.Ordinal))) groupBy.Add(CounterDimension.Country);
        if (shown.Any(a => a.StartsWith("Subdivision_", StringComparison.Ordinal))) groupBy.Add(CounterDimension.Region);

        // An open month's monthly rows wait for it to end (OpenMonths), so its days are summed instead.
        var rows = new List<CounterRow>();
        if (months.Count > 0)
        {
            foreach (var (first, last, isOpen) in OpenMonths.Runs(months[0], months[^1], open))
            {
                rows.AddRange(await store.ReadCounterMetricsAsync(isOpen
                    ? new CounterQuery(MetricPeriod.Day, first, first.AddMonths(1).AddDays(-1), filters, groupBy, ByMonth: true)
                    : new CounterQuery(MetricPeriod.Month, first, last, filters, groupBy, ByMonth: true), cancellationToken));
            }
        }
        // The report's facts are held in memory while it is written, so their number bounds its size.
        if (rows.Count > schema.Options.Limits.MaxAnswerRows)
            throw new SushiException(SushiError.InvalidDates(
                $"the report would be built from {rows.Count} rows, more than the {schema.Options.Limits.MaxAnswerRows} allowed (limits.maxAnswerRows); ask for fewer months or one item_id"));
        var ids = rows.SelectMany(r => new[] { r.Keys[0], r.Keys[1] }).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var items = await catalog.GetAsync(ids, cancellationToken);

        var body = new ReportBody(this, request, items, months);
        foreach (var row in rows) body.Add(new Fact(row, groupBy));
        var reportItems = body.Ordered();
        if (reportItems.Count == 0 && !request.Warnings.Any(w => w.Code is 3031 or 3032))
            request.Warnings.Add(SushiError.NoUsage($"no usage from {request.BeginMonth:yyyy-MM} to {request.EndMonth:yyyy-MM} matches the request"));

        await using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WritePropertyName("Report_Header");
        Header(request, institution).WriteTo(writer);
        writer.WriteStartArray("Report_Items");
        await body.WriteAsync(writer, reportItems, cancellationToken);
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>The report as a tree of JSON nodes, for the tabular forms, which are written from it.</summary>
    public async Task<JsonObject> BuildAsync(SushiRequest request, CancellationToken cancellationToken)
    {
        using var json = new MemoryStream();
        await WriteAsync(request, json, cancellationToken);
        json.Position = 0;
        return JsonNode.Parse(json)!.AsObject();
    }

    /// <summary>
    /// The requested months that can be reported. Months after the current one are not ready (3031);
    /// the current month is still being counted, so it is reported with 3040 (partial data).
    /// </summary>
    private async Task<List<DateOnly>> ReportableMonthsAsync(SushiRequest request, SortedSet<DateOnly> open, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var current = new DateOnly(now.Year, now.Month, 1);
        var last = request.EndMonth;
        if (last > current)
        {
            request.Warnings.Add(SushiError.NotReady($"usage after {current:yyyy-MM} is not available yet"));
            last = current;
        }
        if (last == current && request.BeginMonth <= current)
            request.Warnings.Add(new SushiError(3040, "Partial Data Returned", $"{current:yyyy-MM} is still in progress"));
        // An open month has COUNTER days before it has monthly rows.
        if (open.Count == 0 && await store.GetCounterMonthsAsync(cancellationToken) is null) return [];
        var months = new List<DateOnly>();
        for (var m = request.BeginMonth; m <= last; m = m.AddMonths(1)) months.Add(m);
        return months;
    }

    private JsonObject Header(SushiRequest request, Institution? institution)
    {
        var report = request.Report;
        var filters = new JsonObject
        {
            ["Begin_Date"] = request.BeginMonth.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["End_Date"] = request.EndMonth.AddMonths(1).AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        };
        if (report.IsStandardView)
        {
            filters["Access_Method"] = new JsonArray("Regular");
            if (report.FixedAccessType is { } accessType) filters["Access_Type"] = new JsonArray(accessType);
            if (report.FixedDataTypes is { } dataTypes) filters["Data_Type"] = Strings(dataTypes);
            filters["Metric_Type"] = Strings(report.Metrics.Select(CounterNames.Report));
        }
        foreach (var (name, value) in request.EchoFilters)
            filters[name] = value is string[] many ? Strings(many) : JsonValue.Create((string)value);

        var header = new JsonObject
        {
            ["Release"] = "5.1",
            ["Report_ID"] = report.Id,
            ["Report_Name"] = report.Name,
            ["Created"] = clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["Created_By"] = Counter.CreatedBy,
            ["Institution_Name"] = institution?.Name ?? "The World",
            ["Institution_ID"] = InstitutionIds(institution),
            ["Report_Filters"] = filters,
            // Required; left blank by providers without a Registry record.
            ["Registry_Record"] = Counter.RegistryRecord ?? "",
        };
        var attributes = new JsonObject();
        if (request.AttributesToShow.Count > 0) attributes["Attributes_To_Show"] = Strings(request.AttributesToShow);
        if (request.IncludeParentDetails) attributes["Include_Parent_Details"] = "True";
        if (request.Totals) attributes["Granularity"] = "Total";
        if (!report.IsStandardView && attributes.Count > 0) header["Report_Attributes"] = attributes;
        if (request.Warnings.Count > 0)
            header["Exceptions"] = new JsonArray([.. request.Warnings.Distinct().Select(ExceptionJson)]);
        return header;
    }

    public JsonObject InstitutionIds(Institution? institution)
    {
        var ids = new JsonObject();
        foreach (var (ns, values) in institution?.Ids ?? new Dictionary<string, IReadOnlyList<string>>())
            if (ns != "Proprietary") ids[ns] = Strings(values);
        var proprietary = (institution?.Ids.GetValueOrDefault("Proprietary") ?? []).Append($"{Counter.PlatformId}:{institution?.CustomerId ?? Institution.TheWorld}");
        ids["Proprietary"] = Strings(proprietary.Distinct());
        return ids;
    }

    public static JsonObject ExceptionJson(SushiError error)
    {
        var json = new JsonObject { ["Code"] = error.Code, ["Message"] = error.Message };
        if (error.Data is { } data) json["Data"] = data;
        return json;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);

    /// <summary>One stored row: its dimensions by name, and its monthly values.</summary>
    private sealed class Fact(CounterRow row, List<CounterDimension> groupBy)
    {
        public CounterRow Row { get; } = row;
        public string? this[CounterDimension dimension] => groupBy.IndexOf(dimension) is >= 0 and var i ? Row.Keys[i] : null;
    }

    /// <summary>Report_Items under construction: facts folded into items, then attribute groups, then metrics by month.</summary>
    private sealed class ReportBody(SushiReportBuilder builder, SushiRequest request, IReadOnlyDictionary<string, ItemMetadata> items, List<DateOnly> months)
    {
        private readonly Dictionary<string, ReportItem> _items = new(StringComparer.Ordinal);
        // What every fact of the report shares, worked out once rather than for each of them.
        private readonly Dictionary<(bool IsSearch, bool CountsTitles), List<(Part, List<CounterMetric>)>> _wantedMetrics = [];
        private readonly IReadOnlyList<string> _columns = request.Report.ViewColumns
            ?? ["Data_Type", .. new[] { "YOP", "Access_Type", "Access_Method" }.Where(request.AttributesToShow.Contains)];
        private readonly Columns _months = new(request.Totals ? months.Take(1) : months);
        private SushiReportDefinition Report => request.Report;

        public void Add(Fact fact)
        {
            var itemId = fact[CounterDimension.ItemId];
            var item = itemId is null ? null : items.GetValueOrDefault(itemId) ?? new ItemMetadata { Id = itemId };
            var titleId = fact[CounterDimension.TitleId] ?? itemId;
            var title = titleId is null ? null : titleId == itemId ? item : items.GetValueOrDefault(titleId) ?? new ItemMetadata { Id = titleId };
            var titleType = TitleDataType(title, item);
            var itemType = item?.DataType ?? (title == item ? titleType : "Unspecified");
            var yop = item?.Yop is { } y && YearPattern().IsMatch(y) ? y : "0001";
            if (request.Yops is { } yops && !yops.Any(r => int.Parse(yop, CultureInfo.InvariantCulture) is var year && year >= r.From && year <= r.To)) return;

            if (request.Attributed is { } attributed && (fact[CounterDimension.Institution] is not null) != attributed) return;
            var databaseId = fact[CounterDimension.DatabaseId];
            var database = databaseId is null ? null : builder.Schema.Databases.GetValueOrDefault(databaseId);
            var countsTitles = BookTypes.Contains(titleType);
            foreach (var (part, wantedMetrics) in WantedMetrics(itemId is null, countsTitles))
            {
                var dataType = part switch
                {
                    Part.Platform => "Platform",
                    Part.Database => database?.DataType ?? "Database_Full",
                    _ => ContentDataType(itemType, titleType),
                };
                if (part == Part.Content && !Report.DataTypes.Contains(dataType)) continue;
                if (part == Part.Content && request.DataTypes is { } wanted && !wanted.Contains(dataType)) continue;
                var key = Report.Level switch
                {
                    ReportLevel.Platform => "",
                    ReportLevel.Database => databaseId,
                    ReportLevel.Title => titleId,
                    _ => itemId,
                };
                if (key is null || !Matches(item, title, database, databaseId)) continue;

                if (!_items.TryGetValue(key, out var reportItem))
                    _items[key] = reportItem = new ReportItem(Identity(item, title, database, databaseId), ParentOf(item, title));
                var group = reportItem.Group(Attributes(fact, dataType, yop));
                foreach (var metric in wantedMetrics)
                {
                    group.Metrics.Add(metric);
                    var value = fact.Row[metric];
                    if (value == 0) continue;
                    var month = request.Totals ? months[0] : fact.Row.Period;
                    group.Counts[(metric, month)] = group.Counts.GetValueOrDefault((metric, month)) + value;
                }
            }
        }

        /// <summary>
        /// The Data_Type usage is reported under: TR uses the title's type and IR the item's. PR and DR
        /// use the item's, except that parts of a book count as the book, which carries the book's
        /// Unique_Title_* metrics (COUNTER's samples have those on Book rows only).
        /// </summary>
        private string ContentDataType(string itemType, string titleType) => Report.Level switch
        {
            ReportLevel.Title => titleType,
            ReportLevel.Item => itemType,
            _ when BookTypes.Contains(titleType) => titleType,
            ReportLevel.Database => DatabaseItemType(itemType, titleType),
            _ => itemType,
        };

        private enum Part { Platform, Database, Content }

        /// <summary>The parts a fact adds to, each with the metrics asked for that it carries.</summary>
        private List<(Part, List<CounterMetric>)> WantedMetrics(bool isSearch, bool countsTitles)
        {
            if (_wantedMetrics.TryGetValue((isSearch, countsTitles), out var known)) return known;
            return _wantedMetrics[(isSearch, countsTitles)] = [.. Parts(isSearch)
                .Select(p => (p.Item1, p.Item2.Where(m => request.Metrics.Contains(m) && (!TitleMetrics.Contains(m) || countsTitles)).ToList()))
                .Where(p => p.Item2.Count > 0)];
        }

        /// <summary>Searches belong to the platform or database, denials in DR to the database; the rest to content rows.</summary>
        private IEnumerable<(Part, IReadOnlyList<CounterMetric>)> Parts(bool isSearch)
        {
            var metrics = Report.Metrics;
            if (Report.Level == ReportLevel.Platform)
                return isSearch ? [(Part.Platform, [CounterMetric.SearchesPlatform])] : [(Part.Content, metrics.Where(m => !SearchMetrics.Contains(m)).ToList())];
            if (Report.Level != ReportLevel.Database)
                return isSearch ? [] : [(Part.Content, metrics)];
            var ofDatabase = metrics.Where(m => SearchMetrics.Contains(m) || m is CounterMetric.LimitExceeded or CounterMetric.NoLicense).ToList();
            return isSearch ? [(Part.Database, ofDatabase)] : [(Part.Database, ofDatabase), (Part.Content, metrics.Except(ofDatabase).ToList())];
        }

        private bool Matches(ItemMetadata? item, ItemMetadata? title, DatabaseOptions? database, string? databaseId)
        {
            if (request.Database is { } wantedDatabase && wantedDatabase != databaseId && wantedDatabase != database?.Name) return false;
            if (request.ItemId is { } wantedId)
            {
                var candidate = Report.Level == ReportLevel.Title ? title : item;
                if (candidate is null) return false;
                string?[] known = [candidate.Id, $"{builder.Counter.PlatformId}:{candidate.Id}", candidate.Doi, candidate.Isbn, candidate.PrintIssn, candidate.OnlineIssn, candidate.Uri];
                if (!known.Contains(wantedId, StringComparer.OrdinalIgnoreCase)) return false;
            }
            return request.Author is not { } author || (item?.Authors?.Contains(author, StringComparison.OrdinalIgnoreCase) ?? false);
        }

        private List<(string, string)> Attributes(Fact fact, string dataType, string yop)
        {
            var shown = request.AttributesToShow;
            var attributes = new List<(string, string)>();
            foreach (var column in _columns)
            {
                var value = column switch
                {
                    "Data_Type" => dataType,
                    "YOP" => yop,
                    "Access_Type" => fact[CounterDimension.AccessType],
                    _ => fact[CounterDimension.AccessMethod],
                };
                // Searches and databases have no YOP or Access_Type.
                if (value is not null && !(dataType is "Platform" || SushiReportCatalog.DatabaseDataTypes.Contains(dataType)) || column is "Data_Type" or "Access_Method")
                    attributes.Add((column, value ?? "Regular"));
            }
            var institution = fact[CounterDimension.Institution] is { } id ? builder.Schema.Institutions.GetValueOrDefault(id) : null;
            var country = fact[CounterDimension.Country];
            var region = fact[CounterDimension.Region];
            foreach (var name in shown)
            {
                var value = name switch
                {
                    "Institution_Name" => institution?.Name,
                    "Customer_ID" => institution?.CustomerId,
                    "Country_Code" => country,
                    "Country_Name" => country is null ? null : CountryNames.EnglishName(country) ?? country,
                    "Subdivision_Code" => region,
                    "Subdivision_Name" => region is null ? null : SubdivisionNames.EnglishName(region) ?? region,
                    "Attributed" => institution is null ? "No" : "Yes",
                    _ => null,
                };
                if (value is not null) attributes.Add((name, value!));
            }
            return attributes;
        }

        /// <summary>What a report item is named by, and the writer of the properties that identify it.</summary>
        private (string Name, Action<Utf8JsonWriter> Write) Identity(ItemMetadata? item, ItemMetadata? title, DatabaseOptions? database, string? databaseId)
        {
            var counter = builder.Counter;
            switch (Report.Level)
            {
                case ReportLevel.Platform:
                    return (counter.Platform, writer => writer.WriteString("Platform", counter.Platform));
                case ReportLevel.Database:
                    var databaseName = database?.Name ?? databaseId!;
                    return (databaseName, writer =>
                    {
                        writer.WriteString("Database", databaseName);
                        writer.WriteString("Publisher", database?.Publisher ?? counter.Publisher);
                        writer.WriteString("Platform", counter.Platform);
                        writer.WriteStartObject("Item_ID");
                        writer.WriteString("Proprietary", $"{counter.PlatformId}:{databaseId}");
                        writer.WriteEndObject();
                    });
                case ReportLevel.Title:
                    var titleName = title!.Name ?? title.Id;
                    return (titleName, writer =>
                    {
                        writer.WriteString("Title", titleName);
                        writer.WriteString("Publisher", title.Publisher ?? item?.Publisher ?? counter.Publisher);
                        writer.WriteString("Platform", counter.Platform);
                        builder.WriteItemIds(writer, title);
                    });
                default:
                    var itemName = item!.Name ?? item.Id;
                    return (itemName, writer =>
                    {
                        writer.WriteString("Item", itemName);
                        writer.WriteString("Publisher", item.Publisher ?? counter.Publisher);
                        writer.WriteString("Platform", counter.Platform);
                        builder.WriteItemIds(writer, item);
                        var details = request.ItemDetails;
                        if (details.Contains("Authors")) WriteAuthors(writer, item.Authors);
                        if (details.Contains("Publication_Date") && IsDate(item.PublicationDate)) writer.WriteString("Publication_Date", item.PublicationDate);
                        if (details.Contains("Article_Version") && ArticleVersions.Contains(item.ArticleVersion)) writer.WriteString("Article_Version", item.ArticleVersion);
                    });
            }
        }

        /// <summary>Item reports group items under their parent (with its details when asked, or when the view says so); others have none.</summary>
        private (string Key, Action<Utf8JsonWriter>? Details)? ParentOf(ItemMetadata? item, ItemMetadata? title)
        {
            if (Report.Level != ReportLevel.Item) return null;
            if (!request.IncludeParentDetails || item?.ParentId is null || title is null || title == item) return ("", null);
            return (title.Id, writer =>
            {
                writer.WriteString("Title", title.Name ?? title.Id);
                builder.WriteItemIds(writer, title);
                // Only the master IR's parent has a Data_Type in the schema.
                if (!Report.IsStandardView && TitleDataType(title, item) is var type && type is "Book" or "Conference" or "Database_Full" or "Journal" or "Newspaper_or_Newsletter" or "Reference_Work")
                    writer.WriteString("Data_Type", type);
            });
        }

        /// <summary>The items with usage, by name and then key, so the order never depends on how a store returned rows.</summary>
        public List<ReportItem> Ordered() => [.. _items.Where(i => i.Value.HasUsage)
            .OrderBy(i => i.Value.Identity.Name, StringComparer.Ordinal).ThenBy(i => i.Key, StringComparer.Ordinal)
            .Select(i => i.Value)];

        /// <summary>Writes the items, item reports' under their parents, handing the JSON on every few kilobytes.</summary>
        public async Task WriteAsync(Utf8JsonWriter writer, List<ReportItem> ordered, CancellationToken cancellationToken)
        {
            if (Report.Level != ReportLevel.Item)
            {
                foreach (var item in ordered)
                {
                    item.Write(writer, _months);
                    await HandOnAsync(writer, cancellationToken);
                }
                return;
            }
            foreach (var parent in ordered.GroupBy(i => i.Parent!.Value.Key).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                writer.WriteStartObject();
                parent.First().Parent!.Value.Details?.Invoke(writer);
                writer.WriteStartArray("Items");
                foreach (var item in parent)
                {
                    item.Write(writer, _months);
                    await HandOnAsync(writer, cancellationToken);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
        }

        private static async Task HandOnAsync(Utf8JsonWriter writer, CancellationToken cancellationToken)
        {
            if (writer.BytesPending >= HandOnBytes) await writer.FlushAsync(cancellationToken);
        }
    }

    private sealed class ReportItem((string Name, Action<Utf8JsonWriter> Write) identity, (string Key, Action<Utf8JsonWriter>? Details)? parent)
    {
        private readonly Dictionary<string, AttributeGroup> _groups = new(StringComparer.Ordinal);
        public (string Name, Action<Utf8JsonWriter> Write) Identity { get; } = identity;
        public (string Key, Action<Utf8JsonWriter>? Details)? Parent { get; } = parent;
        public bool HasUsage => _groups.Values.Any(g => g.Counts.Count > 0);

        public AttributeGroup Group(List<(string Name, string Value)> attributes)
        {
            var key = string.Join("\u001f", attributes.Select(a => $"{a.Name}={a.Value}"));
            if (!_groups.TryGetValue(key, out var group)) _groups[key] = group = new AttributeGroup(attributes);
            return group;
        }

        public void Write(Utf8JsonWriter writer, Columns months)
        {
            writer.WriteStartObject();
            Identity.Write(writer);
            writer.WriteStartArray("Attribute_Performance");
            foreach (var (_, group) in _groups.OrderBy(g => g.Key, StringComparer.Ordinal).Where(g => g.Value.Counts.Count > 0))
                group.Write(writer, months);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
    }

    /// <summary>Metrics of one combination of attribute values. Every metric of the report appears with every month, zeros included.</summary>
    private sealed class AttributeGroup(List<(string Name, string Value)> attributes)
    {
        public SortedSet<CounterMetric> Metrics { get; } = [];
        public Dictionary<(CounterMetric, DateOnly), long> Counts { get; } = [];

        public void Write(Utf8JsonWriter writer, Columns months)
        {
            writer.WriteStartObject();
            foreach (var (name, value) in attributes) writer.WriteString(name, value);
            writer.WriteStartObject("Performance");
            foreach (var metric in Metrics.OrderBy(CounterNames.Report, StringComparer.Ordinal))
            {
                writer.WriteStartObject(CounterNames.Report(metric));
                foreach (var (month, name) in months.Names)
                    writer.WriteNumber(name, Counts.GetValueOrDefault((metric, month)));
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }

    /// <summary>The months a report has a number for, with their names as JSON properties.</summary>
    private sealed class Columns(IEnumerable<DateOnly> months)
    {
        public (DateOnly Month, JsonEncodedText Name)[] Names { get; } =
            [.. months.Select(m => (m, JsonEncodedText.Encode(m.ToString("yyyy-MM", CultureInfo.InvariantCulture))))];
    }

    /// <summary>The title's Data_Type: as stated, else inferred from its identifiers or its items' type.</summary>
    private static string TitleDataType(ItemMetadata? title, ItemMetadata? item)
    {
        if (title?.DataType is { } stated) return stated;
        if (title?.Isbn is not null) return "Book";
        if (title?.PrintIssn is not null || title?.OnlineIssn is not null) return "Journal";
        return item?.DataType switch
        {
            "Article" => "Journal",
            "Book_Segment" => "Book",
            "Conference_Item" => "Conference",
            "News_Item" => "Newspaper_or_Newsletter",
            "Reference_Item" => "Reference_Work",
            { } other => other,
            null => "Unspecified",
        };
    }

    /// <summary>DR reports content by the type of the title it belongs to, which DR's Data_Type list names.</summary>
    private static string DatabaseItemType(string itemType, string titleType) =>
        SushiReportCatalog.DatabaseItemDataTypes.Contains(itemType) ? itemType
            : SushiReportCatalog.DatabaseItemDataTypes.Contains(titleType) ? titleType : "Other";

    private void WriteItemIds(Utf8JsonWriter writer, ItemMetadata metadata)
    {
        writer.WriteStartObject("Item_ID");
        if (metadata.Doi is { } doi && DoiPattern().IsMatch(doi)) writer.WriteString("DOI", doi);
        if (metadata.Isbn is { } isbn && IsbnPattern().IsMatch(isbn)) writer.WriteString("ISBN", isbn);
        if (metadata.PrintIssn is { } print && IssnPattern().IsMatch(print)) writer.WriteString("Print_ISSN", print);
        if (metadata.OnlineIssn is { } online && IssnPattern().IsMatch(online)) writer.WriteString("Online_ISSN", online);
        if (metadata.Uri is { } uri && Uri.TryCreate(uri, UriKind.Absolute, out _)) writer.WriteString("URI", uri);
        writer.WriteString("Proprietary", $"{Counter.PlatformId}:{metadata.Id}");
        writer.WriteEndObject();
    }

    /// <summary>Up to three authors of two characters or more, when there are any.</summary>
    private static void WriteAuthors(Utf8JsonWriter writer, string? authors)
    {
        var names = (authors ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(n => n.Length >= 2).Distinct().Take(3).ToList();
        if (names.Count == 0) return;
        writer.WriteStartArray("Authors");
        foreach (var name in names)
        {
            writer.WriteStartObject();
            writer.WriteString("Name", name);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static bool IsDate(string? text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    [GeneratedRegex("^[0-9]{4}$")] private static partial Regex YearPattern();
    [GeneratedRegex(@"^10\.[1-9][0-9]{2}[0-9.]*/.+$")] private static partial Regex DoiPattern();
    [GeneratedRegex("^97[89]-[0-9]+-[0-9]+-[0-9]+-[0-9]$")] private static partial Regex IsbnPattern();
    [GeneratedRegex("^[0-9]{4}-[0-9]{3}[0-9X]$")] private static partial Regex IssnPattern();
}

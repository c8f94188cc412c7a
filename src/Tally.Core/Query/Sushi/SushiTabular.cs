using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tally.Core.Query.Sushi;

/// <summary>
/// The Code of Practice's tabular form of a report, written from its JSON form so both always agree:
/// 13 header rows and a blank row, then column headings, then one row per item, attribute values and
/// metric, with Reporting_Period_Total and (unless Granularity is Total) one column per month. Every
/// row has as many cells as there are columns.
/// </summary>
public static class SushiTabular
{
    private static readonly string[] HeaderRows =
    [
        "Report_Name", "Report_ID", "Release", "Institution_Name", "Institution_ID", "Metric_Types", "Report_Filters",
        "Report_Attributes", "Exceptions", "Reporting_Period", "Created", "Created_By", "Registry_Record",
    ];
    private static readonly string[] AttributeOrder =
        ["Data_Type", "YOP", "Access_Type", "Access_Method", "Institution_Name", "Customer_ID", "Country_Name", "Country_Code", "Subdivision_Name", "Subdivision_Code", "Attributed"];
    private static readonly string[] Identifiers = ["DOI", "Proprietary", "ISBN", "Print_ISSN", "Online_ISSN", "URI"];

    /// <summary>The tab-separated text, as the Code of Practice gives it.</summary>
    public static string Write(JsonObject report)
    {
        // UTF-8 with a byte order mark, as the Code of Practice recommends for spreadsheets.
        var output = new StringBuilder("\uFEFF");
        foreach (var row in Rows(report))
        {
            // Tabs and line breaks inside values would break the table, so they become spaces.
            output.AppendJoin('\t', row.Select(c => c.ReplaceLineEndings(" ").Replace('\t', ' ')));
            output.Append("\r\n");
        }
        return output.ToString();
    }

    /// <summary>The table's rows, header rows first, for any tabular format.</summary>
    public static IEnumerable<IReadOnlyList<string>> Rows(JsonObject report)
    {
        var header = report["Report_Header"]!.AsObject();
        var definition = SushiReportCatalog.Find(Text(header["Report_ID"]))!;
        var filters = header["Report_Filters"]!.AsObject();
        var attributes = header["Report_Attributes"]?.AsObject();
        var shown = attributes?["Attributes_To_Show"]?.AsArray().Select(Text).ToList() ?? [];
        var totals = Text(attributes?["Granularity"]) == "Total";
        var withParent = definition.WithParent || Text(attributes?["Include_Parent_Details"]) == "True";
        var begin = DateOnly.Parse(Text(filters["Begin_Date"]), CultureInfo.InvariantCulture);
        var end = DateOnly.Parse(Text(filters["End_Date"]), CultureInfo.InvariantCulture);
        var months = new List<DateOnly>();
        for (var m = begin; m <= end; m = m.AddMonths(1)) months.Add(m);

        // Left blank when not filtered, as the Code of Practice's full-report samples show.
        var metricTypes = filters["Metric_Type"]?.AsArray().Select(Text).ToList() ?? [];
        var headerValues = new Dictionary<string, string>
        {
            ["Report_Name"] = Text(header["Report_Name"]),
            ["Report_ID"] = Text(header["Report_ID"]),
            ["Release"] = Text(header["Release"]),
            ["Institution_Name"] = Text(header["Institution_Name"]),
            ["Institution_ID"] = string.Join("; ", header["Institution_ID"]!.AsObject().SelectMany(p => p.Value!.AsArray().Select(v => $"{p.Key}:{Text(v)}"))),
            ["Metric_Types"] = string.Join("; ", metricTypes),
            ["Report_Filters"] = string.Join("; ", filters.Where(p => p.Key is not ("Begin_Date" or "End_Date" or "Metric_Type")).Select(p => $"{p.Key}={Joined(p.Value)}")),
            ["Report_Attributes"] = attributes is null ? "" : string.Join("; ", attributes.Select(p => $"{p.Key}={Joined(p.Value)}")),
            ["Exceptions"] = string.Join("; ", header["Exceptions"]?.AsArray().Select(e =>
                $"{e!["Code"]}: {Text(e["Message"])}{(e["Data"] is { } data ? $" ({Text(data)})" : "")}") ?? []),
            ["Reporting_Period"] = $"Begin_Date={Text(filters["Begin_Date"])}; End_Date={Text(filters["End_Date"])}",
            ["Created"] = Text(header["Created"]),
            ["Created_By"] = Text(header["Created_By"]),
            ["Registry_Record"] = Text(header["Registry_Record"]),
        };
        var attributeColumns = definition.ViewColumns?.ToList()
            ?? ["Data_Type", .. AttributeOrder.Skip(1).Where(shown.Contains)];
        var identity = IdentityColumns(definition, definition.ItemAttributes ?? shown, withParent);
        var monthColumns = totals ? [] : months.Select(m => m.ToString("MMM-yyyy", CultureInfo.InvariantCulture)).ToList();
        List<string> headings = [.. identity.Select(c => c.Heading), .. attributeColumns, "Metric_Type", "Reporting_Period_Total", .. monthColumns];

        // The header rows and the blank row are as wide as the table, as in COUNTER's samples, so every row has
        // the same number of cells.
        List<string> Padded(params string[] cells) => [.. cells, .. Enumerable.Repeat("", headings.Count - cells.Length)];
        foreach (var name in HeaderRows) yield return Padded(name, headerValues[name]);
        yield return Padded();
        yield return headings;

        foreach (var (item, parent) in Items(report["Report_Items"]!.AsArray(), definition.Level == ReportLevel.Item))
        {
            var fixedCells = identity.Select(c => c.Value(item, parent)).ToList();
            foreach (var performance in item["Attribute_Performance"]!.AsArray())
            {
                var attributeCells = attributeColumns.Select(a => Text(performance![a])).ToList();
                foreach (var (metric, counts) in performance!["Performance"]!.AsObject())
                {
                    var byMonth = counts!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<long>());
                    var total = byMonth.Values.Sum();
                    if (total == 0) continue;
                    var monthCells = totals ? [] : months.Select(m => byMonth.GetValueOrDefault(m.ToString("yyyy-MM", CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture));
                    yield return [.. fixedCells, .. attributeCells, metric, total.ToString(CultureInfo.InvariantCulture), .. monthCells];
                }
            }
        }
    }

    private sealed record Column(string Heading, Func<JsonNode, JsonNode?, string> Value);

    private static List<Column> IdentityColumns(SushiReportDefinition definition, IReadOnlyList<string> details, bool withParent)
    {
        Column Field(string name, string? heading = null) => new(heading ?? name, (item, _) => Text(item[name]));
        Column Id(string name, string prefix = "") => new(prefix + (name == "Proprietary" ? "Proprietary_ID" : name), (item, parent) =>
            Text((prefix.Length > 0 ? parent : item)?["Item_ID"]?[name]));
        var ids = Identifiers.Select(n => Id(n)).ToList();
        var publisher = new List<Column> { Field("Publisher"), new("Publisher_ID", (item, _) => Joined(item["Publisher_ID"])), Field("Platform") };
        return definition.Level switch
        {
            ReportLevel.Platform => [Field("Platform")],
            ReportLevel.Database => [Field("Database"), .. publisher, Id("Proprietary")],
            ReportLevel.Title => [Field("Title"), .. publisher, .. ids],
            _ =>
            [
                Field("Item"), .. publisher,
                .. details.Contains("Authors") ? [new Column("Authors", (item, _) => Authors(item["Authors"]))] : Array.Empty<Column>(),
                .. details.Contains("Publication_Date") ? [Field("Publication_Date")] : Array.Empty<Column>(),
                .. details.Contains("Article_Version") ? [Field("Article_Version")] : Array.Empty<Column>(),
                .. ids,
                .. withParent
                    ? [new Column("Parent_Title", (_, parent) => Text(parent?["Title"])), new Column("Parent_Data_Type", (_, parent) => Text(parent?["Data_Type"])),
                       .. Identifiers.Select(n => Id(n, "Parent_"))]
                    : Array.Empty<Column>(),
            ],
        };
    }

    /// <summary>Item reports nest items under parents; the others list them directly.</summary>
    private static IEnumerable<(JsonNode Item, JsonNode? Parent)> Items(JsonArray items, bool nested) =>
        nested
            ? items.SelectMany(parent => parent!["Items"]!.AsArray().Select(item => (item!, parent!["Title"] is null && parent["Item_ID"] is null ? null : parent)))
            : items.Select(item => (item!, (JsonNode?)null));

    private static string Authors(JsonNode? authors) =>
        authors is JsonArray list ? string.Join("; ", list.Select(a => Text(a!["Name"]))) : "";

    private static string Joined(JsonNode? node) => node switch
    {
        null => "",
        JsonArray array => string.Join("|", array.Select(Text)),
        JsonObject obj => string.Join("; ", obj.Select(p => $"{p.Key}:{Joined(p.Value)}")),
        _ => Text(node),
    };

    private static string Text(JsonNode? node) => node?.GetValueKind() switch
    {
        null => "",
        System.Text.Json.JsonValueKind.String => node.GetValue<string>(),
        _ => node.ToJsonString(),
    };
}

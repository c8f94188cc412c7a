namespace Tally.Core.Configuration;

/// <summary>What Tally runs with when no configuration file is given.</summary>
public static class DefaultConfiguration
{
    /// <summary>COUNTER R5.1 Data_Type values an item or its parent may have.</summary>
    public static readonly string[] CounterDataTypes =
    [
        "Article", "Audiovisual", "Book", "Book_Segment", "Conference", "Conference_Item", "Database_Aggregated", "Database_AI",
        "Database_Full", "Database_Full_Item", "Dataset", "Image", "Interactive_Resource", "Journal", "Multimedia", "News_Item",
        "Newspaper_or_Newsletter", "Other", "Patent", "Reference_Item", "Reference_Work", "Report", "Software", "Sound",
        "Standard", "Thesis_or_Dissertation", "Unspecified",
    ];

    public static TallyOptions Create() => new()
    {
        EventTypes =
        [
            UsageType("record-view", "investigation"), UsageType("file-download", "request"),
            UsageType("no-license", "no_license"), UsageType("limit-exceeded", "limit_exceeded"), SearchType(),
            // The rest of what PKP logs: supplementary files are investigations only; site pages count outside COUNTER.
            UsageType("supplementary-download", "investigation"), UsageType("context-view", "none"),
            UsageType("issue-view", "none"), UsageType("issue-download", "none"),
            MessageType(),
        ],
        Aggregations =
        [
            new() { Name = "record-view-agg", EventType = "record-view", GroupBy = ["item_id"] },
            new() { Name = "file-download-agg", EventType = "file-download", GroupBy = ["item_id"], SumFields = ["size"] },
            new() { Name = "record-view-geo", EventType = "record-view", GroupBy = ["country"] },
            new() { Name = "file-download-geo", EventType = "file-download", GroupBy = ["country"] },
            // What the dashboard shows besides: where each item is used, where visitors come from, and how much robots did.
            // Any two of the places' fields may be asked together; all three would cost a row per event on most days.
            new() { Name = "record-view-places", EventType = "record-view", GroupBy = ["item_id", "country", "institution"], Groupings = PlacesPairs() },
            new() { Name = "file-download-places", EventType = "file-download", GroupBy = ["item_id", "country", "institution"], Groupings = PlacesPairs() },
            new() { Name = "record-view-referrers", EventType = "record-view", GroupBy = ["referrer"] },
            new() { Name = "record-view-with-robots", EventType = "record-view", IncludeRobots = true },
            new() { Name = "file-download-with-robots", EventType = "file-download", IncludeRobots = true },
        ],
        Queries =
        [
            new() { Name = "record-view-histogram", Kind = "date-histogram", Aggregation = "record-view-agg" },
            new() { Name = "file-download-histogram", Kind = "date-histogram", Aggregation = "file-download-agg" },
            new() { Name = "record-view-top", Kind = "terms", Aggregation = "record-view-agg", Field = "item_id" },
            new() { Name = "file-download-top", Kind = "terms", Aggregation = "file-download-agg", Field = "item_id" },
            new() { Name = "file-download-volume", Kind = "date-histogram", Aggregation = "file-download-agg", Metric = "sum:size" },
            new() { Name = "record-view-countries", Kind = "terms", Aggregation = "record-view-geo", Field = "country" },
            new() { Name = "file-download-countries", Kind = "terms", Aggregation = "file-download-geo", Field = "country" },
            new() { Name = "record-view-places", Kind = "terms", Aggregation = "record-view-places", Field = "country" },
            new() { Name = "file-download-places", Kind = "terms", Aggregation = "file-download-places", Field = "country" },
            new() { Name = "record-view-referrers", Kind = "terms", Aggregation = "record-view-referrers", Field = "referrer" },
            new() { Name = "record-view-with-robots-histogram", Kind = "date-histogram", Aggregation = "record-view-with-robots" },
            new() { Name = "file-download-with-robots-histogram", Kind = "date-histogram", Aggregation = "file-download-with-robots" },
        ],
    };

    private static List<List<string>> PlacesPairs() => [["item_id", "country"], ["item_id", "institution"], ["country", "institution"]];

    private static EventTypeOptions UsageType(string name, string counterRole)
    {
        var type = ActivityType(name, counterRole);
        type.Fields["item_id"] = new() { Required = true };
        foreach (var field in (string[])["title_id", "database_id", "url", "format", "referrer", "item_name", "title_name", "doi", "isbn",
                     "print_issn", "online_issn", "uri", "publisher", "yop", "authors", "publication_date", "article_version"])
            type.Fields[field] = new();
        type.Fields["size"] = new() { Type = "integer" };
        type.Fields["access_type"] = new() { Values = ["Controlled", "Open", "Free_To_Read"] };
        type.Fields["data_type"] = new() { Values = [.. CounterDataTypes] };
        type.Fields["parent_data_type"] = new() { Values = [.. CounterDataTypes] };
        return type;
    }

    private static EventTypeOptions SearchType()
    {
        var type = ActivityType("search", "search");
        type.Fields["database_id"] = new();
        type.Fields["search_type"] = new() { Values = ["regular", "automated", "federated"] };
        return type;
    }

    /// <summary>Bus messages as datanommer keeps them: topic and category as fields; headers and body ride along as sent.</summary>
    private static EventTypeOptions MessageType() => new()
    {
        Name = "message",
        Partition = "month",
        Fields = new() { ["topic"] = new() { Required = true }, ["category"] = new(), ["message_id"] = new() },
    };

    /// <summary>Who did it and from where: the fields every usage type shares, and the steps that anonymize them.</summary>
    private static EventTypeOptions ActivityType(string name, string counterRole) => new()
    {
        Name = name,
        Partition = "month",
        Counter = counterRole,
        Fields = new()
        {
            ["ip"] = new(),
            ["user_agent"] = new(),
            ["user_id"] = new(),
            ["session_id"] = new(),
            ["access_method"] = new() { Values = ["Regular", "TDM"] },
            ["institution"] = new(),
            ["country"] = new(),
            ["region"] = new(),
            ["city"] = new(),
        },
        Pipeline = [new() { Step = "robot-flag" }, new() { Step = "institution" }, new() { Step = "geo" }, new() { Step = "anonymize" }],
    };
}

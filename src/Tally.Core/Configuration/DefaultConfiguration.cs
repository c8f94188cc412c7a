namespace Tally.Core.Configuration;

/// <summary>What Tally runs with when no configuration file is given.</summary>
public static class DefaultConfiguration
{
    public static TallyOptions Create() => new()
    {
        EventTypes = [UsageType("record-view"), UsageType("file-download")],
        Aggregations =
        [
            new() { Name = "record-view-agg", EventType = "record-view", GroupBy = ["item_id"] },
            new() { Name = "file-download-agg", EventType = "file-download", GroupBy = ["item_id"], SumFields = ["size"] },
        ],
        Queries =
        [
            new() { Name = "record-view-histogram", Kind = "date-histogram", Aggregation = "record-view-agg" },
            new() { Name = "file-download-histogram", Kind = "date-histogram", Aggregation = "file-download-agg" },
            new() { Name = "record-view-top", Kind = "terms", Aggregation = "record-view-agg", Field = "item_id" },
            new() { Name = "file-download-top", Kind = "terms", Aggregation = "file-download-agg", Field = "item_id" },
            new() { Name = "file-download-volume", Kind = "date-histogram", Aggregation = "file-download-agg", Metric = "sum:size" },
        ],
    };

    private static EventTypeOptions UsageType(string name) => new()
    {
        Name = name,
        Partition = "month",
        Fields = new()
        {
            ["item_id"] = new() { Type = "string", Required = true },
            ["title_id"] = new(),
            ["url"] = new(),
            ["ip"] = new(),
            ["user_agent"] = new(),
            ["user_id"] = new(),
            ["session_id"] = new(),
            ["referrer"] = new(),
            ["size"] = new() { Type = "integer" },
        },
        Pipeline = [new() { Step = "robot-flag" }, new() { Step = "anonymize" }],
    };
}

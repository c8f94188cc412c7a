using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests;

/// <summary>Writes a tally.json: the default event types, COUNTER's robot list, and test keys.</summary>
public static class TestConfig
{
    public const string WriteKey = "write-key-0123456789abcdef";
    public const string AdminKey = "admin-key-0123456789abcdef";

    public static string Write(string directory, Action<JsonObject>? change = null)
    {
        var config = new JsonObject
        {
            ["robots"] = new JsonObject { ["lists"] = new JsonArray(TestPaths.CounterRobots) },
            ["apiKeys"] = new JsonArray(
                new JsonObject { ["name"] = "writer", ["key"] = WriteKey, ["role"] = "write" },
                new JsonObject { ["name"] = "admin", ["key"] = AdminKey, ["role"] = "admin" }),
            ["eventTypes"] = new JsonArray(UsageType("record-view"), UsageType("file-download")),
            ["aggregations"] = new JsonArray(
                new JsonObject { ["name"] = "record-view-agg", ["eventType"] = "record-view", ["groupBy"] = new JsonArray("item_id") },
                new JsonObject { ["name"] = "file-download-agg", ["eventType"] = "file-download", ["groupBy"] = new JsonArray("item_id"), ["sumFields"] = new JsonArray("size") }),
            ["queries"] = new JsonArray(
                new JsonObject { ["name"] = "record-view-histogram", ["kind"] = "date-histogram", ["aggregation"] = "record-view-agg" },
                new JsonObject { ["name"] = "record-view-top", ["kind"] = "terms", ["aggregation"] = "record-view-agg", ["field"] = "item_id" },
                new JsonObject { ["name"] = "file-download-volume", ["kind"] = "date-histogram", ["aggregation"] = "file-download-agg", ["metric"] = "sum:size" }),
        };
        change?.Invoke(config);
        var path = Path.Combine(directory, "tally.json");
        File.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    private static JsonObject UsageType(string name) => new()
    {
        ["name"] = name,
        ["partition"] = "month",
        ["fields"] = new JsonObject
        {
            ["item_id"] = new JsonObject { ["type"] = "string", ["required"] = true },
            ["ip"] = new JsonObject(),
            ["user_agent"] = new JsonObject(),
            ["user_id"] = new JsonObject(),
            ["session_id"] = new JsonObject(),
            ["size"] = new JsonObject { ["type"] = "integer" },
        },
        ["pipeline"] = new JsonArray(new JsonObject { ["step"] = "robot-flag" }, new JsonObject { ["step"] = "anonymize" }),
    };
}

using System.Text.Json;

namespace Tally.Core.Configuration;

/// <summary>Reads tally.json text (or an appsettings file with a "Tally" section) into options.</summary>
public static class ConfigurationReader
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        // A misspelt setting must stop the program rather than be silently ignored.
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        // So must a null where a value is needed ("eventTypes": null); null list items are caught by TallySchema.
        RespectNullableAnnotations = true,
    };

    public static TallyOptions Parse(string json)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ConfigurationException($"line {e.LineNumber + 1}", e.Message);
        }

        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("Tally", out var section))
            root = section;
        TallyOptions options;
        try
        {
            options = root.Deserialize<TallyOptions>(Json) ?? throw new ConfigurationException("(root)", "the configuration is empty");
        }
        catch (JsonException e)
        {
            throw new ConfigurationException(e.Path is null or "$" ? "(root)" : e.Path.TrimStart('$', '.'), e.Message);
        }

        // A file that only sets keys or limits keeps the built-in types, and their aggregations and queries.
        if (!Has(root, "eventTypes"))
        {
            var defaults = DefaultConfiguration.Create();
            options.EventTypes = defaults.EventTypes;
            if (!Has(root, "aggregations")) options.Aggregations = defaults.Aggregations;
            if (!Has(root, "queries")) options.Queries = defaults.Queries;
        }
        return options;
    }

    private static bool Has(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.EnumerateObject().Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}

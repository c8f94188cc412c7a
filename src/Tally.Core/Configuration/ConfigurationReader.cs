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
        try
        {
            return root.Deserialize<TallyOptions>(Json) ?? throw new ConfigurationException("$", "the configuration is empty");
        }
        catch (JsonException e)
        {
            throw new ConfigurationException(e.Path ?? "$", e.Message);
        }
    }
}

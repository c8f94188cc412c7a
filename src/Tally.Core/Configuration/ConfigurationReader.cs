using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

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
        // The settings' names and types, which CheckShape walks.
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    private const string Root = "(root)";

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

        if (root.ValueKind == JsonValueKind.Object && ReadName(() => root.TryGetProperty("Tally", out var tally) ? tally : (JsonElement?)null, "") is { } section)
            root = section;
        CheckShape(root, typeof(TallyOptions), "");
        TallyOptions options;
        try
        {
            options = root.Deserialize<TallyOptions>(Json)!;
        }
        catch (JsonException e)
        {
            throw new ConfigurationException(e.Path is null or "$" ? Root : e.Path.TrimStart('$', '.'), e.Message);
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

    /// <summary>
    /// Walks the JSON along the shape of the options before they are bound, so that a misspelt name or a value of the
    /// wrong kind is reported at its setting path, with the valid names and the nearest one, in words rather than .NET types.
    /// </summary>
    private static void CheckShape(JsonElement value, Type type, string path)
    {
        var info = Json.GetTypeInfo(type);
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                Require(value.ValueKind == JsonValueKind.Object, path, "must be an object, { ... }", value);
                foreach (var property in value.EnumerateObject())
                {
                    var name = ReadName(() => property.Name, path);
                    var at = path.Length == 0 ? name : $"{path}.{name}";
                    var setting = info.Properties.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                        ?? throw new ConfigurationException(at, UnknownSetting(name, path, info.Properties.Select(p => p.Name)));
                    if (property.Value.ValueKind == JsonValueKind.Null && !setting.IsSetNullable)
                        throw new ConfigurationException(at, "must not be null");
                    if (property.Value.ValueKind != JsonValueKind.Null)
                        CheckShape(property.Value, setting.PropertyType, at);
                }
                break;
            case JsonTypeInfoKind.Enumerable:
                Require(value.ValueKind == JsonValueKind.Array, path, "must be a list, [ ... ]", value);
                var index = 0;
                // Null items are named by TallySchema, which knows what each list holds.
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Null) CheckShape(item, info.ElementType!, $"{path}[{index}]");
                    index++;
                }
                break;
            case JsonTypeInfoKind.Dictionary:
                Require(value.ValueKind == JsonValueKind.Object, path, "must be an object, { \"NAME\": ... }", value);
                foreach (var entry in value.EnumerateObject())
                    if (entry.Value.ValueKind != JsonValueKind.Null) CheckShape(entry.Value, info.ElementType!, $"{path}.{ReadName(() => entry.Name, path)}");
                break;
            default:
                CheckValue(value, Nullable.GetUnderlyingType(type) ?? type, path);
                break;
        }
    }

    private static void CheckValue(JsonElement value, Type type, string path)
    {
        if (type == typeof(string))
        {
            Require(value.ValueKind == JsonValueKind.String, path, "must be text in quotes", value);
            Require(IsText(value), path, "must be valid Unicode text, without a lone surrogate", value);
        }
        else if (type == typeof(bool))
            Require(value.ValueKind is JsonValueKind.True or JsonValueKind.False, path, "must be true or false", value);
        else if (type == typeof(DateOnly))
            Require(value.ValueKind == JsonValueKind.String && IsText(value)
                && DateOnly.TryParseExact(value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
                path, "must be a date written \"yyyy-mm-dd\"", value);
        else if (WholeNumberRange(type) is var (min, max))
        {
            Require(value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && number == Math.Floor(number),
                path, "must be a whole number", value);
            Require(value.TryGetInt64(out var whole) && whole >= min && whole <= max, path,
                string.Create(CultureInfo.InvariantCulture, $"must be a whole number from {min} to {max}"), value);
        }
    }

    private static (long Min, long Max)? WholeNumberRange(Type type) =>
        type == typeof(int) ? (int.MinValue, int.MaxValue)
        : type == typeof(ushort) ? (ushort.MinValue, ushort.MaxValue)
        : type == typeof(long) ? (long.MinValue, long.MaxValue)
        : null;

    /// <summary>Whether a JSON string is readable text (an escaped lone surrogate is not).</summary>
    private static bool IsText(JsonElement value)
    {
        try
        {
            _ = value.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Reads a property name, which fails when it is not text (an escaped lone surrogate).</summary>
    private static T ReadName<T>(Func<T> read, string path)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException)
        {
            throw new ConfigurationException(path.Length == 0 ? Root : path, "holds a name that is not valid Unicode text (a lone surrogate)");
        }
    }

    private static string UnknownSetting(string name, string parent, IEnumerable<string> valid)
    {
        var names = valid.ToList();
        var where = parent.Length == 0 ? "at the top level" : $"in {parent}";
        var nearest = NearestName.Find(name, names);
        var hint = nearest is null ? "." : $"; did you mean {(parent.Length == 0 ? "" : parent + ".")}{nearest}?";
        return $"there is no setting '{name}' {where}{hint} Settings {where}: {string.Join(", ", names)}";
    }

    private static void Require(bool condition, string path, string problem, JsonElement value)
    {
        if (condition) return;
        var shown = value.GetRawText();
        if (shown.Length > 60) shown = shown[..57] + "...";
        throw new ConfigurationException(path.Length == 0 ? Root : path, $"{problem}, got {shown}");
    }
}

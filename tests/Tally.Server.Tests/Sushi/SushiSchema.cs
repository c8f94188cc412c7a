using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tally.Server.Tests.Sushi;

/// <summary>
/// Validates JSON against the COUNTER_SUSHI API 5.1 spec in ../shared/data/counter (OpenAPI 3.1, JSON Schema 2020-12).
/// A schema name is either a <c>components/schemas</c> name ("TR_J1", "Status", "Exception_3030", …) or a
/// <c>components/responses</c> name ("200_Status", "400_Exception", …), whose schema is the
/// <c>application/json</c> body of that response (e.g. "200_Status" is a non-empty array of Status objects), or
/// "Status[]", "Member[]", "Report[]" for those same array answers (200_Status, 200_Members, 200_Reports).
/// </summary>
/// <example>
/// <code>
/// SushiSchema.AssertValidResponse("/r51/reports/tr_j1", 200, body);    // schema TR_J1
/// SushiSchema.AssertValid(SushiSchema.ReportSchemaName("pr_p1"), body); // schema PR_P1
/// Assert.Empty(SushiSchema.Errors("Exception_3030", body));
/// </code>
/// </example>
public static class SushiSchema
{
    private const string SchemasPointer = "/components/schemas/";
    private const string ResponsesPointer = "/components/responses/";
    private const string ReportsPath = "/r51/reports/";

    private static readonly Lazy<Spec> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The spec file, outside the repository: ../shared/data/counter/COUNTER_SUSHI_API_5.1.json.</summary>
    public static string SpecPath => Path.Combine(CounterDataDirectory, "COUNTER_SUSHI_API_5.1.json");

    /// <summary>The sample reports from the COUNTER repository: ../shared/data/counter/samples/*_sample_r51.json.</summary>
    public static string SamplesDirectory => Path.Combine(CounterDataDirectory, "samples");

    private static string CounterDataDirectory => Path.Combine(TestPaths.RepositoryRoot, "..", "shared", "data", "counter");

    /// <summary>Every <c>components/schemas</c> name.</summary>
    public static IReadOnlyList<string> SchemaNames => Loaded.Value.SchemaNames;

    /// <summary>Every <c>components/responses</c> name ("200_Status", "400_Exception_1030", …).</summary>
    public static IReadOnlyList<string> ResponseNames => Loaded.Value.ResponseNames;

    /// <summary>The report ids the spec has a path for, upper case as in Report_Header.Report_ID: PR, PR_P1, DR, …, IR_M1 (16).</summary>
    public static IReadOnlyList<string> ReportIds => Loaded.Value.ReportIds;

    /// <summary>The schema of a report id from a path or header, in any case: "tr_j1" → "TR_J1", "pr" → "PR".</summary>
    public static string ReportSchemaName(string reportId)
    {
        var name = reportId.Trim().ToUpperInvariant();
        return Loaded.Value.ReportIds.Contains(name)
            ? name
            : throw new ArgumentException($"'{reportId}' is not a report of COUNTER R5.1 (known: {string.Join(", ", Loaded.Value.ReportIds)})", nameof(reportId));
    }

    /// <summary>The HTTP status codes the spec documents for GET <paramref name="path"/> ("/r51/status", "/r51/reports/tr_j1").</summary>
    public static IReadOnlyList<int> ResponseStatusCodes(string path) =>
        Operation(path).EnumerateObject().Select(r => int.Parse(r.Name, CultureInfo.InvariantCulture)).ToList();

    /// <summary>
    /// The <c>components/responses</c> name the spec gives for GET <paramref name="path"/> answering <paramref name="statusCode"/>:
    /// ("/r51/status", 200) → "200_Status", ("/r51/reports/tr_j1", 400) → "400_Exception". Throws if that status is not documented there.
    /// </summary>
    public static string ResponseSchemaName(string path, int statusCode)
    {
        var responses = Operation(path);
        if (!responses.TryGetProperty(statusCode.ToString(CultureInfo.InvariantCulture), out var response))
            throw new ArgumentException($"the spec documents no HTTP {statusCode} for GET {path} (only {string.Join(", ", ResponseStatusCodes(path))})", nameof(statusCode));
        var reference = response.TryGetProperty("$ref", out var r) ? r.GetString()! : "";
        return reference.StartsWith("#" + ResponsesPointer, StringComparison.Ordinal)
            ? reference[(ResponsesPointer.Length + 1)..]
            : throw new NotSupportedException($"GET {path} {statusCode}: the response is not a $ref to {ResponsesPointer}");
    }

    /// <summary>Readable failures ("/Report_Header/Release: const: must be "5.1" but was "5" [schema …]"); empty when <paramref name="json"/> is valid.</summary>
    public static IReadOnlyList<string> Errors(string schemaName, string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            return [$"(root): json: not valid JSON: {e.Message}"];
        }
        using (document) return Errors(schemaName, document.RootElement);
    }

    /// <inheritdoc cref="Errors(string, string)"/>
    public static IReadOnlyList<string> Errors(string schemaName, JsonNode? node) => Errors(schemaName, node?.ToJsonString() ?? "null");

    /// <inheritdoc cref="Errors(string, string)"/>
    public static IReadOnlyList<string> Errors(string schemaName, JsonElement instance) =>
        Evaluate(schemaName, instance).Select(e => e.ToString()).ToList();

    /// <summary>The failures as records (instance location, keyword, message, schema location); empty when valid.</summary>
    public static IReadOnlyList<SchemaError> Evaluate(string schemaName, JsonElement instance) =>
        Loaded.Value.Validator.Evaluate(Pointer(schemaName), instance);

    /// <summary>Fails the test with every failure and the start of the JSON unless <paramref name="json"/> is valid against <paramref name="schemaName"/>.</summary>
    public static void AssertValid(string schemaName, string json)
    {
        var errors = Errors(schemaName, json);
        if (errors.Count > 0) Assert.Fail(Describe($"schema {schemaName}", errors, json));
    }

    /// <inheritdoc cref="AssertValid(string, string)"/>
    public static void AssertValid(string schemaName, JsonNode? node) => AssertValid(schemaName, node?.ToJsonString() ?? "null");

    /// <summary>Failures of a response body against what the spec says GET <paramref name="path"/> returns with <paramref name="statusCode"/>.</summary>
    public static IReadOnlyList<string> ResponseErrors(string path, int statusCode, string json) =>
        Errors(ResponseSchemaName(path, statusCode), json);

    /// <summary>Fails the test unless the status is documented for GET <paramref name="path"/> and the body matches its schema.</summary>
    public static void AssertValidResponse(string path, int statusCode, string json)
    {
        var name = ResponseSchemaName(path, statusCode);
        var errors = Errors(name, json);
        if (errors.Count > 0) Assert.Fail(Describe($"GET {path} → {statusCode} (schema {name})", errors, json));
    }

    private static string Describe(string what, IReadOnlyList<string> errors, string json)
    {
        const int MaxErrors = 40, MaxJson = 1500;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"JSON does not match COUNTER_SUSHI 5.1 {what}: {errors.Count} error(s)\n");
        foreach (var error in errors.Take(MaxErrors)) text.Append("  - ").Append(error).Append('\n');
        if (errors.Count > MaxErrors) text.Append(CultureInfo.InvariantCulture, $"  … and {errors.Count - MaxErrors} more\n");
        text.Append(CultureInfo.InvariantCulture, $"JSON ({json.Length} chars): ").Append(json.Length <= MaxJson ? json : json[..MaxJson] + "…");
        return text.ToString();
    }

    /// <summary>"Status[]", "Member[]", "Report[]": the array answers of /r51/status, /r51/members and /r51/reports.</summary>
    private static readonly Dictionary<string, string> ArrayAliases = new(StringComparer.Ordinal)
    {
        ["Status[]"] = "200_Status",
        ["Member[]"] = "200_Members",
        ["Report[]"] = "200_Reports",
    };

    private static string Pointer(string schemaName)
    {
        var spec = Loaded.Value;
        if (ArrayAliases.TryGetValue(schemaName, out var response)) schemaName = response;
        if (spec.SchemaNames.Contains(schemaName)) return SchemasPointer + Escape(schemaName);
        if (spec.ResponseNames.Contains(schemaName)) return ResponsesPointer + Escape(schemaName) + "/content/application~1json/schema";
        throw new ArgumentException($"'{schemaName}' is neither in components/schemas nor in components/responses of {SpecPath}", nameof(schemaName));
    }

    private static JsonElement Operation(string path)
    {
        var bare = path.Split('?')[0];
        if (!Loaded.Value.Paths.TryGetProperty(bare, out var item) || !item.TryGetProperty("get", out var get))
            throw new ArgumentException($"the spec has no GET {bare}", nameof(path));
        return get.GetProperty("responses");
    }

    private static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private sealed record Spec(JsonSchema2020 Validator, JsonElement Paths, IReadOnlyList<string> SchemaNames, IReadOnlyList<string> ResponseNames, IReadOnlyList<string> ReportIds);

    private static Spec Load()
    {
        if (!File.Exists(SpecPath)) throw new FileNotFoundException("The COUNTER_SUSHI 5.1 spec is not where the tests expect it", SpecPath);
        using var document = JsonDocument.Parse(File.ReadAllText(SpecPath));
        var root = document.RootElement.Clone();
        var components = root.GetProperty("components");
        var schemaNames = components.GetProperty("schemas").EnumerateObject().Select(p => p.Name).ToList();
        var responseNames = components.GetProperty("responses").EnumerateObject()
            .Where(r => r.Value.TryGetProperty("content", out var c) && c.TryGetProperty("application/json", out _))
            .Select(p => p.Name).ToList();
        var paths = root.GetProperty("paths");
        var reportIds = paths.EnumerateObject()
            .Where(p => p.Name.StartsWith(ReportsPath, StringComparison.Ordinal))
            .Select(p => p.Name[ReportsPath.Length..].ToUpperInvariant())
            .ToList();
        var roots = schemaNames.Select(n => SchemasPointer + Escape(n))
            .Concat(responseNames.Select(n => ResponsesPointer + Escape(n) + "/content/application~1json/schema"));
        return new Spec(new JsonSchema2020(root, roots), paths, schemaNames, responseNames, reportIds);
    }
}

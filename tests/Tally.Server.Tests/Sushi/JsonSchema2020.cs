using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tally.Server.Tests.Sushi;

/// <summary>One failed check: where in the instance (JSON Pointer), which keyword, what went wrong, and where in the schema.</summary>
public sealed record SchemaError(string InstanceLocation, string Keyword, string Message, string SchemaLocation)
{
    public override string ToString() =>
        $"{(InstanceLocation.Length == 0 ? "(root)" : InstanceLocation)}: {Keyword}: {Message} [schema {SchemaLocation}]";
}

/// <summary>
/// A JSON Schema 2020-12 evaluator for the keywords that the COUNTER_SUSHI API 5.1 spec uses, with
/// <c>unevaluatedProperties</c> (annotations from <c>properties</c>, <c>patternProperties</c>,
/// <c>additionalProperties</c>, <c>$ref</c>, <c>allOf</c> and the passing branches of <c>anyOf</c>/<c>oneOf</c>),
/// and <c>format</c> asserted for date, date-time and uri.
/// </summary>
/// <remarks>
/// Written here because no package that restores from this project's NuGet mirror gets this spec right:
/// JsonSchema.Net needs JsonPointer.Net (absent), NJsonSchema has no 2020-12 / unevaluatedProperties, and
/// Newtonsoft.Json.Schema 4.0.2 (AGPL, 1000 validations an hour) rejects the spec's own IR / IR_A1 samples.
/// It is strict by construction: a schema keyword it does not implement, an unknown format, a pattern that does
/// not compile or a <c>$ref</c> that does not resolve makes the constructor throw, instead of being skipped.
/// Schemas are JSON Pointers into one document (the OpenAPI file), so <c>#/components/schemas/X</c> refs resolve as they are.
/// </remarks>
public sealed class JsonSchema2020
{
    private const int MaxDepth = 256;

    /// <summary>Keywords that only annotate: they never make an instance invalid.</summary>
    private static readonly HashSet<string> AnnotationKeywords = new(StringComparer.Ordinal)
    {
        "$schema", "$comment", "title", "description", "examples", "example", "default", "deprecated", "readOnly", "writeOnly",
    };

    /// <summary>Keywords this evaluator asserts or applies.</summary>
    private static readonly HashSet<string> AssertionKeywords = new(StringComparer.Ordinal)
    {
        "$ref", "type", "const", "enum", "required",
        "properties", "patternProperties", "additionalProperties", "unevaluatedProperties", "minProperties", "maxProperties",
        "allOf", "anyOf", "oneOf", "not",
        "items", "minItems", "maxItems", "uniqueItems",
        "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    };

    private static readonly HashSet<string> SupportedFormats = new(StringComparer.Ordinal) { "date", "date-time", "uri" };

    private static readonly Regex DatePattern = new("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", RegexOptions.CultureInvariant);

    private static readonly Regex DateTimePattern = new(
        "^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\\.[0-9]+)?([Zz]|([+-])([0-9]{2}):([0-9]{2}))$",
        RegexOptions.CultureInvariant);

    // RFC 3986 URI (absolute, optional fragment): scheme ":" then only characters a URI may hold, "%" only as %HH.
    private static readonly Regex UriPattern = new(
        "^[A-Za-z][A-Za-z0-9+.\\-]*:(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@/?\\[\\]]|%[0-9A-Fa-f]{2})*(?:#(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?$",
        RegexOptions.CultureInvariant);

    private readonly JsonElement _document;
    private readonly ConcurrentDictionary<string, JsonElement> _pointers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Regex> _patterns = new(StringComparer.Ordinal);

    /// <summary>Takes the whole document that schema pointers and <c>$ref</c>s point into, and checks every schema under <paramref name="schemaRoots"/>.</summary>
    public JsonSchema2020(JsonElement document, IEnumerable<string> schemaRoots)
    {
        _document = document.Clone();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in schemaRoots) CheckSupported(Resolve(root), "#" + root, seen);
    }

    /// <summary>The schema at a JSON Pointer into the document ("/components/schemas/TR_J1"); throws if there is none.</summary>
    public JsonElement Resolve(string pointer) => _pointers.GetOrAdd(pointer, p =>
    {
        var current = _document;
        if (p.Length == 0) return current;
        if (p[0] != '/') throw new ArgumentException($"not a JSON Pointer: '{p}'", nameof(pointer));
        foreach (var raw in p[1..].Split('/'))
        {
            var token = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(token, out var next)) current = next;
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < current.GetArrayLength()) current = current[i];
            else throw new KeyNotFoundException($"JSON Pointer '{p}' does not resolve in the schema document (no '{token}')");
        }
        return current;
    });

    /// <summary>Every failed check of <paramref name="instance"/> against the schema at <paramref name="schemaPointer"/>; empty when valid.</summary>
    public IReadOnlyList<SchemaError> Evaluate(string schemaPointer, JsonElement instance)
    {
        var errors = new List<SchemaError>();
        Eval(Resolve(schemaPointer), "#" + schemaPointer, instance, "", errors, null, 0);
        return errors;
    }

    // ---- evaluation -------------------------------------------------------------------------------------------

    /// <summary>
    /// Evaluates one schema against one instance, appending failures to <paramref name="errors"/> and, when the instance is
    /// an object and <paramref name="evaluated"/> is given, adding the property names this schema evaluated (for a parent's
    /// unevaluatedProperties). Valid exactly when it appended no error: every failing path appends at least one.
    /// Annotations of failing allOf/$ref subschemas are still passed up: the parent fails anyway, and it keeps one real
    /// error from turning into a cascade of "not evaluated" ones. Failing anyOf/oneOf branches pass none up (that could
    /// change validity), except the closest branch when the whole anyOf/oneOf failed.
    /// </summary>
    private bool Eval(JsonElement schema, string sLoc, JsonElement inst, string iLoc, List<SchemaError> errors, HashSet<string>? evaluated, int depth)
    {
        if (depth > MaxDepth) throw new InvalidOperationException($"schema nesting deeper than {MaxDepth} at {sLoc} (a $ref cycle?)");
        switch (schema.ValueKind)
        {
            case JsonValueKind.True: return true;
            case JsonValueKind.False:
                errors.Add(new(iLoc, "false", $"no value is allowed here, found {Preview(inst)}", sLoc));
                return false;
            case JsonValueKind.Object: break;
            default: throw new InvalidOperationException($"schema at {sLoc} is a {schema.ValueKind}, not an object or boolean");
        }

        var before = errors.Count;
        var isObject = inst.ValueKind == JsonValueKind.Object;
        var local = isObject ? new HashSet<string>(StringComparer.Ordinal) : null;

        foreach (var keyword in schema.EnumerateObject())
        {
            var value = keyword.Value;
            var kLoc = sLoc + "/" + Escape(keyword.Name);
            switch (keyword.Name)
            {
                case "$ref":
                    var target = value.GetString()!;
                    Eval(Resolve(RefPointer(target, sLoc)), target, inst, iLoc, errors, local, depth + 1);
                    break;
                case "type":
                    if (!TypeMatches(value, inst))
                        errors.Add(new(iLoc, "type", $"expected {TypeText(value)} but found {KindName(inst)} {Preview(inst)}", kLoc));
                    break;
                case "const":
                    if (!JsonEquals(value, inst))
                        errors.Add(new(iLoc, "const", $"must be {Preview(value)} but was {Preview(inst)}", kLoc));
                    break;
                case "enum":
                    if (!value.EnumerateArray().Any(e => JsonEquals(e, inst)))
                        errors.Add(new(iLoc, "enum", $"{Preview(inst)} is not one of {Preview(value, 300)}", kLoc));
                    break;
                case "required":
                    if (isObject)
                    {
                        foreach (var name in value.EnumerateArray().Select(n => n.GetString()!))
                        {
                            if (!inst.TryGetProperty(name, out _))
                                errors.Add(new(iLoc, "required", $"required property \"{name}\" is missing", kLoc));
                        }
                    }
                    break;
                case "properties":
                    if (isObject)
                    {
                        foreach (var property in inst.EnumerateObject())
                        {
                            if (!value.TryGetProperty(property.Name, out var sub)) continue;
                            Eval(sub, kLoc + "/" + Escape(property.Name), property.Value, iLoc + "/" + Escape(property.Name), errors, null, depth + 1);
                            local!.Add(property.Name);
                        }
                    }
                    break;
                case "patternProperties":
                    if (isObject)
                    {
                        foreach (var property in inst.EnumerateObject())
                        {
                            foreach (var pattern in value.EnumerateObject())
                            {
                                if (!Pattern(pattern.Name).IsMatch(property.Name)) continue;
                                Eval(pattern.Value, kLoc + "/" + Escape(pattern.Name), property.Value, iLoc + "/" + Escape(property.Name), errors, null, depth + 1);
                                local!.Add(property.Name);
                            }
                        }
                    }
                    break;
                case "additionalProperties":
                    if (isObject)
                    {
                        var hasProperties = schema.TryGetProperty("properties", out var properties);
                        var hasPatterns = schema.TryGetProperty("patternProperties", out var patterns);
                        foreach (var property in inst.EnumerateObject())
                        {
                            if (hasProperties && properties.TryGetProperty(property.Name, out _)) continue;
                            if (hasPatterns && patterns.EnumerateObject().Any(p => Pattern(p.Name).IsMatch(property.Name))) continue;
                            var pLoc = iLoc + "/" + Escape(property.Name);
                            if (value.ValueKind == JsonValueKind.False)
                                errors.Add(new(pLoc, "additionalProperties", $"property \"{property.Name}\" is not allowed{AllowedNames(schema)}", kLoc));
                            else
                                Eval(value, kLoc, property.Value, pLoc, errors, null, depth + 1);
                            local!.Add(property.Name);
                        }
                    }
                    break;
                case "unevaluatedProperties":
                    break; // after every other keyword of this schema, below
                case "$defs":
                    break; // only a place for $ref targets
                case "minProperties":
                    if (isObject && inst.EnumerateObject().Count() < value.GetInt32())
                        errors.Add(new(iLoc, "minProperties", $"has {inst.EnumerateObject().Count()} properties, fewer than {value.GetInt32()}", kLoc));
                    break;
                case "maxProperties":
                    if (isObject && inst.EnumerateObject().Count() > value.GetInt32())
                        errors.Add(new(iLoc, "maxProperties", $"has {inst.EnumerateObject().Count()} properties, more than {value.GetInt32()}", kLoc));
                    break;
                case "allOf":
                    var index = 0;
                    foreach (var sub in value.EnumerateArray())
                        Eval(sub, kLoc + "/" + index++, inst, iLoc, errors, local, depth + 1);
                    break;
                case "anyOf":
                case "oneOf":
                    EvalAlternatives(keyword.Name, value, kLoc, inst, iLoc, errors, local, depth);
                    break;
                case "not":
                    if (Eval(value, kLoc, inst, iLoc, [], null, depth + 1))
                        errors.Add(new(iLoc, "not", $"{Preview(inst)} must not match the schema at {kLoc}", kLoc));
                    break;
                case "items":
                    if (inst.ValueKind == JsonValueKind.Array)
                    {
                        var i = 0;
                        foreach (var item in inst.EnumerateArray())
                            Eval(value, kLoc, item, iLoc + "/" + i++, errors, null, depth + 1);
                    }
                    break;
                case "minItems":
                    if (inst.ValueKind == JsonValueKind.Array && inst.GetArrayLength() < value.GetInt32())
                        errors.Add(new(iLoc, "minItems", $"has {inst.GetArrayLength()} items, fewer than {value.GetInt32()}", kLoc));
                    break;
                case "maxItems":
                    if (inst.ValueKind == JsonValueKind.Array && inst.GetArrayLength() > value.GetInt32())
                        errors.Add(new(iLoc, "maxItems", $"has {inst.GetArrayLength()} items, more than {value.GetInt32()}", kLoc));
                    break;
                case "uniqueItems":
                    if (inst.ValueKind == JsonValueKind.Array && value.ValueKind == JsonValueKind.True)
                    {
                        var items = inst.EnumerateArray().ToList();
                        for (var a = 0; a < items.Count; a++)
                        {
                            for (var b = a + 1; b < items.Count; b++)
                            {
                                if (JsonEquals(items[a], items[b]))
                                    errors.Add(new(iLoc, "uniqueItems", $"items {a} and {b} are equal ({Preview(items[a])})", kLoc));
                            }
                        }
                    }
                    break;
                case "minLength":
                    if (inst.ValueKind == JsonValueKind.String && CodePoints(inst.GetString()!) < value.GetInt32())
                        errors.Add(new(iLoc, "minLength", $"{Preview(inst)} is shorter than {value.GetInt32()} characters", kLoc));
                    break;
                case "maxLength":
                    if (inst.ValueKind == JsonValueKind.String && CodePoints(inst.GetString()!) > value.GetInt32())
                        errors.Add(new(iLoc, "maxLength", $"{Preview(inst)} is longer than {value.GetInt32()} characters", kLoc));
                    break;
                case "pattern":
                    if (inst.ValueKind == JsonValueKind.String && !Pattern(value.GetString()!).IsMatch(inst.GetString()!))
                        errors.Add(new(iLoc, "pattern", $"{Preview(inst)} does not match {value.GetString()}", kLoc));
                    break;
                case "format":
                    if (inst.ValueKind == JsonValueKind.String && !FormatMatches(value.GetString()!, inst.GetString()!))
                        errors.Add(new(iLoc, "format", $"{Preview(inst)} is not a valid {value.GetString()}", kLoc));
                    break;
                case "minimum":
                    if (inst.ValueKind == JsonValueKind.Number && CompareNumbers(inst, value) < 0)
                        errors.Add(new(iLoc, "minimum", $"{inst.GetRawText()} is less than {value.GetRawText()}", kLoc));
                    break;
                case "maximum":
                    if (inst.ValueKind == JsonValueKind.Number && CompareNumbers(inst, value) > 0)
                        errors.Add(new(iLoc, "maximum", $"{inst.GetRawText()} is more than {value.GetRawText()}", kLoc));
                    break;
                case "exclusiveMinimum":
                    if (inst.ValueKind == JsonValueKind.Number && CompareNumbers(inst, value) <= 0)
                        errors.Add(new(iLoc, "exclusiveMinimum", $"{inst.GetRawText()} is not more than {value.GetRawText()}", kLoc));
                    break;
                case "exclusiveMaximum":
                    if (inst.ValueKind == JsonValueKind.Number && CompareNumbers(inst, value) >= 0)
                        errors.Add(new(iLoc, "exclusiveMaximum", $"{inst.GetRawText()} is not less than {value.GetRawText()}", kLoc));
                    break;
                case "multipleOf":
                    if (inst.ValueKind == JsonValueKind.Number && !IsMultipleOf(inst, value))
                        errors.Add(new(iLoc, "multipleOf", $"{inst.GetRawText()} is not a multiple of {value.GetRawText()}", kLoc));
                    break;
                default:
                    if (!IsAnnotation(keyword.Name))
                        throw new NotSupportedException($"schema keyword '{keyword.Name}' at {sLoc} is not implemented");
                    break;
            }
        }

        if (isObject && schema.TryGetProperty("unevaluatedProperties", out var unevaluated))
        {
            var kLoc = sLoc + "/unevaluatedProperties";
            foreach (var property in inst.EnumerateObject())
            {
                if (local!.Contains(property.Name)) continue;
                var pLoc = iLoc + "/" + Escape(property.Name);
                if (unevaluated.ValueKind == JsonValueKind.False)
                    errors.Add(new(pLoc, "unevaluatedProperties", $"property \"{property.Name}\" is not allowed here", kLoc));
                else
                    Eval(unevaluated, kLoc, property.Value, pLoc, errors, null, depth + 1);
                local.Add(property.Name);
            }
        }

        if (evaluated is not null && local is not null) evaluated.UnionWith(local);
        return errors.Count == before;
    }

    private void EvalAlternatives(string keyword, JsonElement alternatives, string kLoc, JsonElement inst, string iLoc, List<SchemaError> errors, HashSet<string>? evaluated, int depth)
    {
        var results = new List<(int Index, bool Valid, List<SchemaError> Errors, HashSet<string> Evaluated)>();
        var i = 0;
        foreach (var sub in alternatives.EnumerateArray())
        {
            var branchErrors = new List<SchemaError>();
            var branchEvaluated = new HashSet<string>(StringComparer.Ordinal);
            var valid = Eval(sub, kLoc + "/" + i, inst, iLoc, branchErrors, branchEvaluated, depth + 1);
            results.Add((i++, valid, branchErrors, branchEvaluated));
        }

        var passing = results.Where(r => r.Valid).ToList();
        if (passing.Count == 1 || (passing.Count > 1 && keyword == "anyOf"))
        {
            foreach (var r in passing) evaluated?.UnionWith(r.Evaluated);
            return;
        }

        if (passing.Count > 1)
        {
            errors.Add(new(iLoc, keyword, $"matches {passing.Count} alternatives ({string.Join(", ", passing.Select(p => Describe(alternatives[p.Index], p.Index)))}) but must match exactly one", kLoc));
            foreach (var r in passing) evaluated?.UnionWith(r.Evaluated);
            return;
        }

        // None matched: report the closest alternatives (fewest errors) with their errors.
        var fewest = results.Min(r => r.Errors.Count);
        var closest = results.Where(r => r.Errors.Count == fewest).ToList();
        errors.Add(new(iLoc, keyword, $"matches none of the {results.Count} alternatives; closest: {string.Join(", ", closest.Select(c => Describe(alternatives[c.Index], c.Index)))}", kLoc));
        foreach (var c in closest) errors.AddRange(c.Errors);
        evaluated?.UnionWith(closest[0].Evaluated);
    }

    private static string Describe(JsonElement alternative, int index) =>
        alternative.ValueKind == JsonValueKind.Object && alternative.TryGetProperty("$ref", out var r) ? $"#{index} {r.GetString()}" : $"#{index}";

    private static string AllowedNames(JsonElement schema)
    {
        if (!schema.TryGetProperty("properties", out var properties)) return "";
        var names = properties.EnumerateObject().Select(p => p.Name).ToList();
        return names.Count == 0 ? "" : $" (allowed: {string.Join(", ", names)})";
    }

    private static string RefPointer(string reference, string sLoc)
    {
        if (!reference.StartsWith('#'))
            throw new NotSupportedException($"$ref '{reference}' at {sLoc}: only refs within the document ('#/...') are supported");
        return reference[1..];
    }

    // ---- load-time check: refuse what is not implemented --------------------------------------------------------

    private void CheckSupported(JsonElement schema, string sLoc, HashSet<string> seen)
    {
        if (!seen.Add(sLoc)) return;
        if (schema.ValueKind is JsonValueKind.True or JsonValueKind.False) return;
        if (schema.ValueKind != JsonValueKind.Object) throw new NotSupportedException($"schema at {sLoc} is a {schema.ValueKind}");
        foreach (var keyword in schema.EnumerateObject())
        {
            var kLoc = sLoc + "/" + Escape(keyword.Name);
            var value = keyword.Value;
            switch (keyword.Name)
            {
                case "$ref":
                    var target = value.GetString()!;
                    CheckSupported(Resolve(RefPointer(target, sLoc)), target, seen);
                    break;
                case "$defs":
                case "properties":
                case "patternProperties":
                    foreach (var p in value.EnumerateObject())
                    {
                        if (keyword.Name == "patternProperties") Pattern(p.Name);
                        CheckSupported(p.Value, kLoc + "/" + Escape(p.Name), seen);
                    }
                    break;
                case "additionalProperties":
                case "unevaluatedProperties":
                case "not":
                    CheckSupported(value, kLoc, seen);
                    break;
                case "items":
                    if (value.ValueKind == JsonValueKind.Array) throw new NotSupportedException($"array-form 'items' at {kLoc} is not 2020-12 (use prefixItems)");
                    CheckSupported(value, kLoc, seen);
                    break;
                case "allOf":
                case "anyOf":
                case "oneOf":
                    var i = 0;
                    foreach (var sub in value.EnumerateArray()) CheckSupported(sub, kLoc + "/" + i++, seen);
                    break;
                case "pattern":
                    Pattern(value.GetString()!);
                    break;
                case "format":
                    if (!SupportedFormats.Contains(value.GetString()!))
                        throw new NotSupportedException($"format '{value.GetString()}' at {kLoc} is not implemented");
                    break;
                case "type":
                    foreach (var t in value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().Select(e => e.GetString()!) : [value.GetString()!])
                    {
                        if (t is not ("null" or "boolean" or "object" or "array" or "number" or "string" or "integer"))
                            throw new NotSupportedException($"type '{t}' at {kLoc} is not a JSON Schema type");
                    }
                    break;
                default:
                    if (!AssertionKeywords.Contains(keyword.Name) && !IsAnnotation(keyword.Name))
                        throw new NotSupportedException($"schema keyword '{keyword.Name}' at {sLoc} is not implemented");
                    break;
            }
        }
    }

    private static bool IsAnnotation(string keyword) =>
        AnnotationKeywords.Contains(keyword) || keyword.StartsWith("x-", StringComparison.Ordinal);

    // ---- keyword helpers ------------------------------------------------------------------------------------------

    /// <summary>ECMA-262 semantics as far as .NET has them: ASCII \d \w \s, and a brace that is no quantifier is a literal.</summary>
    private Regex Pattern(string pattern) =>
        _patterns.GetOrAdd(pattern, p => new Regex(p, RegexOptions.ECMAScript | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(2)));

    private static bool TypeMatches(JsonElement type, JsonElement inst) => type.ValueKind == JsonValueKind.Array
        ? type.EnumerateArray().Any(t => IsOfType(t.GetString()!, inst))
        : IsOfType(type.GetString()!, inst);

    private static bool IsOfType(string type, JsonElement inst) => type switch
    {
        "null" => inst.ValueKind == JsonValueKind.Null,
        "boolean" => inst.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "object" => inst.ValueKind == JsonValueKind.Object,
        "array" => inst.ValueKind == JsonValueKind.Array,
        "string" => inst.ValueKind == JsonValueKind.String,
        "number" => inst.ValueKind == JsonValueKind.Number,
        "integer" => inst.ValueKind == JsonValueKind.Number && IsInteger(inst),
        _ => throw new NotSupportedException($"type '{type}'"),
    };

    private static bool IsInteger(JsonElement number) => number.TryGetDecimal(out var d)
        ? d == decimal.Truncate(d)
        : double.IsInteger(number.GetDouble());

    private static string TypeText(JsonElement type) => type.ValueKind == JsonValueKind.Array
        ? string.Join(" or ", type.EnumerateArray().Select(t => t.GetString()))
        : type.GetString()!;

    private static string KindName(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => IsInteger(e) ? "integer" : "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };

    /// <summary>JSON equality: numbers by value (1 == 1.0), objects regardless of member order, strings ordinally.</summary>
    public static bool JsonEquals(JsonElement a, JsonElement b)
    {
        if (a.ValueKind != b.ValueKind) return false;
        switch (a.ValueKind)
        {
            case JsonValueKind.Object:
                var aProps = a.EnumerateObject().ToList();
                if (aProps.Count != b.EnumerateObject().Count()) return false;
                foreach (var p in aProps)
                {
                    if (!b.TryGetProperty(p.Name, out var other) || !JsonEquals(p.Value, other)) return false;
                }
                return true;
            case JsonValueKind.Array:
                if (a.GetArrayLength() != b.GetArrayLength()) return false;
                using (var ea = a.EnumerateArray().GetEnumerator())
                using (var eb = b.EnumerateArray().GetEnumerator())
                {
                    while (ea.MoveNext() && eb.MoveNext())
                    {
                        if (!JsonEquals(ea.Current, eb.Current)) return false;
                    }
                }
                return true;
            case JsonValueKind.String:
                return a.GetString() == b.GetString();
            case JsonValueKind.Number:
                return CompareNumbers(a, b) == 0;
            default:
                return true; // true, false, null: same kind is the same value
        }
    }

    private static int CompareNumbers(JsonElement a, JsonElement b) =>
        a.TryGetDecimal(out var x) && b.TryGetDecimal(out var y) ? x.CompareTo(y) : a.GetDouble().CompareTo(b.GetDouble());

    private static bool IsMultipleOf(JsonElement value, JsonElement divisor)
    {
        if (value.TryGetDecimal(out var x) && divisor.TryGetDecimal(out var y)) return x % y == 0;
        var q = value.GetDouble() / divisor.GetDouble();
        return double.IsFinite(q) && Math.Abs(q - Math.Round(q)) < 1e-9;
    }

    private static int CodePoints(string s) => s.EnumerateRunes().Count();

    public static bool FormatMatches(string format, string s) => format switch
    {
        "date" => IsDate(s),
        "date-time" => IsDateTime(s),
        "uri" => IsUri(s),
        _ => throw new NotSupportedException($"format '{format}'"),
    };

    /// <summary>RFC 3339 full-date: yyyy-MM-dd, a day that exists (proleptic Gregorian, so 0000 is a leap year).</summary>
    public static bool IsDate(string s)
    {
        if (!DatePattern.IsMatch(s)) return false;
        int year = int.Parse(s[..4], CultureInfo.InvariantCulture), month = int.Parse(s[5..7], CultureInfo.InvariantCulture), day = int.Parse(s[8..], CultureInfo.InvariantCulture);
        if (month is < 1 or > 12 || day < 1) return false;
        var leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        int[] days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        return day <= days[month - 1];
    }

    /// <summary>
    /// RFC 3339 date-time (section 5.6 grammar): a date, 'T', hh:mm:ss[.frac], and 'Z' or a ±hh:mm offset (required);
    /// a leap second only at 23:59 UTC. Stricter than ajv-formats, which also takes a space for 'T' and ±hhmm.
    /// </summary>
    public static bool IsDateTime(string s)
    {
        var m = DateTimePattern.Match(s);
        if (!m.Success || !IsDate(m.Groups[1].Value)) return false;
        int Num(int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        int hour = Num(2), minute = Num(3), second = Num(4);
        if (hour > 23 || minute > 59 || second > 60) return false;
        var offset = 0;
        if (m.Groups[7].Success)
        {
            int oh = Num(8), om = Num(9);
            if (oh > 23 || om > 59) return false;
            offset = (m.Groups[7].Value == "-" ? -1 : 1) * (oh * 60 + om);
        }
        if (second == 60)
        {
            var utcMinute = ((hour * 60 + minute - offset) % 1440 + 1440) % 1440;
            return utcMinute == 23 * 60 + 59;
        }
        return true;
    }

    /// <summary>RFC 3986 URI: a scheme and characters a URI may hold; with an authority ("//"), one that .NET can parse.</summary>
    public static bool IsUri(string s)
    {
        if (!UriPattern.IsMatch(s)) return false;
        var colon = s.IndexOf(':', StringComparison.Ordinal);
        return !s.AsSpan(colon + 1).StartsWith("//", StringComparison.Ordinal) || Uri.TryCreate(s, UriKind.Absolute, out _);
    }

    private static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <summary>The value as compact JSON, cut at <paramref name="max"/> characters.</summary>
    private static string Preview(JsonElement e, int max = 80)
    {
        var text = e.ValueKind == JsonValueKind.Undefined ? "(nothing)" : JsonSerializer.Serialize(e, Compact);
        return text.Length <= max ? text : text[..max] + "…";
    }
}

using System.Collections.Frozen;
using System.Text.Json;

namespace Tally.Core.Process;

/// <summary>
/// English names of ISO 3166-2 country subdivisions ("DE-BY" is Bavaria), from Unicode CLDR, built into this
/// assembly as a resource. CLDR keys a subdivision by its code in lower case without the hyphen ("deby").
/// </summary>
public static class SubdivisionNames
{
    private static readonly Lazy<FrozenDictionary<string, string>> Names = new(Load);

    /// <summary>The English name of an ISO 3166-2 code such as "DE-BY", in any letter case; null when CLDR has none.</summary>
    public static string? EnglishName(string code) =>
        code.Length > 3 && code[2] == '-'
            ? Names.Value.GetValueOrDefault(string.Concat(code.AsSpan(0, 2), code.AsSpan(3)).ToLowerInvariant())
            : null;

    private static FrozenDictionary<string, string> Load()
    {
        using var stream = typeof(SubdivisionNames).Assembly.GetManifestResourceStream("Tally.Core.subdivision-names.json")
            ?? throw new InvalidOperationException("The subdivision names are missing from this build.");
        using var document = JsonDocument.Parse(stream);
        return document.RootElement.GetProperty("subdivisions").GetProperty("localeDisplayNames").GetProperty("subdivisions")
            .EnumerateObject().ToFrozenDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
    }
}

using System.Text.Json;

namespace Tally.Bench;

/// <summary>The floor a parser is compared with: a bare Utf8JsonReader pass that builds nothing.</summary>
public static class JsonBaseline
{
    /// <summary>Reads every token of one or more JSON values (an NDJSON batch or a single line).</summary>
    public static long CountTokens(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowMultipleValues = true });
        long tokens = 0;
        while (reader.Read()) tokens++;
        return tokens;
    }
}

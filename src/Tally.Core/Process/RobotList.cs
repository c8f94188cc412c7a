using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tally.Core.Process;

/// <summary>
/// User-agent patterns of robots and crawlers, matched case-insensitively. Reads the COUNTER-Robots
/// JSON format (an array of objects with a "pattern") or plain text with one regex per line.
/// </summary>
public sealed class RobotList
{
    private const int CacheLimit = 50_000;
    private readonly Regex _combined;
    private readonly ConcurrentDictionary<string, bool> _verdicts = new(StringComparer.Ordinal);

    public RobotList(IEnumerable<string> patterns)
    {
        Patterns = patterns.Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        // One alternation is far faster than hundreds of separate regexes. An empty list must match
        // nothing, but an empty alternation matches everything, hence "(?!)".
        _combined = new Regex(Patterns.Count == 0 ? "(?!)" : string.Join('|', Patterns.Select(p => $"(?:{p})")),
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromSeconds(1));
        // The compiled matcher is JIT-compiled on its first match, which for lists this long can outlast the timeout on a
        // busy machine; a timeout counts as a robot, so without this warm-up a real reader's first event could be flagged.
        try { _combined.IsMatch("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"); }
        catch (RegexMatchTimeoutException) { /* compiled all the same */ }
    }

    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Parses one list; <paramref name="source"/> names it in error messages.</summary>
    public static IEnumerable<string> ParsePatterns(string text, string source)
    {
        var trimmed = text.AsSpan().TrimStart();
        var patterns = trimmed.Length > 0 && trimmed[0] == '[' ? ParseJson(text, source) : ParseLines(text);
        foreach (var (pattern, where) in patterns)
        {
            try { _ = new Regex(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant); }
            catch (ArgumentException e) { throw new FormatException($"{source}: {where}: '{pattern}' is not a valid regex: {e.Message}"); }
            yield return pattern;
        }
    }

    private static List<(string Pattern, string Where)> ParseJson(string text, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var result = new List<(string, string)>();
            var i = 0;
            foreach (var entry in document.RootElement.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.String)
                    throw new FormatException($"{source}: entry {i} has no string \"pattern\"");
                result.Add((pattern.GetString()!, $"entry {i}"));
                i++;
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not valid JSON: {e.Message}");
        }
    }

    private static List<(string Pattern, string Where)> ParseLines(string text) =>
        text.Split('\n')
            .Select((line, i) => (Pattern: line.Trim(), Where: $"line {i + 1}"))
            .Where(l => l.Pattern.Length > 0 && !l.Pattern.StartsWith('#'))
            .ToList();

    /// <summary>Robots name themselves near the start; examining more only adds cost for hostile input.</summary>
    public const int ExaminedLength = 1024;

    public bool IsRobot(string userAgent)
    {
        if (_verdicts.TryGetValue(userAgent, out var verdict)) return verdict;
        try
        {
            verdict = _combined.IsMatch(userAgent.AsSpan(0, Math.Min(userAgent.Length, ExaminedLength)));
        }
        catch (RegexMatchTimeoutException)
        {
            // A user agent built to stall the matcher is no browser; judging it costs one event, never its batch.
            verdict = true;
        }
        // User agents repeat heavily; a bounded cache avoids running the big regex for each event.
        if (_verdicts.Count >= CacheLimit) _verdicts.Clear();
        _verdicts[userAgent] = verdict;
        return verdict;
    }
}

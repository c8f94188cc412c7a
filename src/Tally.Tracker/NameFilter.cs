using System.Text.RegularExpressions;

namespace Tally.Tracker;

/// <summary>Whether a <see cref="NameFilter"/> lets only matching names through, or stops them.</summary>
public enum NameFilterMode { AllowList, DenyList }

/// <summary>
/// Lets events through, or stops them, by name: exact names and regular expressions (matched against
/// the whole name), as edX's RegexFilter does with allowlist and blocklist.
/// </summary>
public sealed class NameFilter : ITrackerProcessor
{
    private readonly NameFilterMode _mode;
    private readonly HashSet<string> _names;
    private readonly Regex[] _patterns;

    /// <exception cref="ArgumentException">A pattern is not a valid regular expression.</exception>
    public NameFilter(NameFilterMode mode, IEnumerable<string>? names = null, IEnumerable<string>? patterns = null)
    {
        _mode = mode;
        _names = new HashSet<string>(names ?? [], StringComparer.Ordinal);
        _patterns = [.. (patterns ?? []).Select(p => new Regex($"^(?:{p})$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)))];
    }

    public TrackerEvent? Process(TrackerEvent trackerEvent)
    {
        return Matches(trackerEvent.Name) == (_mode == NameFilterMode.AllowList) ? trackerEvent : null;
    }

    private bool Matches(string name)
    {
        if (_names.Contains(name)) return true;
        foreach (var pattern in _patterns)
        {
            if (pattern.IsMatch(name)) return true;
        }
        return false;
    }
}

using System.Text.RegularExpressions;
using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>Drops events whose type name is not allowed or is denied (edX-style name filters).</summary>
public sealed class TypeFilterProcessor(IReadOnlyList<string> allow, IReadOnlyList<string> deny) : IEventProcessor
{
    private readonly Regex[] _allow = allow.Select(Compile).ToArray();
    private readonly Regex[] _deny = deny.Select(Compile).ToArray();

    public bool Process(TallyEvent e)
    {
        var name = e.Type.Name;
        if (_allow.Length > 0 && !_allow.Any(r => r.IsMatch(name))) return false;
        return !_deny.Any(r => r.IsMatch(name));
    }

    private static Regex Compile(string pattern) => new(pattern, RegexOptions.CultureInvariant);
}

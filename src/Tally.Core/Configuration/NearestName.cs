namespace Tally.Core.Configuration;

/// <summary>The name a user most likely meant, for the "did you mean" of configuration and command-line errors.</summary>
public static class NearestName
{
    /// <summary>
    /// The candidate closest to <paramref name="given"/>, ignoring case, when it is near enough to be a slip of the
    /// keyboard: at most one edit per three characters given (a swapped pair is one edit); null when none is.
    /// </summary>
    public static string? Find(string given, IEnumerable<string> candidates)
    {
        var typed = given.ToLowerInvariant();
        string? nearest = null;
        var nearestDistance = Math.Max(1, given.Length / 3) + 1;
        foreach (var candidate in candidates)
        {
            var distance = Distance(typed, candidate.ToLowerInvariant());
            if (distance < nearestDistance) (nearest, nearestDistance) = (candidate, distance);
        }
        return nearest;
    }

    /// <summary>Edits (insert, delete, replace, swap two neighbours) that turn <paramref name="a"/> into <paramref name="b"/>.</summary>
    private static int Distance(string a, string b)
    {
        // Three rows of the optimal-string-alignment table: two before the current one, for swaps.
        var beforePrevious = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    current[j] = Math.Min(current[j], beforePrevious[j - 2] + 1);
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious);
        }
        return previous[b.Length];
    }
}

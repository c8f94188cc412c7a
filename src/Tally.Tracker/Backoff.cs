namespace Tally.Tracker;

/// <summary>How long to wait before trying again.</summary>
public static class Backoff
{
    /// <summary>
    /// Full jitter: a random wait between zero and an exponential ceiling (<paramref name="min"/> doubled
    /// per attempt, capped at <paramref name="max"/>), so many clients coming back at once do not retry in step.
    /// </summary>
    public static TimeSpan Delay(int attempt, TimeSpan min, TimeSpan max)
    {
        var ceiling = Math.Min(max.TotalMilliseconds, min.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt - 1, 0, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }
}

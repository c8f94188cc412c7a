namespace Tally.Testing;

/// <summary>
/// The one test clock: it stands still until a test moves it, so days, partitions and timestamps are
/// deterministic. Every test project compiles this file (tests/Directory.Build.props).
/// </summary>
public sealed class FixedClock(DateTime utcNow) : TimeProvider
{
    public FixedClock(DateTimeOffset now) : this(now.UtcDateTime)
    {
    }

    public DateTime Now { get; set; } = utcNow;

    public override DateTimeOffset GetUtcNow() => new(Now, TimeSpan.Zero);
}

namespace Tally.Core.Process;

/// <summary>
/// The secret salt of each UTC day. The same day must always give the same salt, across
/// restarts and across processes, so stores keep salts durably.
/// </summary>
public interface ISaltSource
{
    ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken);

    /// <summary>
    /// The salts of several days. A store whose writes are costly makes and records them all in one write: a batch
    /// of past usage spans many days, and a write per day waited behind every commit.
    /// </summary>
    async ValueTask<IReadOnlyDictionary<DateOnly, byte[]>> GetSaltsAsync(IReadOnlyCollection<DateOnly> days, CancellationToken cancellationToken)
    {
        var salts = new Dictionary<DateOnly, byte[]>(days.Count);
        foreach (var day in days) salts[day] = await GetSaltAsync(day, cancellationToken);
        return salts;
    }
}

namespace Tally.Core.Process;

/// <summary>
/// The secret salt of each UTC day. The same day must always give the same salt, across
/// restarts and across processes, so stores keep salts durably.
/// </summary>
public interface ISaltSource
{
    ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken);
}

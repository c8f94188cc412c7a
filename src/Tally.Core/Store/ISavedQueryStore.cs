namespace Tally.Core.Store;

/// <summary>A saved query as a store keeps it: its definition, which the store does not read, and the version its next write must name.</summary>
public sealed record StoredQuery(string Name, string Definition, long Version);

/// <summary>
/// Saved queries, one row per name, written by compare-and-set so that query nodes saving at once
/// each keep what they saved: a write names the version it read and is refused when another write
/// came first, and the caller reads again and retries.
/// </summary>
public interface ISavedQueryStore
{
    /// <summary>Every saved query, ordered by name (ordinal).</summary>
    Task<IReadOnlyList<StoredQuery>> ListSavedQueriesAsync(CancellationToken cancellationToken);

    Task<StoredQuery?> GetSavedQueryAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="definition"/> under <paramref name="name"/> as a new version, if the stored version is
    /// still <paramref name="expectedVersion"/> (0: no query has that name).
    /// </summary>
    /// <returns>Whether it was stored; false when another write came first.</returns>
    Task<bool> PutSavedQueryAsync(string name, string definition, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Deletes the query if its stored version is still <paramref name="expectedVersion"/>.</summary>
    /// <returns>Whether it was deleted; false when there was no such version.</returns>
    Task<bool> DeleteSavedQueryAsync(string name, long expectedVersion, CancellationToken cancellationToken);
}

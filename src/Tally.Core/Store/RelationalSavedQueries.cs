namespace Tally.Core.Store;

/// <summary>
/// The compare-and-set statements of <see cref="ISavedQueryStore"/> for the engines with transactions (SQLite and
/// PostgreSQL accept them alike), over tally_saved_queries (name primary key, definition, version) with
/// parameters @n (name), @d (definition) and @v (expected version). Each changes one row or none.
/// </summary>
public static class RelationalSavedQueries
{
    public const string Delete = "DELETE FROM tally_saved_queries WHERE name = @n AND version = @v";

    /// <summary>An insert when no query is expected, else an update of the version expected; a row a concurrent write changed first no longer matches.</summary>
    public static string Put(long expectedVersion) => expectedVersion == 0
        ? "INSERT INTO tally_saved_queries (name, definition, version) VALUES (@n, @d, 1) ON CONFLICT (name) DO NOTHING"
        : "UPDATE tally_saved_queries SET definition = @d, version = version + 1 WHERE name = @n AND version = @v";
}

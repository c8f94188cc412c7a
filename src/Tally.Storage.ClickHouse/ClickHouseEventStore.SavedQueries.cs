using Tally.Core.Store;
using static Tally.Storage.ClickHouse.ClickHouseNames;
using static Tally.Storage.ClickHouse.ClickHouseSql;

namespace Tally.Storage.ClickHouse;

public sealed partial class ClickHouseEventStore
{
    /// <summary>A name's latest row: a query, or a deletion (which leaves the version for the next write to count on from).</summary>
    private sealed record SavedQueryRow(StoredQuery Query, bool Deleted);

    public async Task<IReadOnlyList<StoredQuery>> ListSavedQueriesAsync(CancellationToken cancellationToken) =>
        (await ReadSavedQueriesAsync(null, cancellationToken)).Where(r => !r.Deleted).Select(r => r.Query).ToList();

    public async Task<StoredQuery?> GetSavedQueryAsync(string name, CancellationToken cancellationToken) =>
        (await ReadSavedQueriesAsync(name, cancellationToken)).SingleOrDefault() is { Deleted: false } row ? row.Query : null;

    /// <summary>Each name's row of the highest version, and of those the one with the least writer (the rule <see cref="WriteSavedQueryAsync"/> relies on).</summary>
    private Task<List<SavedQueryRow>> ReadSavedQueriesAsync(string? name, CancellationToken cancellationToken) =>
        Db.QueryListAsync(
            "SELECT name, max(version), argMin(definition, (-toInt64(version), writer)), argMin(deleted, (-toInt64(version), writer)) " +
            $"FROM {SavedQueries} {(name is null ? "" : $"WHERE name = {Quote(name)}")} GROUP BY name ORDER BY name",
            row => new SavedQueryRow(new StoredQuery(row.GetString(0), row.GetString(2), (long)row.GetUInt64(1)), row.GetString(3) == "1"), cancellationToken);

    public Task<bool> PutSavedQueryAsync(string name, string definition, long expectedVersion, CancellationToken cancellationToken) =>
        WriteSavedQueryAsync(name, definition, deleted: false, expectedVersion, cancellationToken);

    public Task<bool> DeleteSavedQueryAsync(string name, long expectedVersion, CancellationToken cancellationToken) =>
        WriteSavedQueryAsync(name, "", deleted: true, expectedVersion, cancellationToken);

    /// <summary>
    /// Compare-and-set without transactions: a write reads the name's version, inserts its row as the next
    /// version under a writer id of its own, then reads back that version's rows. Readers take the row of the
    /// least writer id, so the write succeeds only if its row is that one. An insert is visible to every read
    /// that starts after it returns (a name's rows are on one shard, and cluster inserts are synchronous), so a
    /// refused write never becomes what readers see, and of writers that read the same version and overlap,
    /// the one with the least id always succeeds. What this cannot rule out: a writer that read the same version
    /// but inserted only after another's read-back succeeded, with a lesser id, succeeds too and replaces it,
    /// as if it had come second.
    /// </summary>
    private async Task<bool> WriteSavedQueryAsync(string name, string definition, bool deleted, long expectedVersion, CancellationToken cancellationToken)
    {
        var latest = (await ReadSavedQueriesAsync(name, cancellationToken)).SingleOrDefault();
        var current = latest is { Deleted: false } ? latest.Query.Version : 0;
        if (current != expectedVersion || (deleted && current == 0)) return false;
        var version = (ulong)(latest?.Query.Version ?? 0) + 1;
        var writer = Guid.NewGuid().ToString("N");
        await Db.InsertAsync(SavedQueries, ["name", "version", "writer", "definition", "deleted"], [writer], (w, id) =>
        {
            w.WriteString(name);
            w.WriteUInt64(version);
            w.WriteString(id);
            w.WriteString(definition);
            w.WriteBoolean(deleted);
        }, cancellationToken);
        var first = await Db.QueryListAsync($"SELECT min(writer) FROM {SavedQueries} WHERE name = {Quote(name)} AND version = {version}",
            row => row.GetString(0), cancellationToken);
        return first.Single() == writer;
    }
}

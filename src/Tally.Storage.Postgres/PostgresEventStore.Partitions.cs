using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Tally.Core.Events;
using static Tally.Storage.Postgres.PostgresNames;

namespace Tally.Storage.Postgres;

/// <summary>
/// Partitions: each type's events table is partitioned by range of ts, one native partition per period
/// of the type's granularity, made when the first event of a period arrives and dropped whole by retention.
/// <c>tally_partitions</c> lists them with their periods, changed in the same transactions as the catalog.
/// </summary>
public sealed partial class PostgresEventStore
{
    /// <summary>Types whose events table is known to exist; Tally never drops one.</summary>
    private readonly ConcurrentDictionary<string, bool> _eventTables = new(StringComparer.Ordinal);

    private static readonly TimeSpan ExclusiveLockPatience = TimeSpan.FromSeconds(30);

    /// <summary>Makes the events table of a type that was never set up, as SQLite stores events without setup.</summary>
    private async Task EnsureEventTablesAsync(IReadOnlyList<EventType> types, CancellationToken cancellationToken)
    {
        var unknown = types.Where(t => !_eventTables.ContainsKey(t.Name)).ToList();
        if (unknown.Count == 0) return;
        await WriteAsync(async (connection, transaction) =>
        {
            foreach (var type in unknown)
            {
                if ((await ColumnsAsync(connection, transaction, Events(type), cancellationToken)).Count > 0) continue;
                await LockStoreAsync(connection, transaction, _schema, cancellationToken);
                // Again under the lock: another process may have made it meanwhile.
                if ((await ColumnsAsync(connection, transaction, Events(type), cancellationToken)).Count == 0)
                    await CreateEventTableAsync(connection, transaction, type, cancellationToken);
            }
        }, cancellationToken);
        foreach (var type in unknown) _eventTables.TryAdd(type.Name, true);
    }

    /// <summary>
    /// Makes partitions in a short transaction of its own, committed before events go in, so that a long
    /// append holds no lock that stops other processes making partitions. CREATE TABLE ... PARTITION OF
    /// would lock the type's table exclusively; a new table attached with ATTACH PARTITION takes a lock
    /// that readers and writers pass. That lock comes first, so two processes making one partition queue
    /// and the second finds it made.
    /// </summary>
    private Task CreatePartitionsAsync(IReadOnlyList<(string Name, EventType Type, DateTime Start)> partitions, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            // An exclusive lock queued on the table (setup adding a column) waits for the caller's transaction,
            // which waits for this one: PostgreSQL cannot see that cycle, so give up rather than wait forever.
            await RunAsync(Sql(connection, transaction, "SET LOCAL lock_timeout = '10s'"), cancellationToken);
            foreach (var group in partitions.GroupBy(p => p.Type.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var table = Quote(Events(group.First().Type));
                var made = (await ReadAllAsync(Sql(connection, transaction,
                    $"LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE; SELECT name FROM tally_partitions WHERE name = ANY(@names)",
                    ("names", group.Select(p => p.Name).ToArray())), r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
                foreach (var (name, type, start) in group.Where(p => !made.Contains(p.Name)))
                {
                    var end = type.Partition.NextPeriod(start);
                    await RunAsync(Sql(connection, transaction, $"""
                        CREATE TABLE {Quote(name)} (LIKE {table} INCLUDING DEFAULTS);
                        ALTER TABLE {table} ATTACH PARTITION {Quote(name)} FOR VALUES FROM ({Literal(start)}) TO ({Literal(end)});
                        INSERT INTO tally_partitions (name, type, start_ts, end_ts) VALUES (@n, @t, @s, @e);
                        """, ("n", name), ("t", type.Name), ("s", start), ("e", end)), cancellationToken);
                }
            }
        }, cancellationToken);

    private static string Literal(DateTime utc) => string.Create(CultureInfo.InvariantCulture, $"'{utc:yyyy-MM-dd HH:mm:ss}+00'");

    public async Task<IReadOnlyList<string>> DropPartitionsBeforeAsync(EventType type, DateTime cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Most runs find nothing to drop, and then lock nothing.
        if ((await ExpiredAsync(connection, null, type, cutoff, cancellationToken)).Count == 0) return [];
        var table = Quote(Events(type));
        await using var transaction = await BeginExclusiveAsync(connection, table, cancellationToken);
        // Again under the lock: another process may have dropped some meanwhile.
        var expired = await ExpiredAsync(connection, transaction, type, cutoff, cancellationToken);
        foreach (var name in expired)
        {
            await RunAsync(Sql(connection, transaction, $"""
                ALTER TABLE {table} DETACH PARTITION {Quote(name)};
                DELETE FROM tally_event_ids i USING {Quote(name)} p WHERE i.id = p.id COLLATE "C";
                DROP TABLE {Quote(name)};
                DELETE FROM tally_partitions WHERE name = @n;
                """, ("n", name)), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return expired;
    }

    /// <summary>
    /// A transaction holding <paramref name="table"/> exclusively; appends that come later wait, then find
    /// the partitions gone. It never queues for the lock: queued, it would hold up every reader and writer
    /// of the type behind it for as long as an open append holds the table. So it asks again and again,
    /// and gives up (lock_not_available) after <see cref="ExclusiveLockPatience"/>.
    /// </summary>
    private static async Task<NpgsqlTransaction> BeginExclusiveAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            try
            {
                await RunAsync(Sql(connection, transaction, $"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE NOWAIT"), cancellationToken);
                return transaction;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable && Stopwatch.GetElapsedTime(started) < ExclusiveLockPatience)
            {
                await transaction.DisposeAsync();
                await Task.Delay(100, cancellationToken);
            }
            catch
            {
                await transaction.DisposeAsync();
                throw;
            }
        }
    }

    private static Task<List<string>> ExpiredAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, EventType type, DateTime cutoff, CancellationToken cancellationToken) =>
        ReadAllAsync(Sql(connection, transaction, "SELECT name FROM tally_partitions WHERE type = @t AND end_ts <= @c ORDER BY start_ts",
            ("t", type.Name), ("c", Utc(cutoff))), r => r.GetString(0), cancellationToken);

    private static Task<List<(string Name, DateTime Start, DateTime End)>> PartitionSpansAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string type, CancellationToken cancellationToken) =>
        ReadAllAsync(Sql(connection, transaction, "SELECT name, start_ts, end_ts FROM tally_partitions WHERE type = @t ORDER BY start_ts", ("t", type)),
            r => (r.GetString(0), r.GetFieldValue<DateTime>(1), r.GetFieldValue<DateTime>(2)), cancellationToken);
}

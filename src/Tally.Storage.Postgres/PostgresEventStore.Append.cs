using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Tally.Core.Events;
using Tally.Core.Store;
using static Tally.Storage.Postgres.PostgresNames;

namespace Tally.Storage.Postgres;

/// <summary>
/// Writing raw events. An append claims its ids in the ids table (its primary key keeps each id once
/// across processes), then copies the claimed events into their partitions with binary COPY.
/// </summary>
public sealed partial class PostgresEventStore
{
    /// <summary>
    /// One append transaction at a time per instance, as the contract has other writers wait for an open
    /// one; other processes append beside it, and nothing of it shows until it commits.
    /// </summary>
    private readonly SemaphoreSlim _appendGate = new(1, 1);

    public async Task<bool[]> AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return [];
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var append = await BeginAsync(cancellationToken);
                var stored = await append.StoreAsync(events, cancellationToken);
                await append.CommitAsync(cancellationToken);
                return stored;
            }
            // Against another process's transaction of many batches, this one may lose a deadlock or give up waiting
            // for a lock (see CreatePartitionsAsync); rolled back, it no longer holds up the other, so trying again succeeds.
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable && attempt < 3)
            {
            }
        }
    }

    public async Task<IAppendTransaction> BeginAppendAsync(CancellationToken cancellationToken) => await BeginAsync(cancellationToken);

    private async Task<AppendTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        await _appendGate.WaitAsync(cancellationToken);
        NpgsqlConnection? connection = null;
        try
        {
            connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            return new AppendTransaction(this, connection, await connection.BeginTransactionAsync(cancellationToken));
        }
        catch
        {
            if (connection is not null) await connection.DisposeAsync();
            _appendGate.Release();
            throw;
        }
    }

    /// <summary>Holds the append gate and one PostgreSQL transaction from begin until commit or dispose.</summary>
    private sealed class AppendTransaction(PostgresEventStore store, NpgsqlConnection connection, NpgsqlTransaction transaction) : IAppendTransaction
    {
        /// <summary>Partitions found or made so far, by type and period start; the lock on their type's table keeps them until the end.</summary>
        private readonly Dictionary<(string Type, DateTime Start), string> _partitions = [];
        private readonly HashSet<(string Type, DateOnly Day)> _touched = [];
        /// <summary>Salts made inside this transaction: shared with the store only once committed.</summary>
        private readonly Dictionary<DateOnly, byte[]> _newSalts = [];
        /// <summary>Salts may be asked for while a batch is being written (processing runs beside writing); the connection runs one command at a time.</summary>
        private readonly SemaphoreSlim _gate = new(1, 1);
        private AppendCounts _counts;
        private bool _ended;

        public Task AppendAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken) => StoreAsync(events, cancellationToken);

        /// <summary>Per event, true when stored and false when its id was already stored, here or before.</summary>
        public async Task<bool[]> StoreAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            await _gate.WaitAsync(cancellationToken);
            try
            {
                var stored = await WriteAsync(events, cancellationToken);
                _counts = _counts.Add(stored);
                return stored;
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task<bool[]> WriteAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            var stored = new bool[events.Count];
            var partitions = await PartitionsOfAsync(events, cancellationToken);
            // Only the first event sent with an id may be stored.
            var first = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < events.Count; i++) first.TryAdd(events[i].Id, i);
            var claimed = await ClaimAsync(first.Keys, cancellationToken);

            var copies = new Dictionary<(string Partition, EventType Type), List<TallyEvent>>();
            for (var i = 0; i < events.Count; i++)
            {
                var e = events[i];
                if (first[e.Id] != i || !claimed.Contains(e.Id)) continue;
                stored[i] = true;
                if (!copies.TryGetValue((partitions[i], e.Type), out var rows)) copies[(partitions[i], e.Type)] = rows = [];
                rows.Add(e);
                _touched.Add((e.Type.Name, DateOnly.FromDateTime(e.Timestamp)));
            }
            foreach (var ((partition, type), rows) in copies) await CopyAsync(partition, type, rows, cancellationToken);
            return stored;
        }

        /// <summary>
        /// Claims ids in the ids table and returns those claimed; an id another transaction has claimed waits for
        /// it to end. Every batch claims in the same order, so two appends of one batch each cannot deadlock over
        /// ids; transactions of many batches still can, and PostgreSQL then aborts one of them.
        /// </summary>
        private async Task<HashSet<string>> ClaimAsync(IEnumerable<string> ids, CancellationToken cancellationToken) =>
            [.. await ReadAllAsync(Sql(connection, transaction, """
                INSERT INTO tally_event_ids (id) SELECT id FROM unnest(@ids) AS c(id) ORDER BY id COLLATE "C"
                ON CONFLICT DO NOTHING RETURNING id
                """, ("ids", ids.ToArray())), r => r.GetString(0), cancellationToken)];

        /// <summary>The partition of each event, found or made.</summary>
        private async Task<string[]> PartitionsOfAsync(IReadOnlyList<TallyEvent> events, CancellationToken cancellationToken)
        {
            var keys = events.Select(e => (Type: e.Type.Name, Start: e.Type.Partition.PeriodStart(e.Timestamp))).ToArray();
            var wanted = new Dictionary<string, (EventType Type, DateTime Start)>(StringComparer.Ordinal);
            for (var i = 0; i < events.Count; i++)
            {
                if (!_partitions.ContainsKey(keys[i])) wanted.TryAdd(Partition(events[i].Type, keys[i].Start), (events[i].Type, keys[i].Start));
            }
            if (wanted.Count > 0)
            {
                var types = wanted.Values.Select(w => w.Type).DistinctBy(t => t.Name).ToList();
                await store.EnsureEventTablesAsync(types, cancellationToken);
                // A shared lock on the types' tables, held to the end, keeps retention from dropping a partition
                // between finding it and copying into it; partitions made meanwhile are found.
                var found = (await ReadAllAsync(Sql(connection, transaction,
                    $"LOCK TABLE {string.Join(", ", types.Select(t => Quote(Events(t))))} IN ACCESS SHARE MODE; SELECT name FROM tally_partitions WHERE name = ANY(@names)",
                    ("names", wanted.Keys.ToArray())), r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
                var missing = wanted.Where(w => !found.Contains(w.Key)).Select(w => (w.Key, w.Value.Type, w.Value.Start)).ToList();
                if (missing.Count > 0) await store.CreatePartitionsAsync(missing, cancellationToken);
                foreach (var (name, (type, start)) in wanted) _partitions[(type.Name, start)] = name;
            }
            return [.. keys.Select(k => _partitions[k])];
        }

        private async Task CopyAsync(string partition, EventType type, List<TallyEvent> events, CancellationToken cancellationToken)
        {
            var fields = string.Concat(type.Fields.Select(f => $", {Quote(Field(f.Name))}"));
            await using var importer = await connection.BeginBinaryImportAsync(
                $"COPY {Quote(partition)} ({Envelope}{fields}, extra) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var e in events)
            {
                await importer.StartRowAsync(cancellationToken);
                await importer.WriteAsync(e.Id, NpgsqlDbType.Text, cancellationToken);
                await importer.WriteAsync(Utc(e.Timestamp), NpgsqlDbType.TimestampTz, cancellationToken);
                await importer.WriteAsync(e.IsRobot, NpgsqlDbType.Boolean, cancellationToken);
                await importer.WriteAsync(e.VisitorId, NpgsqlDbType.Bigint, cancellationToken);
                await importer.WriteAsync(e.SessionId, NpgsqlDbType.Bigint, cancellationToken);
                foreach (var field in type.Fields) await WriteValueAsync(importer, e.Values[field.Ordinal], field.Type, cancellationToken);
                await WriteTextAsync(importer, e.Extra, cancellationToken);
            }
            await importer.CompleteAsync(cancellationToken);
        }

        /// <summary>Binary COPY sends bytes in the column's format, so a value goes as its field's type, never as its own.</summary>
        private static Task WriteValueAsync(NpgsqlBinaryImporter importer, object? value, FieldType type, CancellationToken cancellationToken) => value is null
            ? importer.WriteNullAsync(cancellationToken)
            : type switch
            {
                FieldType.Integer => importer.WriteAsync(Convert.ToInt64(value, CultureInfo.InvariantCulture), NpgsqlDbType.Bigint, cancellationToken),
                FieldType.Number => importer.WriteAsync(Convert.ToDouble(value, CultureInfo.InvariantCulture), NpgsqlDbType.Double, cancellationToken),
                FieldType.Boolean => importer.WriteAsync(Convert.ToBoolean(value, CultureInfo.InvariantCulture), NpgsqlDbType.Boolean, cancellationToken),
                _ => importer.WriteAsync(Convert.ToString(value, CultureInfo.InvariantCulture)!, NpgsqlDbType.Text, cancellationToken),
            };

        public async ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
        {
            if (store._salts.Get(day) is { } cached) return cached;
            if (await store.UseSaltAsync(day, cancellationToken) is { } used) return store._salts.Put(day, used);
            await _gate.WaitAsync(cancellationToken);
            try
            {
                if (!_newSalts.TryGetValue(day, out var salt)) _newSalts[day] = salt = await SaltOfAsync(connection, transaction, day, cancellationToken);
                return salt;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task<AppendCounts> CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            await _gate.WaitAsync(cancellationToken);
            try
            {
                await MarkDirtyAsync(connection, transaction, _touched, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                foreach (var (day, salt) in _newSalts) store._salts.Put(day, salt);
            }
            finally
            {
                _gate.Release();
            }
            await EndAsync();
            return _counts;
        }

        /// <summary>Without a commit, rolls everything back: events, ids, marks and salts (partitions it made stay, empty).</summary>
        public async ValueTask DisposeAsync()
        {
            if (!_ended) await EndAsync();
        }

        private async Task EndAsync()
        {
            _ended = true;
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
            _gate.Dispose();
            store._appendGate.Release();
        }
    }
}

using System.Text.RegularExpressions;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// The servers of one store and the DDL that must reach all of them. On a single node every table
/// is an ordinary table. In a cluster each table is a local table on every shard (NAME_local) plus a
/// Distributed table NAME over them on every shard; statements and inserts use NAME, DDL runs on
/// each shard's HTTP endpoint (ON CLUSTER would need ZooKeeper).
/// </summary>
internal sealed partial class ClickHouseCluster : IDisposable
{
    private readonly ClickHouseStoreOptions _options;

    public ClickHouseCluster(ClickHouseStoreOptions options)
    {
        _options = options;
        Main = Client(options.Endpoint, options.Database);
        Shards = options.Shards.Select(s => s == options.Endpoint ? Main : Client(s, options.Database)).ToList();
    }

    /// <summary>Where queries and inserts go.</summary>
    public ClickHouseHttpClient Main { get; }

    public IReadOnlyList<ClickHouseHttpClient> Shards { get; }

    public bool IsCluster => _options.IsCluster;

    /// <summary>The name of a table's data on each shard.</summary>
    public string Local(string table) => IsCluster ? $"{table}_local" : table;

    /// <summary>
    /// A client with the settings every statement needs. In a cluster, inserts into Distributed tables
    /// are synchronous, so an acknowledged insert is stored on its shards, not queued on the way there.
    /// Responses are compressed except on loopback, where gzip would only cost CPU.
    /// </summary>
    private ClickHouseHttpClient Client(Uri endpoint, string? database)
    {
        var settings = new Dictionary<string, string> { ["enable_http_compression"] = endpoint.IsLoopback ? "0" : "1" };
        if (database is not null) settings["database"] = database;
        if (IsCluster) settings["insert_distributed_sync"] = "1";
        return new ClickHouseHttpClient(endpoint, settings, _options.User, _options.Password);
    }

    public async Task CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        // The database setting would name a database that does not exist yet.
        var clients = _options.Shards.Select(s => Client(s, database: null)).ToList();
        try
        {
            await Task.WhenAll(clients.Select(c => c.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {_options.Database}", cancellationToken)));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private Task OnEveryShardAsync(Func<ClickHouseHttpClient, Task> work) => Task.WhenAll(Shards.Select(work));

    /// <summary>Runs <paramref name="statements"/> in order on every shard (the shards in parallel).</summary>
    public Task OnEveryShardAsync(IReadOnlyList<string> statements, CancellationToken cancellationToken) =>
        OnEveryShardAsync(async shard =>
        {
            foreach (var statement in statements) await shard.ExecuteAsync(statement, cancellationToken);
        });

    /// <summary>Creates a table unless it exists; in a cluster also its Distributed table, whose <paramref name="shardingKey"/> places inserted rows.</summary>
    public Task CreateTableAsync(string table, string columns, string engine, string shardingKey, CancellationToken cancellationToken) =>
        OnEveryShardAsync(CreateTableStatements(table, columns, engine, shardingKey), cancellationToken);

    private IReadOnlyList<string> CreateTableStatements(string table, string columns, string engine, string shardingKey) =>
        IsCluster
            ? [$"CREATE TABLE IF NOT EXISTS {Local(table)} ({columns}) ENGINE = {engine}", DistributedStatement(table, shardingKey)]
            : [$"CREATE TABLE IF NOT EXISTS {table} ({columns}) ENGINE = {engine}"];

    public string DistributedStatement(string table, string shardingKey) =>
        $"CREATE TABLE IF NOT EXISTS {table} AS {Local(table)} ENGINE = Distributed({ClickHouseSql.Quote(_options.Cluster!)}, " +
        $"{ClickHouseSql.Quote(_options.Database)}, {ClickHouseSql.Quote(Local(table))}, {shardingKey})";

    public Task DropTablesAsync(IEnumerable<string> tables, CancellationToken cancellationToken) =>
        OnEveryShardAsync(tables.SelectMany(t => IsCluster ? [$"DROP TABLE IF EXISTS {t}", $"DROP TABLE IF EXISTS {Local(t)}"] : new[] { $"DROP TABLE IF EXISTS {t}" }).ToList(),
            cancellationToken);

    /// <summary>Adds columns to a table on every shard, and to its Distributed tables, wherever they are missing.</summary>
    public Task AddColumnsAsync(string table, IReadOnlyList<(string Name, string Type)> columns, CancellationToken cancellationToken) =>
        OnEveryShardAsync(async shard =>
        {
            foreach (var name in IsCluster ? [Local(table), table] : new[] { table })
            {
                var present = await ColumnsAsync(shard, name, cancellationToken);
                foreach (var (column, type) in columns.Where(c => !present.Contains(c.Name)))
                    await shard.ExecuteAsync($"ALTER TABLE {name} ADD COLUMN {column} {type}", cancellationToken);
            }
        });

    public static async Task<HashSet<string>> ColumnsAsync(ClickHouseHttpClient shard, string table, CancellationToken cancellationToken) =>
        (await shard.QueryListAsync($"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {ClickHouseSql.Quote(table)}",
            row => row.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);

    public Task DropPartitionAsync(string table, string partition, CancellationToken cancellationToken) =>
        OnEveryShardAsync([$"ALTER TABLE {Local(table)} DROP PARTITION {partition}"], cancellationToken);

    /// <summary>The active partitions of a table (as ClickHouse prints their values) with their rows, summed over the shards.</summary>
    public async Task<Dictionary<string, long>> PartitionsAsync(string table, CancellationToken cancellationToken)
    {
        var sql = "SELECT partition, sum(rows) FROM system.parts " +
            $"WHERE database = currentDatabase() AND table = {ClickHouseSql.Quote(Local(table))} AND active GROUP BY partition";
        var perShard = await Task.WhenAll(Shards.Select(s => s.QueryListAsync(sql, row => (Partition: row.GetString(0), Rows: row.GetInt64(1)), cancellationToken)));
        return perShard.SelectMany(p => p).GroupBy(p => p.Partition, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(p => p.Rows), StringComparer.Ordinal);
    }

    public void Dispose()
    {
        foreach (var client in Shards.Append(Main).Distinct()) client.Dispose();
    }

    /// <summary>A partition value of the event id table, ('type',key), as system.parts prints it.</summary>
    public static bool TryParseIdPartition(string partition, out string type, out string key)
    {
        var match = IdPartition().Match(partition);
        (type, key) = match.Success ? (match.Groups[1].Value, match.Groups[2].Value) : ("", "");
        return match.Success;
    }

    [GeneratedRegex(@"^\('([^']+)',(\d+)\)$")]
    private static partial Regex IdPartition();
}

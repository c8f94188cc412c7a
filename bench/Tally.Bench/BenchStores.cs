using System.Diagnostics;
using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tally.Core.Events;
using Tally.Core.Store;
using Tally.Storage.ClickHouse;

namespace Tally.Bench;

/// <summary>
/// Fresh, throw-away stores of one engine for the bench, and that engine's own bulk path as the
/// baseline: DuckDB's appender, a prepared-statement bulk insert for SQLite, psql's COPY for PostgreSQL, and
/// clickhouse-client's INSERT for ClickHouse, each loading the same rows the pipeline stores.
/// </summary>
public sealed class BenchStores(StoreLocation? server, string psql, string clickHouseClient, int clickHouseTcpPort) : IAsyncDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("tally-bench-").FullName;
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly List<string> _databases = [];

    /// <summary>psql from PATH, else where Debian's PostgreSQL 15 puts it.</summary>
    public static string DefaultPsql() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "psql")).FirstOrDefault(File.Exists)
        ?? "/usr/lib/postgresql/15/bin/psql";

    /// <summary>A temporary folder for files and embedded stores, deleted on dispose.</summary>
    public string Root => _root;

    public string Engine => server?.Engine ?? StoreLocation.DuckDb;

    /// <summary>The engine as reports name it.</summary>
    public string EngineName => Engine switch
    {
        StoreLocation.Postgres => "PostgreSQL",
        StoreLocation.ClickHouse => "ClickHouse",
        StoreLocation.DuckDb => "DuckDB",
        _ => "SQLite",
    };

    /// <summary>The bulk path the ratios compare with, in words.</summary>
    public string BulkPath => Engine switch
    {
        StoreLocation.Postgres => "psql \\copy of the same rows",
        StoreLocation.ClickHouse => "clickhouse-client INSERT of the same rows",
        StoreLocation.DuckDb => "bare DuckDB appender of the same rows",
        _ => "bare SQLite bulk insert",
    };

    /// <summary>A new, empty store named after what it measures, as "engine:connection".</summary>
    public async Task<string> FreshAsync(string name, CancellationToken cancellationToken)
    {
        if (server is null) return $"{StoreLocation.DuckDb}:{Path.Combine(_root, name)}";
        if (StoreLocation.IsEmbedded(server.Engine)) return $"{server.Engine}:{Path.Combine(server.Connection, name)}";
        var database = $"tally_bench_{_run}_{name.Replace('-', '_')}";
        _databases.Add(database);
        switch (server.Engine)
        {
            case StoreLocation.Postgres:
                await ExecutePostgresAsync($"CREATE DATABASE {database}", cancellationToken);
                return $"{StoreLocation.Postgres}:{new NpgsqlConnectionStringBuilder(server.Connection) { Database = database }}";
            case StoreLocation.ClickHouse:
                return $"{StoreLocation.ClickHouse}:{WithDatabase(server.Connection, database)}";
            default:
                throw new InvalidOperationException($"no bench stores for engine '{server.Engine}'");
        }
    }

    /// <summary>Loads the events' rows (id, type, time, every field) through the engine's bulk path.</summary>
    public async Task<TimeSpan> BulkLoadAsync(IReadOnlyList<IReadOnlyList<TallyEvent>> batches, CancellationToken cancellationToken)
    {
        var fields = batches.SelectMany(b => b).Select(e => e.Values.Length).DefaultIfEmpty(0).Max();
        var columns = Enumerable.Range(0, fields).Select(i => $"f{i}").ToList();
        switch (Engine)
        {
            case StoreLocation.Postgres:
            {
                var target = new NpgsqlConnectionStringBuilder(StoreLocation.Parse(await FreshAsync("bulk", cancellationToken), "--store").Connection);
                var file = await WriteTsvAsync(batches, fields, cancellationToken);
                await ExecutePostgresAsync($"CREATE TABLE bare (id text PRIMARY KEY, type text, ts bigint, {string.Join(", ", columns.Select(c => c + " text"))})", cancellationToken, target.Database);
                return await TimeProcessAsync(psql, ["-h", target.Host!, "-p", target.Port.ToString(CultureInfo.InvariantCulture), "-U", target.Username ?? "postgres",
                    "-d", target.Database!, "-v", "ON_ERROR_STOP=1", "-c", $"\\copy bare FROM '{file}'"], null, cancellationToken);
            }
            case StoreLocation.ClickHouse:
            {
                var database = $"tally_bench_{_run}_bulk";
                _databases.Add(database);
                var file = await WriteTsvAsync(batches, fields, cancellationToken);
                var host = ClickHouseStoreOptions.Parse(ClickHouseUrl).Endpoint.Host;
                string[] client = ["--host", host, "--port", clickHouseTcpPort.ToString(CultureInfo.InvariantCulture)];
                await TimeProcessAsync(clickHouseClient, [.. client, "--multiquery", "--query",
                    $"CREATE DATABASE {database}; CREATE TABLE {database}.bare (id String, type String, ts UInt64, {string.Join(", ", columns.Select(c => c + " Nullable(String)"))}) ENGINE = MergeTree ORDER BY ts"], null, cancellationToken);
                return await TimeProcessAsync(clickHouseClient, [.. client, "--query", $"INSERT INTO {database}.bare FORMAT TabSeparated"], file, cancellationToken);
            }
            case StoreLocation.DuckDb:
                return await BareDuckDbAppendAsync(batches, columns, cancellationToken);
            default:
                return await BareSqliteInsertAsync(batches, columns, cancellationToken);
        }
    }

    private string ClickHouseUrl => server!.Connection;

    /// <summary>
    /// What a store of this bench takes on disk: its folder for an embedded engine (database, WAL and all), else the engine's own
    /// count, pg_database_size for PostgreSQL and the active parts on every node for ClickHouse.
    /// </summary>
    public async Task<long> DiskBytesAsync(string store, CancellationToken cancellationToken)
    {
        var location = StoreLocation.Parse(store, "--store");
        switch (location.Engine)
        {
            case StoreLocation.Postgres:
            {
                await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(location.Connection) { Pooling = false }.ConnectionString);
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT pg_database_size(current_database())", connection);
                return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            }
            case StoreLocation.ClickHouse:
            {
                var options = ClickHouseStoreOptions.Parse(location.Connection);
                using var http = new HttpClient();
                long bytes = 0;
                foreach (var endpoint in options.Shards.Prepend(options.Endpoint).Distinct())
                {
                    using var response = await http.PostAsync(endpoint,
                        new StringContent($"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '{options.Database}'"), cancellationToken);
                    response.EnsureSuccessStatusCode();
                    bytes += long.Parse(await response.Content.ReadAsStringAsync(cancellationToken), CultureInfo.InvariantCulture);
                }
                return bytes;
            }
            default:
                return new DirectoryInfo(location.Connection).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        }
    }

    private async Task<string> WriteTsvAsync(IReadOnlyList<IReadOnlyList<TallyEvent>> batches, int fields, CancellationToken cancellationToken)
    {
        var path = Path.Combine(_root, $"bulk-{_run}.tsv");
        await using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        var line = new StringBuilder();
        foreach (var e in batches.SelectMany(b => b))
        {
            line.Clear().Append(e.Id).Append('\t').Append(e.Type.Name).Append('\t')
                .Append(new DateTimeOffset(e.Timestamp).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
            for (var i = 0; i < fields; i++)
            {
                // Both engines read \N as NULL; the generated values hold no tabs, newlines or backslashes.
                line.Append('\t').Append(i < e.Values.Length && e.Values[i] is { } value ? Convert.ToString(value, CultureInfo.InvariantCulture) : "\\N");
            }
            await writer.WriteLineAsync(line, cancellationToken);
        }
        return path;
    }

    private static async Task<TimeSpan> TimeProcessAsync(string program, string[] arguments, string? input, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardInput = input is not null, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        if (input is not null)
        {
            await using (var file = File.OpenRead(input)) await file.CopyToAsync(process.StandardInput.BaseStream, cancellationToken);
            process.StandardInput.Close();
        }
        await process.WaitForExitAsync(cancellationToken);
        var elapsed = watch.Elapsed;
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {await error}{await output}");
        return elapsed;
    }

    /// <summary>The same rows through DuckDB's appender, one transaction per batch, as the store writes them.</summary>
    private async Task<TimeSpan> BareDuckDbAppendAsync(IReadOnlyList<IReadOnlyList<TallyEvent>> batches, List<string> columns, CancellationToken cancellationToken)
    {
        await using var connection = new DuckDBConnection($"Data Source={Path.Combine(_root, $"bare-{_run}.duckdb")}");
        await connection.OpenAsync(cancellationToken);
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = $"CREATE TABLE bare (id VARCHAR, type VARCHAR, ts TIMESTAMP, {string.Join(", ", columns.Select(c => c + " VARCHAR"))})";
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        var watch = Stopwatch.StartNew();
        foreach (var events in batches)
        {
            using var transaction = connection.BeginTransaction();
            using (var appender = connection.CreateAppender("bare"))
            {
                foreach (var e in events)
                {
                    var row = appender.CreateRow().AppendValue(e.Id).AppendValue(e.Type.Name).AppendValue(e.Timestamp);
                    for (var i = 0; i < columns.Count; i++)
                        row = i < e.Values.Length && e.Values[i] is { } value ? row.AppendValue(Convert.ToString(value, CultureInfo.InvariantCulture)) : row.AppendNullValue();
                    row.EndRow();
                }
            }
            transaction.Commit();
        }
        return watch.Elapsed;
    }

    /// <summary>The same rows inserted with one prepared statement per batch transaction, durable as the store is.</summary>
    private async Task<TimeSpan> BareSqliteInsertAsync(IReadOnlyList<IReadOnlyList<TallyEvent>> batches, List<string> columns, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_root, $"bare-{_run}.db"), Pooling = false };
        await using var connection = new SqliteConnection(builder.ToString());
        await connection.OpenAsync(cancellationToken);
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " +
                $"CREATE TABLE bare (id TEXT PRIMARY KEY, type TEXT, ts INTEGER, {string.Join(", ", columns)});";
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        var watch = Stopwatch.StartNew();
        foreach (var events in batches)
        {
            await using var transaction = connection.BeginTransaction();
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = $"INSERT INTO bare VALUES ($id, $type, $ts, {string.Join(", ", columns.Select(c => "$" + c))})";
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var type = insert.Parameters.Add("$type", SqliteType.Text);
            var ts = insert.Parameters.Add("$ts", SqliteType.Integer);
            var values = columns.Select(c => insert.Parameters.Add("$" + c, SqliteType.Text)).ToArray();
            insert.Prepare();
            foreach (var e in events)
            {
                id.Value = e.Id;
                type.Value = e.Type.Name;
                ts.Value = new DateTimeOffset(e.Timestamp).ToUnixTimeMilliseconds();
                for (var i = 0; i < values.Length; i++) values[i].Value = i < e.Values.Length ? e.Values[i] ?? DBNull.Value : DBNull.Value;
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        return watch.Elapsed;
    }

    private async Task ExecutePostgresAsync(string sql, CancellationToken cancellationToken, string? database = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(server!.Connection) { Pooling = false };
        if (database is not null) builder.Database = database;
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The ClickHouse URL with its database parameter replaced.</summary>
    private static string WithDatabase(string url, string database)
    {
        var uri = new Uri(url);
        var query = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !p.StartsWith("database=", StringComparison.Ordinal)).Append("database=" + database);
        return new UriBuilder(uri) { Query = string.Join('&', query) }.Uri.ToString();
    }

    /// <summary>Drops a bench database on the node and on every shard the URL lists.</summary>
    private async Task DropClickHouseDatabaseAsync(string database)
    {
        var options = ClickHouseStoreOptions.Parse(ClickHouseUrl);
        using var http = new HttpClient();
        foreach (var endpoint in options.Shards.Prepend(options.Endpoint).Distinct())
        {
            using var response = await http.PostAsync(endpoint, new StringContent($"DROP DATABASE IF EXISTS {database}"));
            response.EnsureSuccessStatusCode();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var database in _databases)
        {
            try
            {
                if (Engine == StoreLocation.Postgres) await ExecutePostgresAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", CancellationToken.None);
                else if (Engine == StoreLocation.ClickHouse) await DropClickHouseDatabaseAsync(database);
            }
            catch (Exception e) when (e is NpgsqlException or HttpRequestException or InvalidOperationException)
            {
                Console.Error.WriteLine($"bench: could not drop {database}: {e.Message}");
            }
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
    }
}

using System.Globalization;

namespace Tally.Storage.ClickHouse;

/// <summary>
/// Where a ClickHouse store lives. Parsed from
/// "http://host:port/?database=NAME[&amp;cluster=NAME&amp;shards=host:port,host:port][&amp;user=..&amp;password=..]".
/// Queries and inserts go to <see cref="Endpoint"/>. In a cluster, <see cref="Shards"/> are the HTTP
/// endpoints of every shard of <see cref="Cluster"/>: DDL runs on each one, because ON CLUSTER needs
/// ZooKeeper. A single node is its own only shard.
/// </summary>
public sealed record ClickHouseStoreOptions(Uri Endpoint, string Database, string? Cluster, IReadOnlyList<Uri> Shards, string? User, string? Password)
{
    public bool IsCluster => Cluster is not null;

    public static ClickHouseStoreOptions Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new FormatException($"'{Redact(url)}' is not an http:// or https:// URL of a ClickHouse server");
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (name, value) = pair.IndexOf('=') is >= 0 and var at ? (pair[..at], Uri.UnescapeDataString(pair[(at + 1)..])) : (pair, "");
            if (name is not ("database" or "cluster" or "shards" or "user" or "password"))
                throw new FormatException($"ClickHouse URL: unknown parameter '{name}'; expected database, cluster, shards, user or password");
            if (!parameters.TryAdd(name, value)) throw new FormatException($"ClickHouse URL: parameter '{name}' is given twice");
        }
        if (!parameters.TryGetValue("database", out var database) || database.Length == 0)
            throw new FormatException("ClickHouse URL: the database parameter is required, e.g. http://127.0.0.1:8123/?database=tally");
        try
        {
            ClickHouseSql.Identifier(database);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"ClickHouse URL: database {e.Message}");
        }

        var endpoint = new Uri($"{uri.Scheme}://{uri.Authority}/");
        var cluster = parameters.GetValueOrDefault("cluster");
        var shards = parameters.GetValueOrDefault("shards");
        if ((cluster is null) != (shards is null))
            throw new FormatException("ClickHouse URL: cluster and shards go together: the cluster's name and the HTTP host:port of each of its shards");
        if (cluster is not null && !IsPlainName(cluster)) throw new FormatException($"ClickHouse URL: cluster '{cluster}' is not a plain name");
        var shardUris = shards is null ? [endpoint] : shards.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => Shard(uri.Scheme, s)).ToList();
        if (shardUris.Count == 0) throw new FormatException("ClickHouse URL: shards lists no host:port");
        return new ClickHouseStoreOptions(endpoint, database, cluster, shardUris, parameters.GetValueOrDefault("user"), parameters.GetValueOrDefault("password"));
    }

    private static Uri Shard(string scheme, string hostPort)
    {
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port == 0
            || !Uri.TryCreate($"{scheme}://{hostPort}/", UriKind.Absolute, out var shard))
            throw new FormatException($"ClickHouse URL: shard '{hostPort}' is not host:port");
        return shard;
    }

    private static bool IsPlainName(string name) => name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    private static string Redact(string url) => url.IndexOf('?', StringComparison.Ordinal) is >= 0 and var query ? url[..query] + "?…" : url;

    /// <summary>Without the password, so options can be logged.</summary>
    public override string ToString() =>
        $"ClickHouse {Endpoint} database {Database}" + (IsCluster ? $" on cluster {Cluster} ({string.Join(", ", Shards.Select(s => s.Authority))})" : "") +
        (User is null ? "" : $" as {User}");
}

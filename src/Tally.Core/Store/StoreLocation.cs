using System.Text.RegularExpressions;
using Tally.Core.Configuration;

namespace Tally.Core.Store;

/// <summary>Which engine holds a store and how to reach it; written "engine:connection" on the command line.</summary>
public sealed partial record StoreLocation(string Engine, string Connection)
{
    public const string Sqlite = "sqlite", DuckDb = "duckdb", Postgres = "postgres", ClickHouse = "clickhouse";
    public static readonly IReadOnlyList<string> Engines = [Sqlite, DuckDb, Postgres, ClickHouse];

    /// <summary>Reads "sqlite:DIR", "duckdb:DIR", "postgres:CONNECTION-STRING" or "clickhouse:URL".</summary>
    /// <exception cref="ConfigurationException">The text names no known engine or no connection.</exception>
    public static StoreLocation Parse(string text, string setting)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var engine = colon < 0 ? text : text[..colon];
        if (!Engines.Contains(engine))
            throw new ConfigurationException(setting, $"'{text}' does not start with one of {string.Join(", ", Engines.Select(e => e + ":"))}");
        var connection = colon < 0 ? "" : text[(colon + 1)..];
        if (connection.Trim().Length == 0) throw new ConfigurationException(setting, $"'{engine}:' needs a connection after the colon");
        return new StoreLocation(engine, connection);
    }

    /// <summary>Whether the engine keeps its file in a data folder (its connection), rather than on a server.</summary>
    public static bool IsEmbedded(string engine) => engine is Sqlite or DuckDb;

    /// <summary>
    /// The configured store; an embedded engine keeps its file in <paramref name="dataDirectory"/> unless the connection
    /// names another folder. With no engine configured, <paramref name="embeddedIn"/> says which embedded engine a folder holds.
    /// </summary>
    public static StoreLocation FromOptions(StorageOptions storage, string dataDirectory, Func<string, string> embeddedIn)
    {
        var engine = storage.Engine ?? embeddedIn(storage.Connection ?? dataDirectory);
        return new(engine, IsEmbedded(engine) ? storage.Connection ?? dataDirectory : storage.Connection ?? "");
    }

    /// <summary>For messages and logs: the connection with any password replaced by ***.</summary>
    public override string ToString() => $"{Engine}:{Secret().Replace(Connection, "$1$2***")}";

    [GeneratedRegex("((?:password|pwd)\\s*=\\s*)[^;&]*|(//[^:/@]+:)[^@/]*(?=@)", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();
}

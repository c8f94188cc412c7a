using System.Text.RegularExpressions;
using Tally.Core.Configuration;

namespace Tally.Core.Store;

/// <summary>Which engine holds a store and how to reach it; written "engine:connection" on the command line.</summary>
public sealed partial record StoreLocation(string Engine, string Connection)
{
    public const string Sqlite = "sqlite", Postgres = "postgres", ClickHouse = "clickhouse";
    public static readonly IReadOnlyList<string> Engines = [Sqlite, Postgres, ClickHouse];

    /// <summary>Reads "sqlite:DIR", "postgres:CONNECTION-STRING" or "clickhouse:URL".</summary>
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

    /// <summary>The configured store; the embedded default keeps its file in <paramref name="dataDirectory"/>.</summary>
    public static StoreLocation FromOptions(StorageOptions storage, string dataDirectory) =>
        new(storage.Engine, storage.Engine == Sqlite ? storage.Connection ?? dataDirectory : storage.Connection ?? "");

    /// <summary>For messages and logs: the connection with any password replaced by ***.</summary>
    public override string ToString() => $"{Engine}:{Secret().Replace(Connection, "$1$2***")}";

    [GeneratedRegex("((?:password|pwd)\\s*=\\s*)[^;&]*|(//[^:/@]+:)[^@/]*(?=@)", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();
}

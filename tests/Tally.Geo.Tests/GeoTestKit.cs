using System.Collections;
using System.Net;

namespace Tally.Geo.Tests;

internal static class GeoTestKit
{
    /// <summary>The real country database as npm installed it in assets/ (the build copies the same file).</summary>
    public static string NpmCountryDatabasePath { get; } = Path.Combine(RepositoryRoot(), "assets", "node_modules",
        "@ip-location-db", "geo-whois-asn-country-mmdb", "geo-whois-asn-country.mmdb");

    private static readonly Lazy<MaxMindDatabase> RealDatabase = new(() => MaxMindDatabase.Open(NpmCountryDatabasePath));

    public static MaxMindDatabase RealCountryDatabase => RealDatabase.Value;

    public static MaxMindDatabase Open(MmdbWriter writer, string name = "test.mmdb") => MaxMindDatabase.FromBytes(writer.Build(), name);

    public static IPAddress Ip(string text) => IPAddress.Parse(text);

    public static Dictionary<string, object?> Map(params (string Key, object? Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value);

    public static List<object?> List(params object?[] values) => [.. values];

    /// <summary>Deep equality that also insists on the same CLR types (uint is not ulong), naming the first difference.</summary>
    public static void AssertDecoded(object? expected, object? actual, string path = "$")
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {Show(expected)}, got {Show(actual)}");
            return;
        }
        Assert.True(expected.GetType() == actual.GetType(), $"{path}: expected a {expected.GetType().Name}, got a {actual.GetType().Name} ({Show(actual)})");
        switch (expected)
        {
            case IDictionary<string, object?> map:
                var other = (IDictionary<string, object?>)actual;
                Assert.True(map.Count == other.Count, $"{path}: expected keys [{string.Join(",", map.Keys)}], got [{string.Join(",", other.Keys)}]");
                foreach (var (key, value) in map)
                {
                    Assert.True(other.TryGetValue(key, out var actualValue), $"{path}: key '{key}' is missing");
                    AssertDecoded(value, actualValue, $"{path}.{key}");
                }
                break;
            case byte[] bytes:
                Assert.True(bytes.AsSpan().SequenceEqual((byte[])actual), $"{path}: bytes differ");
                break;
            case IList list:
                var actualList = (IList)actual;
                Assert.True(list.Count == actualList.Count, $"{path}: expected {list.Count} elements, got {actualList.Count}");
                for (var i = 0; i < list.Count; i++) AssertDecoded(list[i], actualList[i], $"{path}[{i}]");
                break;
            default:
                Assert.True(expected.Equals(actual), $"{path}: expected {Show(expected)}, got {Show(actual)}");
                break;
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => $"{value} ({value.GetType().Name})",
    };

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "assets", "package.json")) && File.Exists(Path.Combine(dir.FullName, "Tally.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No repository root (with assets/package.json) above {AppContext.BaseDirectory}");
    }
}

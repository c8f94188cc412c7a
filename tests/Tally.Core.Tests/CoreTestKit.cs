using System.Text;
using Tally.Core.Accept;
using Tally.Core.Configuration;
using Tally.Core.Process;

namespace Tally.Core.Tests;

/// <summary>A salt per day, made on first use, as a store keeps them.</summary>
public sealed class DailySalts : ISaltSource
{
    private readonly Dictionary<DateOnly, byte[]> _salts = [];

    public ValueTask<byte[]> GetSaltAsync(DateOnly day, CancellationToken cancellationToken)
    {
        if (!_salts.TryGetValue(day, out var salt)) _salts[day] = salt = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        return ValueTask.FromResult(salt);
    }
}

public static class CoreTestKit
{
    public static readonly DateTime Now = new(2026, 6, 10, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>A file under ../shared, next to the repository.</summary>
    public static string SharedFile(params string[] parts) => Path.Combine([RepositoryRoot(), "..", "shared", .. parts]);

    /// <summary>The folder that holds Tally.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tally.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Tally.sln not found above " + AppContext.BaseDirectory);
    }

    public static TallySchema DefaultSchema(Action<TallyOptions>? change = null)
    {
        var options = DefaultConfiguration.Create();
        change?.Invoke(options);
        return TallySchema.Compile(options);
    }

    /// <summary>The default types plus "measure", with one optional field of each type.</summary>
    public static TallySchema SchemaWithAllFieldTypes() => DefaultSchema(o => o.EventTypes.Add(new EventTypeOptions
    {
        Name = "measure",
        Fields = new()
        {
            ["label"] = new() { Type = "string" },
            ["n"] = new() { Type = "integer" },
            ["x"] = new() { Type = "number" },
            ["flag"] = new() { Type = "boolean" },
        },
    }));

    public static ParsedBatch Parse(string body, TallySchema? schema = null) =>
        new EventParser(schema ?? DefaultSchema(), new FixedClock(Now)).Parse(Encoding.UTF8.GetBytes(body));

    public static Events.TallyEvent One(string json, TallySchema? schema = null)
    {
        var batch = Parse(json, schema);
        Assert.Empty(batch.Rejections);
        return Assert.Single(batch.Events);
    }

    public static Rejection OnlyRejection(string json, TallySchema? schema = null)
    {
        var batch = Parse(json, schema);
        Assert.Empty(batch.Events);
        return Assert.Single(batch.Rejections);
    }

    /// <summary>A record-view event with <paramref name="more"/> spliced in as extra JSON members.</summary>
    public static string View(string more = "") =>
        $$"""{"type":"record-view","item_id":"x"{{(more.Length > 0 ? "," + more : "")}}}""";
}

/// <summary>A geo database of a few fixed networks, for pipeline tests that are not about geo (the real .mmdb is tested in Tally.Geo.Tests).</summary>
public sealed class TableGeo : Tally.Core.Process.IGeoLookup
{
    public Dictionary<string, Tally.Core.Process.GeoLocation> ByAddress { get; } = new()
    {
        ["192.0.2.1"] = new("DE", "Germany", "DE-BY", "Bavaria", "Munich"),
        ["2001:db8::1"] = new("FR", "France", null, null, null),
    };

    public Tally.Core.Process.GeoLocation? Lookup(System.Net.IPAddress address) => ByAddress.GetValueOrDefault(address.ToString());
}

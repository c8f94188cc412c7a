using System.Reflection;
using System.Text.Json.Nodes;
using Tally.Core.Configuration;
using Tally.Core.Process;
using Tally.Geo;

namespace Tally.Hosting;

/// <summary>Reads configuration and robot lists from disk (the core itself does no I/O).</summary>
public static class TallyConfiguration
{
    public const string DefaultFileName = "tally.json";

    /// <summary>The configuration file a command reads: the one given, else tally.json in the working directory if present, else none.</summary>
    public static string? PathOf(string? path) => path ?? (File.Exists(DefaultFileName) ? DefaultFileName : null);

    /// <summary>The file <see cref="PathOf"/> names, else the built-in default.</summary>
    public static TallyOptions Load(string? path)
    {
        path = PathOf(path);
        if (path is null) return DefaultConfiguration.Create();
        if (!File.Exists(path)) throw new ConfigurationException("--config", $"file '{path}' does not exist");
        return ConfigurationReader.Parse(File.ReadAllText(path));
    }

    /// <summary>The configured .mmdb, or the country database built into Tally.</summary>
    public static IGeoLookup LoadGeo(TallyOptions options)
    {
        var path = string.IsNullOrEmpty(options.Geo.Database) ? MmdbGeoLookup.DefaultCountryDatabasePath : options.Geo.Database;
        if (!File.Exists(path)) throw new ConfigurationException("geo.database", $"file '{path}' does not exist");
        try { return MmdbGeoLookup.Open(path, cityLevel: options.Geo.Level == "city"); }
        catch (InvalidDatabaseException e) { throw new ConfigurationException("geo.database", e.Message); }
    }

    /// <summary>
    /// The robot lists that flag events: COUNTER's own list, built in and always applied, as the Code of Practice
    /// requires for COUNTER metrics; then the files in robots.lists, or the built-in crawler-user-agents list when
    /// none are configured. Configured lists add to COUNTER's, never replace it.
    /// </summary>
    public static RobotLists LoadRobots(TallyOptions options)
    {
        var counterText = ReadResource(CounterRobotsResource);
        var lists = new List<(string Name, List<string> Patterns)>
        {
            ($"COUNTER-Robots {CounterRobotsVersion(counterText)} (built in, always applied)", [.. RobotList.ParsePatterns(counterText, "built-in COUNTER robot list")]),
        };
        if (options.Robots.Lists.Count == 0)
            lists.Add(("crawler-user-agents (built in, robots.lists is empty)", [.. RobotList.ParsePatterns(ReadResource("Tally.Hosting.default-robots.json"), "built-in robot list")]));
        for (var i = 0; i < options.Robots.Lists.Count; i++)
        {
            var path = options.Robots.Lists[i];
            if (!File.Exists(path)) throw new ConfigurationException($"robots.lists[{i}]", $"file '{path}' does not exist");
            try { lists.Add((path, [.. RobotList.ParsePatterns(File.ReadAllText(path), path)])); }
            catch (FormatException e) { throw new ConfigurationException($"robots.lists[{i}]", e.Message); }
        }
        return new RobotLists(new RobotList(lists.SelectMany(l => l.Patterns)), [.. lists.Select(l => $"{l.Name}: {l.Patterns.Count} pattern{(l.Patterns.Count == 1 ? "" : "s")}")]);
    }

    private const string CounterRobotsResource = "Tally.Hosting.counter-robots.json";

    /// <summary>COUNTER-Robots releases are named by date; a list's date is the newest last_changed of its entries.</summary>
    private static string CounterRobotsVersion(string listText) =>
        JsonNode.Parse(listText)!.AsArray().Select(entry => entry?["last_changed"]?.GetValue<string>()).OfType<string>().Max(StringComparer.Ordinal) ?? "undated";

    private static string ReadResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The built-in resource {name} is missing from this build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>The robot lists in force, each named with its number of patterns, and one matcher over all of them.</summary>
public sealed record RobotLists(RobotList Matcher, IReadOnlyList<string> Names);

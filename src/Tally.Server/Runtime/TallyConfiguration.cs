using System.Reflection;
using Tally.Core.Configuration;
using Tally.Core.Process;
using Tally.Geo;

namespace Tally.Server.Runtime;

/// <summary>Reads configuration and robot lists from disk (the core itself does no I/O).</summary>
public static class TallyConfiguration
{
    public const string DefaultFileName = "tally.json";

    /// <summary>The file given, else tally.json in the working directory if present, else the built-in default.</summary>
    public static TallyOptions Load(string? path)
    {
        if (path is null && File.Exists(DefaultFileName)) path = DefaultFileName;
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

    public static RobotList LoadRobots(TallyOptions options)
    {
        if (options.Robots.Lists.Count == 0)
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Tally.Server.default-robots.json")
                ?? throw new InvalidOperationException("The built-in robot list is missing from this build.");
            using var reader = new StreamReader(stream);
            return new RobotList(RobotList.ParsePatterns(reader.ReadToEnd(), "built-in robot list"));
        }
        var patterns = new List<string>();
        for (var i = 0; i < options.Robots.Lists.Count; i++)
        {
            var path = options.Robots.Lists[i];
            if (!File.Exists(path)) throw new ConfigurationException($"robots.lists[{i}]", $"file '{path}' does not exist");
            try { patterns.AddRange(RobotList.ParsePatterns(File.ReadAllText(path), path)); }
            catch (FormatException e) { throw new ConfigurationException($"robots.lists[{i}]", e.Message); }
        }
        return new RobotList(patterns);
    }
}

using System.Text;
using Microsoft.Extensions.Configuration;

namespace Tally.Tracker.Tests;

/// <summary>The routing tree an appsettings section describes: branches, processors at any level, errors that name the setting.</summary>
public sealed class ConfigurationTests
{
    private static IConfigurationSection Section(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build().GetSection("Tracking");

    /// <summary>A factory with a "Memory" backend type whose instances the test can read by name.</summary>
    private static (TrackerBackendFactory Factory, Dictionary<string, MemoryBackend> Memories) FactoryWithMemory(string? baseDirectory = null)
    {
        var memories = new Dictionary<string, MemoryBackend>();
        var factory = new TrackerBackendFactory(baseDirectory: baseDirectory)
            .AddBackend("Memory", (_, name) => memories[name] = new MemoryBackend());
        return (factory, memories);
    }

    private static TrackerEvent Event(string name) => new(name, DateTime.UtcNow, new Dictionary<string, object?>(), new Dictionary<string, object?>());

    [Fact]
    public async Task A_tree_from_configuration_routes_each_event_through_the_processors_of_every_level_it_passes()
    {
        var (factory, memories) = FactoryWithMemory();
        await using var root = factory.BuildAsynchronous(Section("""
            {"Tracking": {
              "Buffer": {"Capacity": 100, "WhenFull": "Block", "BlockTimeout": "00:00:02"},
              "Processors": [{"Type": "DenyList", "Names": ["heartbeat"], "Patterns": ["debug\\..*"]}],
              "Backends": {
                "everything": {"Type": "Memory"},
                "downloads": {
                  "Processors": [{"Type": "AllowList", "Patterns": ["file-.*", "supplementary-.*"]}],
                  "Backends": {
                    "all-downloads": {"Type": "Memory"},
                    "pdf-only": {"Type": "Memory", "Processors": [{"Type": "AllowList", "Names": ["file-download"]}]}
                  }
                },
                "switched-off": {"Type": "Memory", "Enabled": false}
              }
            }}
            """));
        foreach (var name in (string[])["record-view", "heartbeat", "debug.tick", "file-download", "supplementary-download"]) root.Send(Event(name));
        await root.FlushAsync();

        Assert.Equal(["record-view", "file-download", "supplementary-download"], memories["everything"].Events.Select(e => e.Name));
        Assert.Equal(["file-download", "supplementary-download"], memories["all-downloads"].Events.Select(e => e.Name));
        Assert.Equal(["file-download"], memories["pdf-only"].Events.Select(e => e.Name));
        Assert.DoesNotContain("switched-off", memories.Keys);
    }

    [Fact]
    public async Task Built_in_backends_are_made_from_their_options_with_folders_relative_to_the_base_directory()
    {
        var root = Directory.CreateTempSubdirectory("tally-tracker-").FullName;
        var factory = new TrackerBackendFactory(baseDirectory: root);
        var tree = factory.Branch(Section("""
            {"Tracking": {"Backends": {
              "tally": {"Type": "Http", "Url": "http://127.0.0.1:9/", "ApiKey": "k", "SpoolDirectory": "spool", "BatchSize": 10, "FlushInterval": 0.5},
              "pkp": {"Type": "File", "Format": "pkp", "Directory": "usageEventLogs", "TimeZone": "Europe/Berlin"},
              "log": {"Type": "Logger", "Level": "Debug"},
              "bus": {"Type": "RabbitMQ", "Uri": "amqp://guest:guest@127.0.0.1:9/", "Exchange": "tracking"}
            }}}
            """));
        await using (tree)
        {
            // Configuration orders keys, so a branch's backends get each event in the order of their names.
            Assert.Equal(["bus", "log", "pkp", "tally"], tree.Backends.Select(b => b.Key));
            Assert.IsType<RabbitMqBackend>(tree.Backends[0].Value);
            Assert.IsType<LoggerBackend>(tree.Backends[1].Value);
            Assert.Equal("Europe/Berlin", Assert.IsType<FileBackend>(tree.Backends[2].Value).TimeZone.Id);
            Assert.IsType<HttpBackend>(tree.Backends[3].Value);
            Assert.True(File.Exists(Path.Combine(root, "spool", ".lock")));
            Assert.True(Directory.Exists(Path.Combine(root, "usageEventLogs")));
        }
    }

    [Theory]
    [InlineData("""{"x": {"Type": "Kafka"}}""", "Tracking:Backends:x:Type 'Kafka' is not a backend type: use one of Routing, Logger, Http, Tally, File, RabbitMQ, Memory")]
    [InlineData("""{"x": {"Url": "http://a"}}""", "Tracking:Backends:x:Type is required")]
    [InlineData("""{"tally": {"Type": "Http"}}""", "Tracking:Backends:tally:Url is required")]
    [InlineData("""{"tally": {"Type": "Http", "Url": "ftp://a"}}""", "Tracking:Backends:tally:Url must be an absolute http or https URL, not 'ftp://a'")]
    [InlineData("""{"tally": {"Type": "Http", "Url": "http://a", "BatchSize": "many"}}""", "Tracking:Backends:tally:BatchSize must be a whole number from 1 to 2147483647, not 'many'")]
    [InlineData("""{"tally": {"Type": "Http", "Url": "http://a", "FlushInterval": "soon"}}""", "Tracking:Backends:tally:FlushInterval must be a duration such as 00:00:05, or a number of seconds, not 'soon'")]
    [InlineData("""{"f": {"Type": "File"}}""", "Tracking:Backends:f:Directory is required")]
    [InlineData("""{"f": {"Type": "File", "Directory": "d", "Format": "csv"}}""", "Tracking:Backends:f:Format must be one of Ndjson, Pkp, not 'csv'")]
    [InlineData("""{"f": {"Type": "File", "Directory": "d", "TimeZone": "Mars/Olympus"}}""", "Tracking:Backends:f:TimeZone must be a time zone id such as Europe/Berlin, not 'Mars/Olympus'")]
    [InlineData("""{"m": {"Type": "Memory", "Processors": [{"Type": "AllowList", "Patterns": ["(unclosed"]}]}}""", "Tracking:Backends:m:Processors:0:Patterns holds an invalid regular expression")]
    [InlineData("""{"m": {"Type": "Memory", "Processors": [{"Type": "AllowList"}]}}""", "Tracking:Backends:m:Processors:0: give Names, Patterns or both")]
    [InlineData("""{"m": {"Type": "Memory", "Processors": [{"Type": "Sampler"}]}}""", "Tracking:Backends:m:Processors:0:Type 'Sampler' is not a processor type: use one of AllowList, DenyList")]
    [InlineData("""{"m": {"Type": "Memory", "Enabled": "sometimes"}}""", "Tracking:Backends:m:Enabled must be true or false, not 'sometimes'")]
    public void A_wrong_setting_is_refused_with_its_path_and_what_it_should_be(string backends, string message)
    {
        var directory = Directory.CreateTempSubdirectory("tally-tracker-").FullName;
        var (factory, _) = FactoryWithMemory(directory);
        var error = Assert.Throws<TrackerConfigurationException>(() => factory.Branch(Section($$$"""{"Tracking": {"Backends": {{{backends}}}}}""")));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_buffer_setting_is_checked_too()
    {
        var (factory, _) = FactoryWithMemory();
        var error = Assert.Throws<TrackerConfigurationException>(() => factory.BuildAsynchronous(Section("""{"Tracking": {"Buffer": {"WhenFull": "Wait"}}}""")));
        Assert.Equal("Tracking:Buffer:WhenFull must be one of DropNewest, DropOldest, Block, not 'Wait'", error.Message);
    }
}

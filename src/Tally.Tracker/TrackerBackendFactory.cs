using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tally.Tracker;

/// <summary>A tracking section that cannot be built; the message names the setting by its configuration path.</summary>
public sealed class TrackerConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Builds the routing tree from configuration (an appsettings section). Every node may have
/// <c>Processors</c> (a list, run in order) and is either a branch with named <c>Backends</c> or a
/// backend of a <c>Type</c> with its own options; a node with <c>"Enabled": false</c> is left out.
/// A branch's backends get each event in the order of their names (configuration sorts keys):
/// <code>
/// "Tracking": {
///   "Buffer": { "Capacity": 10000, "WhenFull": "DropOldest" },
///   "Processors": [ { "Type": "DenyList", "Patterns": [ "heartbeat\\..*" ] } ],
///   "Backends": {
///     "tally": { "Type": "Http", "Url": "http://127.0.0.1:5080", "ApiKey": "…",
///                "Processors": [ { "Type": "AllowList", "Names": [ "record-view", "file-download" ] } ] },
///     "archive": { "Backends": { "pkp": { "Type": "File", "Format": "Pkp", "Directory": "usageEventLogs" } } }
///   }
/// }
/// </code>
/// Backend types: Http (alias Tally), File, RabbitMQ, Logger, Routing. Processor types: AllowList,
/// DenyList. <see cref="AddBackend"/> and <see cref="AddProcessor"/> add an application's own.
/// </summary>
public sealed class TrackerBackendFactory
{
    private readonly Dictionary<string, Func<IConfigurationSection, string, ITrackerBackend>> _backends = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Func<IConfigurationSection, ITrackerProcessor>> _processors = new(StringComparer.OrdinalIgnoreCase);

    public TrackerBackendFactory(ILoggerFactory? loggerFactory = null, TimeProvider? clock = null, string? baseDirectory = null)
    {
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Clock = clock ?? TimeProvider.System;
        BaseDirectory = baseDirectory ?? Directory.GetCurrentDirectory();
        AddBackend("Routing", (section, _) => Branch(section));
        AddBackend("Logger", (section, _) => new LoggerBackend(
            LoggerFactory.CreateLogger(section["Category"] ?? "Tally.Tracker.Events"), Setting.Enum(section, "Level", LogLevel.Information)));
        AddBackend("Http", CreateHttp);
        AddBackend("Tally", CreateHttp);
        AddBackend("File", (section, _) => new FileBackend(
            PathOf(section, "Directory", null), Setting.Enum(section, "Format", TrackerFileFormat.Ndjson), Setting.TimeZone(section, "TimeZone"), Setting.Bool(section, "HashIp", true)));
        AddBackend("RabbitMQ", (section, name) => new RabbitMqBackend(new RabbitMqBackendOptions
        {
            Uri = Setting.Uri(section, "Uri", "amqp", "amqps"),
            Exchange = section["Exchange"] ?? "tally",
            RoutingKey = section["RoutingKey"],
            Capacity = Setting.Int(section, "Capacity", 100_000),
            BatchSize = Setting.Int(section, "BatchSize", 500),
            MinRetryDelay = Setting.Duration(section, "MinRetryDelay", TimeSpan.FromMilliseconds(500)),
            MaxRetryDelay = Setting.Duration(section, "MaxRetryDelay", TimeSpan.FromSeconds(30)),
            ShutdownTimeout = Setting.Duration(section, "ShutdownTimeout", TimeSpan.FromSeconds(5)),
        }, name, Logger));
        AddProcessor("AllowList", section => NameFilterOf(section, NameFilterMode.AllowList));
        AddProcessor("DenyList", section => NameFilterOf(section, NameFilterMode.DenyList));
    }

    public ILoggerFactory LoggerFactory { get; }
    public TimeProvider Clock { get; }

    /// <summary>Relative folders in the configuration are taken from here (an ASP.NET Core app's content root).</summary>
    public string BaseDirectory { get; }

    private ILogger Logger => LoggerFactory.CreateLogger("Tally.Tracker");

    /// <summary>Adds (or replaces) a backend type: it gets its node's section and name.</summary>
    public TrackerBackendFactory AddBackend(string type, Func<IConfigurationSection, string, ITrackerBackend> create)
    {
        _backends[type] = create;
        return this;
    }

    public TrackerBackendFactory AddProcessor(string type, Func<IConfigurationSection, ITrackerProcessor> create)
    {
        _processors[type] = create;
        return this;
    }

    /// <summary>The routing tree the section describes, with its root behind an asynchronous buffer (the section's <c>Buffer</c>).</summary>
    /// <exception cref="TrackerConfigurationException">A setting is missing or wrong; the message names it.</exception>
    public AsyncRoutingBackend BuildAsynchronous(IConfigurationSection section)
    {
        var buffer = section.GetSection("Buffer");
        return new AsyncRoutingBackend(Branch(section), "root",
            Setting.Int(buffer, "Capacity", 10_000),
            Setting.Enum(buffer, "WhenFull", BufferFullPolicy.DropNewest),
            Setting.Duration(buffer, "BlockTimeout", TimeSpan.FromSeconds(1)),
            Logger);
    }

    /// <summary>The routing tree the section describes, sending on the caller's thread.</summary>
    /// <exception cref="TrackerConfigurationException">A setting is missing or wrong; the message names it.</exception>
    public RoutingBackend Branch(IConfigurationSection section)
    {
        var backends = new List<KeyValuePair<string, ITrackerBackend>>();
        foreach (var child in section.GetSection("Backends").GetChildren())
        {
            if (!Setting.Bool(child, "Enabled", true)) continue;
            backends.Add(new(child.Key, Node(child)));
        }
        return new RoutingBackend(Processors(section), backends, Logger);
    }

    private ITrackerBackend Node(IConfigurationSection section)
    {
        var type = section["Type"] ?? (section.GetSection("Backends").Exists() ? "Routing" : null)
            ?? throw new TrackerConfigurationException($"{section.Path}:Type is required: one of {string.Join(", ", _backends.Keys)}, or give Backends for a branch");
        if (!_backends.TryGetValue(type, out var create))
            throw new TrackerConfigurationException($"{section.Path}:Type '{type}' is not a backend type: use one of {string.Join(", ", _backends.Keys)}");
        ITrackerBackend backend;
        try
        {
            backend = create(section, section.Key);
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or SpoolBusyException)
        {
            throw new TrackerConfigurationException($"{section.Path}: {e.Message}", e);
        }
        // A leaf with its own processors becomes a branch of one.
        if (backend is RoutingBackend || !section.GetSection("Processors").Exists()) return backend;
        return new RoutingBackend(Processors(section), [new(section.Key, backend)], Logger);
    }

    private List<ITrackerProcessor> Processors(IConfigurationSection section)
    {
        var processors = new List<ITrackerProcessor>();
        foreach (var child in section.GetSection("Processors").GetChildren())
        {
            var type = child["Type"] ?? throw new TrackerConfigurationException($"{child.Path}:Type is required: one of {string.Join(", ", _processors.Keys)}");
            if (!_processors.TryGetValue(type, out var create))
                throw new TrackerConfigurationException($"{child.Path}:Type '{type}' is not a processor type: use one of {string.Join(", ", _processors.Keys)}");
            processors.Add(create(child));
        }
        return processors;
    }

    private static NameFilter NameFilterOf(IConfigurationSection section, NameFilterMode mode)
    {
        var names = Setting.List(section, "Names");
        var patterns = Setting.List(section, "Patterns");
        if (names.Count == 0 && patterns.Count == 0)
            throw new TrackerConfigurationException($"{section.Path}: give Names, Patterns or both");
        try
        {
            return new NameFilter(mode, names, patterns);
        }
        catch (ArgumentException e)
        {
            throw new TrackerConfigurationException($"{section.Path}:Patterns holds an invalid regular expression: {e.Message}", e);
        }
    }

    private HttpBackend CreateHttp(IConfigurationSection section, string name) => new(new HttpBackendOptions
    {
        Url = Setting.Uri(section, "Url", "http", "https"),
        ApiKey = section["ApiKey"],
        SpoolDirectory = PathOf(section, "SpoolDirectory",
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "Tally.Tracker", "spool", name)),
        BatchSize = Setting.Int(section, "BatchSize", 500),
        FlushInterval = Setting.Duration(section, "FlushInterval", TimeSpan.FromSeconds(1)),
        MinRetryDelay = Setting.Duration(section, "MinRetryDelay", TimeSpan.FromMilliseconds(500)),
        MaxRetryDelay = Setting.Duration(section, "MaxRetryDelay", TimeSpan.FromMinutes(1)),
        RequestTimeout = Setting.Duration(section, "RequestTimeout", TimeSpan.FromSeconds(30)),
        MaxSpoolBytes = Setting.Long(section, "MaxSpoolBytes", 256L * 1024 * 1024),
        ShutdownTimeout = Setting.Duration(section, "ShutdownTimeout", TimeSpan.FromSeconds(5)),
    }, name, logger: Logger, clock: Clock);

    private string PathOf(IConfigurationSection section, string key, string? fallback)
    {
        var value = section[key] ?? fallback ?? throw new TrackerConfigurationException($"{section.Path}:{key} is required");
        return Path.GetFullPath(value, BaseDirectory);
    }

    /// <summary>Reads typed settings, with errors that name the setting's path and say what it should be.</summary>
    private static class Setting
    {
        public static int Int(IConfigurationSection section, string key, int fallback) =>
            (int)Long(section, key, fallback, int.MaxValue);

        public static long Long(IConfigurationSection section, string key, long fallback, long max = long.MaxValue)
        {
            if (section[key] is not { } text) return fallback;
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max
                ? value
                : throw Wrong(section, key, text, $"a whole number from 1 to {max}");
        }

        public static bool Bool(IConfigurationSection section, string key, bool fallback)
        {
            if (section[key] is not { } text) return fallback;
            return bool.TryParse(text, out var value) ? value : throw Wrong(section, key, text, "true or false");
        }

        /// <summary>A TimeSpan ("00:00:05") or a number of seconds ("2.5").</summary>
        public static TimeSpan Duration(IConfigurationSection section, string key, TimeSpan fallback)
        {
            if (section[key] is not { } text) return fallback;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0 && seconds <= TimeSpan.MaxValue.TotalSeconds)
                return TimeSpan.FromSeconds(seconds);
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= TimeSpan.Zero
                ? value
                : throw Wrong(section, key, text, "a duration such as 00:00:05, or a number of seconds");
        }

        public static TEnum Enum<TEnum>(IConfigurationSection section, string key, TEnum fallback) where TEnum : struct, System.Enum
        {
            if (section[key] is not { } text) return fallback;
            return System.Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value) && !char.IsAsciiDigit(text[0])
                ? value
                : throw Wrong(section, key, text, "one of " + string.Join(", ", System.Enum.GetNames<TEnum>()));
        }

        public static Uri Uri(IConfigurationSection section, string key, params string[] schemes)
        {
            var text = section[key] ?? throw new TrackerConfigurationException($"{section.Path}:{key} is required");
            return System.Uri.TryCreate(text, UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme)
                ? uri
                : throw Wrong(section, key, text, $"an absolute {string.Join(" or ", schemes)} URL");
        }

        public static TimeZoneInfo TimeZone(IConfigurationSection section, string key)
        {
            if (section[key] is not { } text) return TimeZoneInfo.Utc;
            try { return TimeZoneInfo.FindSystemTimeZoneById(text); }
            catch (TimeZoneNotFoundException) { throw Wrong(section, key, text, "a time zone id such as Europe/Berlin"); }
        }

        public static List<string> List(IConfigurationSection section, string key) =>
            [.. section.GetSection(key).GetChildren().Select(c => c.Value).OfType<string>()];

        private static TrackerConfigurationException Wrong(IConfigurationSection section, string key, string text, string expected) =>
            new($"{section.Path}:{key} must be {expected}, not '{text}'");
    }
}

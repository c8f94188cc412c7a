using System.Security.Cryptography;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Ingest;
using Tally.Core.Live;
using Tally.Core.Process;
using Tally.Core.Query;
using Tally.Core.Query.Sushi;
using Tally.Core.Retention;
using Tally.Core.Sources.Bus;
using Tally.Core.Sources.Logs;
using Tally.Core.Store;
using Tally.Server.Demo;
using Tally.Sources.Logs;
using Tally.Sources.Amqp;

namespace Tally.Server.Runtime;

/// <param name="AdminKey">An admin API key to accept besides the configured ones (tests, bench); --demo makes one.</param>
/// <param name="Store">"engine:connection" overriding the configured storage (--store).</param>
public sealed record RuntimeOptions(
    string DataDirectory, string? ConfigPath, bool Demo = false, string? AdminKey = null, string? Store = null, ServerRole Role = ServerRole.All);

/// <summary>
/// Everything one Tally process works with, wired once: configuration, store, pipeline, ingest,
/// aggregation and queries. The HTTP API and every CLI command are thin shells over it.
/// </summary>
public sealed class TallyRuntime : IAsyncDisposable
{
    public const string DemoKeyFile = "demo-api-key";
    private readonly IGeoLookup _geo;

    private TallyRuntime(RuntimeOptions options, TallySchema schema, IEventStore store, StoreLocation location, RobotLists robots, IGeoLookup geo, string? adminKey)
    {
        Options = options;
        StoreLocation = location;
        Schema = schema;
        Store = store;
        Robots = robots;
        AdminKey = adminKey;
        Clock = TimeProvider.System;
        Parser = new EventParser(schema, Clock);
        _geo = geo;
        Pipeline = PipelineWith(store);
        Writer = new GroupCommitWriter(store);
        if (options.Role == ServerRole.Ingest) Queue = new EventQueuePublisher(schema.Options.Queue);
        Ingest = new IngestService(Parser, Pipeline, Writer, Queue is null ? null : Queue.PublishAsync, Feed);
        Items = new ItemCatalog(store);
        Aggregator = new Aggregator(schema, store, Items, Clock, Feed);
        Sushi = new SushiService(schema, store, Items, Clock);
        Stats = new StatsService(store);
        SavedQueries = new SavedQueryCatalog(schema, store, Clock);
        Retention = new RetentionService(schema, store, Clock);
        var sources = schema.Options.Sources;
        // Built up front, so that a mistake in sources.* stops the start instead of a later job.
        ScheduledPkpLoader = sources.Pkp.Directory is { } pkpDirectory ? PkpLoader(pkpDirectory) : null;
        Bus = sources.Amqp.Uri is not null ? BusRouting.Compile(schema, Parser) : null;
    }

    public RuntimeOptions Options { get; }
    public TallySchema Schema { get; }
    public IEventStore Store { get; }
    /// <summary>Which store this is, with any password hidden when printed.</summary>
    public StoreLocation StoreLocation { get; }
    /// <summary>The robot lists in force (COUNTER's always among them) and their matcher.</summary>
    public RobotLists Robots { get; }
    /// <summary>The extra admin key; with --demo it is kept in the data folder so it survives restarts.</summary>
    public string? AdminKey { get; }
    public TimeProvider Clock { get; }
    public EventParser Parser { get; }
    public EventPipeline Pipeline { get; }
    public GroupCommitWriter Writer { get; }
    /// <summary>Where an ingest node hands accepted events to workers; null when this process stores them itself.</summary>
    public EventQueuePublisher? Queue { get; }
    public IngestService Ingest { get; }
    public ItemCatalog Items { get; }
    public Aggregator Aggregator { get; }
    public SushiService Sushi { get; }
    public StatsService Stats { get; }
    public SavedQueryCatalog SavedQueries { get; }
    public RetentionService Retention { get; }
    /// <summary>Events stored and aggregation runs in this process, as they happen (the dashboard's live updates).</summary>
    public UsageFeed Feed { get; } = new();
    /// <summary>The PKP usageStats folder serve loads on a schedule (sources.pkp.directory), if any.</summary>
    public PkpLogLoader? ScheduledPkpLoader { get; }
    /// <summary>How bus messages become events, when serve consumes RabbitMQ (sources.amqp.uri).</summary>
    public BusRouting? Bus { get; }

    /// <summary>A file importer for one log format, into this runtime's pipeline and store.</summary>
    public LogFileImporter Importer(ILogFormat format) => new(format, PipelineWith, Store, Clock);

    /// <summary>The configured pipeline over another salt source, such as a file import's own transaction.</summary>
    public EventPipeline PipelineWith(ISaltSource salts) => EventPipeline.FromSchema(Schema, Robots.Matcher, salts, _geo);

    /// <exception cref="ConfigurationException">sources.pkp is invalid.</exception>
    public PkpLogLoader PkpLoader(string directory)
    {
        var format = PkpLogFormat.Create(Schema, Parser);
        return new PkpLogLoader(Importer(format), directory, format.TimeZone, Clock);
    }

    /// <summary>Loads and validates configuration, opens the store and (unless told not to) sets it up.</summary>
    /// <param name="check">Runs once the configuration is valid and before the store is opened, so that a caller's input the configuration judges is refused before anything is touched.</param>
    /// <exception cref="ConfigurationException">The configuration or a robot list is invalid.</exception>
    public static async Task<TallyRuntime> OpenAsync(RuntimeOptions options, bool setup = true, Action<TallySchema>? check = null, CancellationToken cancellationToken = default)
    {
        var tallyOptions = TallyConfiguration.Load(options.ConfigPath);
        var adminKey = options.AdminKey ?? (options.Demo ? LoadOrCreateDemoKey(options.DataDirectory) : null);
        if (adminKey is not null) tallyOptions.ApiKeys.Add(new ApiKeyOptions { Name = options.Demo ? "demo" : "admin", Key = adminKey, Role = "admin" });
        if (options.Demo && tallyOptions.Counter.Institutions.Count == 0) tallyOptions.Counter.Institutions.AddRange(DemoGenerator.Institutions);
        var schema = TallySchema.Compile(tallyOptions);
        var robots = TallyConfiguration.LoadRobots(tallyOptions);
        var geo = TallyConfiguration.LoadGeo(tallyOptions);
        if ((options.Role is ServerRole.Ingest or ServerRole.Worker) && tallyOptions.Queue.Uri is null)
            throw new ConfigurationException("queue.uri", $"is required for --role {options.Role.ToString().ToLowerInvariant()}: ingest nodes hand events to workers through RabbitMQ");
        check?.Invoke(schema);
        var location = options.Store is { } store ? StoreLocation.Parse(store, "--store") : StoreLocation.FromOptions(tallyOptions.Storage, options.DataDirectory);
        var opened = await StoreFactory.OpenAsync(location, options.Store is null ? "storage" : "--store", cancellationToken);
        try
        {
            // Ingest nodes only queue events; the workers set storage up.
            if (setup && options.Role != ServerRole.Ingest) await opened.SetupAsync(schema, cancellationToken);
            return new TallyRuntime(options, schema, opened, location, robots, geo, adminKey);
        }
        catch
        {
            await opened.DisposeAsync();
            throw;
        }
    }

    private static string LoadOrCreateDemoKey(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, DemoKeyFile);
        if (File.Exists(path)) return File.ReadAllText(path).Trim();
        var key = "demo-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        // Readable by its owner only from the moment it exists: an admin key is a password.
        var access = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) access.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new StreamWriter(path, access)) file.Write(key);
        return key;
    }

    public async ValueTask DisposeAsync()
    {
        if (Queue is not null) await Queue.DisposeAsync();
        await Writer.DisposeAsync();
        Aggregator.Dispose();
        Items.Dispose();
        await Store.DisposeAsync();
    }
}

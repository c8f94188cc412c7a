using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tally.Core.Accept;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Ingest;
using Tally.Core.Process;
using Tally.Core.Query;
using Tally.Core.Query.Sushi;
using Tally.Core.Retention;
using Tally.Core.Store;
using Tally.Hosting.Demo;
using Tally.Queue;
using Tally.Queue.Inbox;
using Tally.Sources.Amqp;
using Tally.Sources.Logs;

namespace Tally.Hosting;

/// <param name="AdminKey">An admin API key to accept besides the configured ones (tests, bench); --demo makes one and keeps it in the data folder.</param>
/// <param name="Store">"engine:connection" overriding the configured storage (--store).</param>
public sealed record TallyHostOptions(
    string DataDirectory, string? ConfigPath, bool Demo = false, string? AdminKey = null, string? Store = null, ServerRole Role = ServerRole.All);

/// <summary>
/// Everything one Tally process works with, registered once for dependency injection: configuration,
/// store, pipeline, ingest, aggregation, queries and sources. The CLI resolves what a command needs;
/// the server registers the same services in its web host, and its endpoints receive them by injection.
/// </summary>
public static class TallyServices
{
    public const string DemoKeyFile = "demo-api-key";

    /// <summary>
    /// Loads and validates configuration, opens the store and (unless told not to) sets it up, then registers
    /// the services over them. The container owns the store from then on: it is disposed with the container.
    /// </summary>
    /// <param name="check">Runs once the configuration is valid and before the store is opened, so that a caller's input the configuration judges is refused before anything is touched.</param>
    /// <returns>The configuration the services were registered for.</returns>
    /// <exception cref="ConfigurationException">The configuration or a robot list is invalid, or the store cannot be opened.</exception>
    public static async Task<TallySchema> AddTallyAsync(
        this IServiceCollection services, TallyHostOptions options, bool setup = true, Action<TallySchema>? check = null, CancellationToken cancellationToken = default)
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
        var clock = TimeProvider.System;
        var parser = new EventParser(schema, clock);
        // Compiled up front, so that a mistake in sources.* stops the start instead of a later job.
        var sources = tallyOptions.Sources;
        if (sources.Pkp.Directory is not null) PkpLogFormat.Create(schema, parser);
        var bus = sources.Amqp.Uri is not null ? BusRouting.Compile(schema, parser) : null;
        check?.Invoke(schema);

        var location = StoreFactory.Configured(options.Store, tallyOptions.Storage, options.DataDirectory);
        var opened = await StoreFactory.OpenAsync(location, options.Store is null ? "storage" : "--store", tallyOptions.Storage, cancellationToken);
        try
        {
            // Ingest nodes only queue events; the workers set storage up.
            if (setup && options.Role != ServerRole.Ingest) await opened.SetupAsync(schema, cancellationToken);
        }
        catch
        {
            await opened.DisposeAsync();
            throw;
        }

        services.AddSingleton(options with { AdminKey = adminKey });
        services.AddSingleton(schema);
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton(location);
        services.AddSingleton(robots);
        services.AddSingleton(geo);
        services.AddSingleton(parser);
        // A factory, not an instance: the container disposes what it made, not what it was given.
        services.AddSingleton(_ => opened);
        AddRoles(services, opened);
        services.AddSingleton(_ => new EventPipelineFactory(schema, robots.Matcher, geo));
        services.AddSingleton(provider => provider.GetRequiredService<EventPipelineFactory>().For(provider.GetRequiredService<ISaltStore>()));
        services.AddSingleton<GroupCommitWriter>();
        if (options.Role == ServerRole.Ingest) services.AddSingleton<IEventHandOff>(_ => new EventQueuePublisher(tallyOptions.Queue));
        services.AddSingleton<IngestService>();
        services.AddSingleton<ItemCatalog>();
        services.AddSingleton<Aggregator>();
        services.AddSingleton<SushiService>();
        services.AddSingleton<StatsService>();
        services.AddSingleton<StatsTables>();
        services.AddSingleton<SavedQueryCatalog>();
        services.AddSingleton<RetentionService>();
        services.AddSingleton<LogImports>();
        services.AddSingleton<DemoData>();
        if (sources.Pkp.Directory is { } pkpDirectory)
            services.AddSingleton(provider => provider.GetRequiredService<LogImports>().PkpLoader(pkpDirectory));
        if (bus is not null) services.AddSingleton(bus);
        return schema;
    }

    /// <summary>
    /// Each role of the store on its own, so that a service asks only for what it uses. Instances, not factories: the
    /// container disposes the store once, through its <see cref="IEventStore"/> registration.
    /// </summary>
    private static void AddRoles(IServiceCollection services, IEventStore store)
    {
        services.AddSingleton<IStoreSetup>(store);
        services.AddSingleton<IEventWriter>(store);
        services.AddSingleton<IRawEventReader>(store);
        services.AddSingleton<IAggregationQueue>(store);
        services.AddSingleton<IMetricStore>(store);
        services.AddSingleton(store.Computer);
        services.AddSingleton<IItemStore>(store);
        services.AddSingleton<IPartitionStore>(store);
        services.AddSingleton<ISaltStore>(store);
        services.AddSingleton<ISettingStore>(store);
        services.AddSingleton<ISavedQueryStore>(store);
    }

    /// <summary>The services of <see cref="AddTallyAsync"/> in a container of their own, as a CLI command uses them.</summary>
    /// <exception cref="ConfigurationException">As <see cref="AddTallyAsync"/>.</exception>
    public static async Task<ServiceProvider> OpenAsync(
        TallyHostOptions options, bool setup = true, Action<TallySchema>? check = null, CancellationToken cancellationToken = default)
    {
        var services = new ServiceCollection();
        await services.AddTallyAsync(options, setup, check, cancellationToken);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        // Resolved now, so that the container owns and disposes the store even where no service asks for it.
        provider.GetRequiredService<IEventStore>();
        if (options.Role == ServerRole.All)
        {
            try
            {
                // What a server acknowledged and had not stored when it was killed is stored before the command reads.
                await EventInbox.StoreLeftOverAsync(options.DataDirectory, provider.GetRequiredService<TallySchema>(), provider.GetRequiredService<IEventWriter>(),
                    provider.GetService<ILoggerFactory>()?.CreateLogger<EventInbox>() ?? NullLogger<EventInbox>.Instance, cancellationToken);
            }
            catch
            {
                await provider.DisposeAsync();
                throw;
            }
        }
        return provider;
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
}

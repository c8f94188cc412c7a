using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Core.Aggregate;
using Tally.Core.Configuration;
using Tally.Core.Ingest;
using Tally.Core.Query.Sushi;
using Tally.Core.Store;
using Tally.Hosting;
using Tally.Queue.Inbox;
using Tally.Server.Api;
using Tally.Server.Dashboard;
using Tally.Server.Live;

namespace Tally.Server.Hosting;

/// <summary>
/// Builds the web host for a role over Tally's services: the HTTP API, plus (on workers) scheduled jobs and
/// the queue and bus consumers, and demo traffic. The host's container owns the store.
/// </summary>
public static class TallyServer
{
    /// <exception cref="ConfigurationException">As <see cref="TallyServices.AddTallyAsync"/>.</exception>
    public static async Task<WebApplication> BuildAsync(TallyHostOptions options, string urls, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Tally" });
        builder.WebHost.UseUrls(urls);
        // The ingest endpoint enforces its own configurable limit and answers with a problem, not a reset.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = null);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        var services = builder.Services;
        var schema = await services.AddTallyAsync(options, cancellationToken: cancellationToken);
        AddLiveFeed(services);
        AddReportCache(services);
        services.AddProblemDetails();
        services.AddRequestBounds(schema);
        services.AddOpenApi();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = null);
        AddBackgroundWork(services, options, schema);
        if (options.Role == ServerRole.All) AddInbox(services, options.DataDirectory);

        var app = builder.Build();
        // Resolved now, so that the container owns and disposes the store even where no service asks for it, and a
        // data folder another process serves is refused before this one listens.
        app.Services.GetRequiredService<IEventStore>();
        if (options.Role == ServerRole.All) app.Services.GetRequiredService<EventInbox>();
        MapEndpoints(app, options.Role);
        return app;
    }

    /// <summary>The dashboard's live feed hears of what ingest stores and when aggregation runs.</summary>
    private static void AddLiveFeed(IServiceCollection services)
    {
        services.AddSingleton<UsageFeed>();
        services.AddSingleton<IStoredEventsObserver>(provider => provider.GetRequiredService<UsageFeed>());
        services.AddSingleton<IAggregationObserver>(provider => provider.GetRequiredService<UsageFeed>());
    }

    /// <summary>Reports of closed months are kept whole; aggregation here frees those it recomputed at once.</summary>
    private static void AddReportCache(IServiceCollection services)
    {
        const long reportCacheBytes = 256L << 20;
        services.AddSingleton(provider => new SushiReportCache(provider.GetRequiredService<ISettingStore>(), reportCacheBytes));
        services.AddSingleton<IAggregationObserver>(provider => provider.GetRequiredService<SushiReportCache>());
    }

    private static void AddBackgroundWork(IServiceCollection services, TallyHostOptions options, TallySchema schema)
    {
        if (options.Role.Works())
        {
            services.AddHostedService<ScheduledJobs>();
            if (schema.Options.Sources.Amqp.Uri is not null) services.AddHostedService<BusConsumer>();
            if (schema.Options.Queue.Uri is not null) services.AddHostedService<QueueWorker>();
        }
        else if (options.Role.Queries()) services.AddHostedService<AggregationWatcher>();
        if (options.Demo) services.AddHostedService<DemoTraffic>();
    }

    /// <summary>
    /// Requests are answered once their events are in the data folder's inbox; a worker stores them from there in large
    /// batches. Raw reads and aggregation first wait for what was acknowledged before them, so a 202 is visible to both.
    /// </summary>
    private static void AddInbox(IServiceCollection services, string dataDirectory)
    {
        services.AddSingleton(provider => EventInbox.Open(dataDirectory, provider.GetRequiredService<TallySchema>(), provider.GetRequiredService<ILogger<EventInbox>>()));
        services.AddSingleton<IEventHandOff>(provider => provider.GetRequiredService<EventInbox>());
        services.Replace(ServiceDescriptor.Singleton<IRawEventReader>(provider =>
            new InboxFirstReader(provider.GetRequiredService<IEventStore>(), provider.GetRequiredService<EventInbox>())));
        services.Replace(ServiceDescriptor.Singleton<IAggregationQueue>(provider =>
            new InboxFirstAggregationQueue(provider.GetRequiredService<IEventStore>(), provider.GetRequiredService<EventInbox>())));
        services.AddHostedService<InboxWorker>();
    }

    private static void MapEndpoints(WebApplication app, ServerRole role)
    {
        app.UseRequestBounds();
        app.MapOpenApi();
        app.MapHealthEndpoint(role);
        if (role.Accepts()) app.MapPostEventsEndpoint();
        if (!role.Queries()) return;
        app.MapGetEventsEndpoint();
        app.MapStatsEndpoints();
        app.MapAdminEndpoints();
        app.MapItemsEndpoints();
        app.MapSushiEndpoints();
        app.MapLiveEndpoint();
        app.MapSavedQueryEndpoints();
        app.MapDashboard();
    }
}

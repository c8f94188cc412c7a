using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tally.Server.Api;
using Tally.Server.Dashboard;
using Tally.Server.Demo;
using Tally.Server.Runtime;

namespace Tally.Server.Hosting;

/// <summary>
/// Builds the web host for the runtime's role: the HTTP API, plus (on workers) scheduled jobs and the
/// queue and bus consumers, and demo traffic.
/// </summary>
public static class TallyServer
{
    public static WebApplication Build(TallyRuntime runtime, string urls)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Tally" });
        builder.WebHost.UseUrls(urls);
        // The ingest endpoint enforces its own configurable limit and answers with a problem, not a reset.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = null);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Services.AddSingleton(runtime);
        builder.Services.AddProblemDetails();
        builder.Services.AddRequestBounds(runtime.Schema);
        builder.Services.AddOpenApi();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = null);
        var role = runtime.Options.Role;
        if (role.Works())
        {
            builder.Services.AddHostedService<ScheduledJobs>();
            if (runtime.Bus is not null) builder.Services.AddHostedService<BusConsumer>();
            if (runtime.Schema.Options.Queue.Uri is not null) builder.Services.AddHostedService<QueueWorker>();
        }
        else if (role.Queries()) builder.Services.AddHostedService<AggregationWatcher>();
        if (runtime.Options.Demo) builder.Services.AddHostedService<DemoTraffic>();

        var app = builder.Build();
        app.UseRequestBounds();
        app.MapOpenApi();
        app.MapHealthEndpoint(runtime);
        if (role.Accepts()) app.MapPostEventsEndpoint(runtime);
        if (!role.Queries()) return app;
        app.MapGetEventsEndpoint(runtime);
        app.MapStatsEndpoints(runtime);
        app.MapAdminEndpoints(runtime);
        app.MapItemsEndpoints(runtime);
        app.MapSushiEndpoints(runtime);
        app.MapLiveEndpoint(runtime);
        app.MapSavedQueryEndpoints(runtime);
        app.MapDashboard();
        return app;
    }
}

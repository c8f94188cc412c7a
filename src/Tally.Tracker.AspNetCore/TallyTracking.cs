using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tally.Tracker.AspNetCore;

/// <summary>How <see cref="TallyTracking.AddTallyTracking"/> reads its configuration and fills each request's context.</summary>
public sealed class TallyTrackingOptions
{
    /// <summary>The configuration section holding the routing tree.</summary>
    public string SectionName { get; set; } = "Tracking";

    /// <summary>The name of the context each request enters.</summary>
    public string ContextName { get; set; } = "request";

    /// <summary>The user's id: by default the NameIdentifier claim, else the identity's name (after UseAuthentication).</summary>
    public Func<HttpContext, string?> UserId { get; set; } = context =>
        context.User.Identity?.IsAuthenticated == true ? context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? context.User.Identity.Name : null;

    /// <summary>The session's id: by default ASP.NET Core's session, when UseSession runs before.</summary>
    public Func<HttpContext, string?> SessionId { get; set; } = context => context.Features.Get<ISessionFeature>()?.Session?.Id;

    /// <summary>
    /// How long stopping the host waits for events to be delivered. Past it the host goes on stopping:
    /// what is buffered is still handed to the backends when the host is disposed, and the HTTP backend
    /// keeps what Tally has not taken in its spool, so a platform's grace period (30 s on Kubernetes) is not spent waiting for an absent Tally.
    /// </summary>
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Adds an application's own backend and processor types before the tree is built.</summary>
    public Action<TrackerBackendFactory>? ConfigureFactory { get; set; }
}

public static class TallyTracking
{
    /// <summary>
    /// Registers a <see cref="Tracker"/> whose routing tree is built from the configuration section
    /// (see <see cref="TrackerBackendFactory"/>), behind an asynchronous buffer so emitting never waits on
    /// I/O. The tree is built when the host starts, so a configuration mistake stops the start with a
    /// message naming the setting; it is flushed when the host stops.
    /// </summary>
    public static IServiceCollection AddTallyTracking(this IServiceCollection services, IConfiguration configuration, Action<TallyTrackingOptions>? configure = null)
    {
        var options = new TallyTrackingOptions();
        configure?.Invoke(options);
        services.AddSingleton(options);
        services.AddSingleton(provider =>
        {
            var factory = new TrackerBackendFactory(
                provider.GetService<ILoggerFactory>(), provider.GetService<TimeProvider>(), provider.GetService<IHostEnvironment>()?.ContentRootPath);
            options.ConfigureFactory?.Invoke(factory);
            return factory.BuildAsynchronous(configuration.GetSection(options.SectionName));
        });
        services.AddSingleton(provider => new Tracker(
            provider.GetRequiredService<AsyncRoutingBackend>(), provider.GetService<TimeProvider>(), provider.GetService<ILoggerFactory>()?.CreateLogger<Tracker>()));
        services.AddHostedService<TrackingLifetime>();
        return services;
    }

    /// <summary>Each request runs inside a context with its user id, session id, ip, user agent, url and referrer. Place it after UseAuthentication and UseSession.</summary>
    public static IApplicationBuilder UseTallyTracking(this IApplicationBuilder app) => app.UseMiddleware<RequestContextMiddleware>();
}

/// <summary>Enters the request context around the rest of the pipeline; leaving it restores whatever was in force before.</summary>
internal sealed class RequestContextMiddleware(RequestDelegate next, Tracker tracker, TallyTrackingOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        using var scope = tracker.Context(options.ContextName, Values(context));
        await next(context);
    }

    private Dictionary<string, object?> Values(HttpContext context)
    {
        var request = context.Request;
        var ip = context.Connection.RemoteIpAddress;
        (string Key, string? Value)[] values =
        [
            ("user_id", options.UserId(context)),
            ("session_id", options.SessionId(context)),
            ("ip", (ip is { IsIPv4MappedToIPv6: true } ? ip.MapToIPv4() : ip)?.ToString()),
            ("user_agent", request.Headers.UserAgent is { Count: > 0 } agent ? agent.ToString() : null),
            ("url", request.GetDisplayUrl()),
            ("referrer", request.Headers.Referer is { Count: > 0 } referrer ? referrer.ToString() : null),
        ];
        var result = new Dictionary<string, object?>(values.Length, StringComparer.Ordinal);
        foreach (var (key, value) in values)
        {
            if (!string.IsNullOrEmpty(value)) result[key] = value;
        }
        return result;
    }
}

/// <summary>Builds the routing tree at start (so mistakes show then) and flushes it when the host stops.</summary>
internal sealed class TrackingLifetime(AsyncRoutingBackend backend, TallyTrackingOptions options, ILogger<TrackingLifetime> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Flushes for up to <see cref="TallyTrackingOptions.FlushTimeout"/>; the container's disposal then hands on what requests still emitted.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.FlushTimeout);
        try
        {
            await backend.FlushAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("Tracking did not finish flushing within {Timeout}; backends with a spool keep what is undelivered for the next start", options.FlushTimeout);
        }
    }
}

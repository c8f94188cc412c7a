using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Configuration;
using Tally.Core.Query;
using Tally.Core.Query.Sushi;
using Tally.Server.Api;

namespace Tally.Server.Hosting;

/// <summary>
/// The rule that every request does bounded work: a time budget (limits.requestTimeoutSeconds) on top of
/// the client's own disconnect, a rate limit on anonymous reads, and client errors (broken bodies, bad
/// parameters) answered as 4xx problems wherever they surface.
/// </summary>
public static class RequestBounds
{
    public static void AddRequestBounds(this IServiceCollection services, TallySchema schema)
    {
        var limits = schema.Options.Limits;
        services.AddExceptionHandler<ClientErrorHandler>();
        services.AddRequestTimeouts(timeouts => timeouts.DefaultPolicy = new RequestTimeoutPolicy
        {
            Timeout = TimeSpan.FromSeconds(limits.RequestTimeoutSeconds),
            TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
            WriteTimeoutResponse = context => WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "Over the time budget",
                $"The request took longer than {limits.RequestTimeoutSeconds} s (limits.requestTimeoutSeconds) and was stopped; ask for less at once."),
        });
        services.AddRateLimiter(rates =>
        {
            rates.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context => limits.AnonymousRequestsPerMinute > 0 && IsAnonymousRead(context, schema)
                ? RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = limits.AnonymousRequestsPerMinute, Window = TimeSpan.FromMinutes(1) })
                : RateLimitPartition.GetNoLimiter(""));
            rates.OnRejected = (rejected, _) => RejectAsync(rejected.HttpContext, rejected.Lease, limits.AnonymousRequestsPerMinute);
        });
    }

    public static void UseRequestBounds(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRateLimiter();
        app.UseRequestTimeouts();
    }

    /// <summary>API and SUSHI requests without a known key; the dashboard's files and /healthz are never limited.</summary>
    private static bool IsAnonymousRead(HttpContext context, TallySchema schema)
    {
        var path = context.Request.Path;
        if (!path.StartsWithSegments("/api") && !path.StartsWithSegments("/r51")) return false;
        if (ApiKeyFilter.BearerKey(context.Request) is { } key && schema.ApiKeys.ContainsKey(key)) return false;
        return !(context.Request.Query["api_key"] is [{ } sushiKey] && schema.Options.Counter.Credentials.Any(c => c.ApiKey == sushiKey));
    }

    private static async ValueTask RejectAsync(HttpContext context, RateLimitLease lease, int perMinute)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? (int)Math.Ceiling(wait.TotalSeconds) : 60;
        context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var detail = $"More than {perMinute} requests a minute came from this address without an API key (limits.anonymousRequestsPerMinute); retry after {retryAfter} s, or send a key.";
        if (context.Request.Path.StartsWithSegments("/r51"))
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            await context.Response.WriteAsJsonAsync(SushiReportBuilder.ExceptionJson(new SushiError(1020, "Client has made too many requests", detail)));
            return;
        }
        await WriteProblemAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests", detail);
    }

    private static Task WriteProblemAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = { Status = status, Title = title, Detail = detail } }).AsTask();
    }

    /// <summary>
    /// Client errors that surface as exceptions, wherever they are thrown (a body reader, a parameter
    /// parser), answered as the problems they are instead of 500s.
    /// </summary>
    private sealed class ClientErrorHandler : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            var problem = exception switch
            {
                BodyProblemException e => Problems.Field(e.Field, e.Message, e.Status),
                QueryParameterException e => Problems.Field(e.Parameter, e.Problem),
                BadHttpRequestException e => Problems.Field("request", "could not be read: its framing, length or headers are broken", e.StatusCode),
                _ => null,
            };
            if (problem is null) return false;
            await problem.ExecuteAsync(context);
            return true;
        }
    }
}

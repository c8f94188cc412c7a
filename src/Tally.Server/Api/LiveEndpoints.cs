using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Tally.Core.Live;
using Tally.Server.Runtime;

namespace Tally.Server.Api;

/// <summary>Server-sent events of usage as it is stored and aggregated, for live views such as the dashboard.</summary>
public static class LiveEndpoints
{
    /// <summary>Updates are gathered for this long, so a busy site sends a few messages a second, not one per event.</summary>
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(250);
    /// <summary>Keeps proxies from closing a quiet stream, and lets a client see that the server is there.</summary>
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static void MapLiveEndpoint(this IEndpointRouteBuilder app, TallyRuntime runtime) =>
        app.MapGet("/api/v1/live", (HttpContext context, IHostApplicationLifetime lifetime) =>
            {
                context.Response.Headers["X-Accel-Buffering"] = "no";
                // Ends when the client goes or the server stops, so an open dashboard cannot hold up a shutdown.
                var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
                context.Response.RegisterForDispose(ending);
                return TypedResults.ServerSentEvents(StreamAsync(runtime, ending.Token));
            })
            .WithName("Live")
            .WithSummary("text/event-stream: 'hello' {today}; 'stored' {counts: [{type, date, events, robots}]} as events are stored by this process " +
                         "(events: by people, as the metrics count them); 'aggregated' {days, events} when a run changed metrics, after which " +
                         "'stored' repeats what arrived during the run; 'ping' every 15 s.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(TallyRuntime runtime, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var subscription = runtime.Feed.Subscribe();
        var today = DateOnly.FromDateTime(runtime.Clock.GetUtcNow().UtcDateTime);
        yield return Item("hello", new { today = Day(today) });
        Task<FeedUpdate>? next = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            next ??= subscription.NextAsync(cancellationToken);
            if (await Task.WhenAny(next, Task.Delay(KeepAlive, cancellationToken)) != next)
            {
                if (!cancellationToken.IsCancellationRequested) yield return Item("ping", new { today = Day(DateOnly.FromDateTime(runtime.Clock.GetUtcNow().UtcDateTime)) });
                continue;
            }
            var update = await next;
            next = null;
            if (update.Aggregated is { } run) yield return Item("aggregated", new { days = run.Days, events = run.Events });
            if (update.Stored.Count > 0)
                yield return Item("stored", new { counts = update.Stored.Select(c => new { type = c.Type, date = Day(c.Date), events = c.Events, robots = c.Robots }) });
            await Task.Delay(Gather, cancellationToken);
        }
    }

    private static SseItem<string> Item(string name, object data) => new(JsonSerializer.Serialize(data), name);

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Tally.Server.Live;

namespace Tally.Server.Api;

/// <summary>Server-sent events of usage as it is stored and aggregated, for live views such as the dashboard.</summary>
public static class LiveEndpoints
{
    /// <summary>Updates are gathered for this long, so a busy site sends a few messages a second, not one per event.</summary>
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(250);
    /// <summary>Keeps proxies from closing a quiet stream, and lets a client see that the server is there.</summary>
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static void MapLiveEndpoint(this IEndpointRouteBuilder app) =>
        app.MapGet("/api/v1/live", (HttpContext context, UsageFeed feed, TimeProvider clock, IHostApplicationLifetime lifetime) =>
            {
                context.Response.Headers["X-Accel-Buffering"] = "no";
                // Ends when the client goes or the server stops, so an open dashboard cannot hold up a shutdown.
                var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
                context.Response.RegisterForDispose(ending);
                return TypedResults.ServerSentEvents(StreamAsync(feed, clock, ending.Token));
            })
            .WithName("Live")
            .WithSummary("text/event-stream: 'hello' {today}; 'stored' {counts: [{type, date, events, robots}]} as events are stored by this process " +
                         "(events: by people, as the metrics count them); 'aggregated' {days, events} when a run changed metrics, after which " +
                         "'stored' repeats what arrived during the run (on a query node, 'aggregated' {last_run} when the store shows a new run); " +
                         "'ping' {today} after 15 s of quiet.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .DisableRequestTimeout();

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(UsageFeed feed, TimeProvider clock, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var subscription = feed.Subscribe();
        yield return Item("hello", new { today = Today(clock) });
        Task<FeedUpdate>? next = null;
        FeedUpdate? update = null;
        while (true)
        {
            try
            {
                if (update is not null) await Task.Delay(Gather, cancellationToken);
                next ??= subscription.NextAsync(cancellationToken);
                update = await next.WaitAsync(KeepAlive, cancellationToken);
                next = null;
            }
            catch (TimeoutException)
            {
                update = null;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The client left or the server is stopping: end the stream quietly.
                yield break;
            }
            if (update is null) yield return Item("ping", new { today = Today(clock) });
            else foreach (var item in Items(update)) yield return item;
        }
    }

    private static IEnumerable<SseItem<string>> Items(FeedUpdate update)
    {
        if (update.Aggregated is { } run) yield return Item("aggregated", new { days = run.Days, events = run.Events });
        else if (update.LastRunElsewhere is { } lastRun) yield return Item("aggregated", new { last_run = lastRun });
        if (update.Stored.Count > 0)
            yield return Item("stored", new { counts = update.Stored.Select(c => new { type = c.Type, date = Day(c.Date), events = c.Events, robots = c.Robots }) });
    }

    private static string Today(TimeProvider clock) => Day(DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime));

    private static SseItem<string> Item(string name, object data) => new(JsonSerializer.Serialize(data), name);

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Tally.Tracker.AspNetCore;

namespace Tally.Tracker.Tests;

/// <summary>A real ASP.NET Core app on loopback with AddTallyTracking and UseTallyTracking.</summary>
public sealed class AspNetCoreTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tally-tracker-web-").FullName;

    private static WebApplication App(string tracking, Action<TallyTrackingOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(tracking)));
        builder.Services.AddTallyTracking(builder.Configuration, configure);
        var app = builder.Build();
        app.UseTallyTracking();
        app.MapGet("/records/{id}", (string id, Tracker tracker) =>
        {
            tracker.Emit("record-view", new Dictionary<string, object?> { ["item_id"] = id });
            return "ok";
        });
        return app;
    }

    private List<JsonElement> Written() =>
        [.. Directory.GetFiles(_directory, "events-*.ndjson").SelectMany(File.ReadAllLines).Select(line => JsonDocument.Parse(line).RootElement)];

    [Fact]
    public async Task Each_request_emits_within_its_own_context_and_stopping_the_host_flushes_what_is_still_buffered()
    {
        var gate = new GatedBackend();
        var app = App($$$"""
            {"Tracking": {
              "Buffer": {"Capacity": 1000, "WhenFull": "Block"},
              "Backends": {"a-gate": {"Type": "Gate"}, "file": {"Type": "File", "Directory": {{{JsonSerializer.Serialize(_directory)}}}}}
            }}
            """, options =>
        {
            options.UserId = context => context.Request.Headers["X-User"].ToString();
            // "a-gate" sorts before "file", so nothing reaches the file until the gate opens, as with a slow network.
            options.ConfigureFactory = factory => factory.AddBackend("Gate", (_, _) => gate);
        });
        await app.StartAsync();
        var url = app.Urls.Single();

        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var statuses = new ConcurrentBag<int>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 100), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, cancellationToken) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/records/r{i}?from=list");
            request.Headers.Add("X-User", $"u{i}");
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("agent", $"{i}"));
            request.Headers.Referrer = new Uri($"https://referrer.example/{i}");
            using var response = await http.SendAsync(request, cancellationToken);
            statuses.Add((int)response.StatusCode);
        });
        Assert.All(statuses, status => Assert.Equal(200, status));
        await gate.Entered;
        Assert.Empty(Written());

        var stopping = app.StopAsync();
        await Task.Delay(300);
        Assert.False(stopping.IsCompleted, "stopping waits for the buffered events");
        gate.Open();
        await stopping;
        await app.DisposeAsync();

        var events = Written();
        Assert.Equal(100, events.Count);
        foreach (var e in events)
        {
            var i = e.GetProperty("item_id").GetString()![1..];
            Assert.Equal("record-view", e.GetProperty("type").GetString());
            Assert.Equal($"u{i}", e.GetProperty("user_id").GetString());
            Assert.Equal($"agent/{i}", e.GetProperty("user_agent").GetString());
            Assert.Equal($"https://referrer.example/{i}", e.GetProperty("referrer").GetString());
            Assert.Equal($"{url}/records/r{i}?from=list", e.GetProperty("url").GetString());
            Assert.Equal("127.0.0.1", e.GetProperty("ip").GetString());
            Assert.False(e.TryGetProperty("session_id", out _), "no session middleware runs, so there is no session id");
        }
        Assert.Equal(100, events.Select(e => e.GetProperty("id").GetString()).Distinct().Count());
    }

    [Fact]
    public async Task A_configuration_mistake_stops_the_start_and_names_the_setting()
    {
        await using var app = App("""{"Tracking": {"Backends": {"tally": {"Type": "Http", "Url": "127.0.0.1:5080"}}}}""");
        var error = await Assert.ThrowsAsync<TrackerConfigurationException>(() => app.StartAsync());
        Assert.Equal("Tracking:Backends:tally:Url must be an absolute http or https URL, not '127.0.0.1:5080'", error.Message);
    }
}

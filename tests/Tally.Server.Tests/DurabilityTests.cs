using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Configuration;
using Tally.Core.Store;
using Tally.Hosting;

namespace Tally.Server.Tests;

/// <summary>What a 202 promises: acknowledged events survive restarts and kills, and retries never count twice.</summary>
public sealed class DurabilityTests
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

    private static string Event(string id, string user) =>
        $$"""{"type":"record-view","id":"{{id}}","item_id":"item-{{id.Length % 7}}","user_id":"{{user}}","user_agent":"{{Browser}}"}""";

    [Fact]
    public async Task A_restart_keeps_events_idempotency_and_the_days_salt()
    {
        var host = await TallyHost.StartAsync();
        await host.PostEventsAsync(Event("e-1", "alice"));
        var before = (await host.GetJsonAsync("/api/v1/events?delta=3600")).GetProperty("raw_messages")[0];

        await using var restarted = await host.RestartAsync();
        using var again = await restarted.PostEventsAsync($"[{Event("e-1", "alice")},{Event("e-2", "alice")}]");
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);

        var events = (await restarted.GetJsonAsync("/api/v1/events?delta=3600&order=asc")).GetProperty("raw_messages");
        Assert.Equal(2, events.GetArrayLength());
        Assert.Equal(before.GetProperty("visitor").GetString(), events[1].GetProperty("visitor").GetString());
    }

    [Fact]
    public async Task Killing_the_server_mid_ingest_loses_nothing_acknowledged_and_retries_count_once()
    {
        var root = TestPaths.NewTempDirectory();
        var data = Path.Combine(root, "data");
        var config = TestConfig.Write(root);
        var acknowledged = new ConcurrentBag<string>();
        var attempted = new ConcurrentDictionary<int, string>();
        var server = await TallyProcess.ServeAsync(root, data, config);
        using (var client = new HttpClient { BaseAddress = new Uri(server.Url) })
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
            var batchNumber = -1;
            using var stop = new CancellationTokenSource();
            var senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var batch = Interlocked.Increment(ref batchNumber);
                    var body = Batch(batch);
                    attempted[batch] = body;
                    try
                    {
                        using var response = await client.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
                        if (response.StatusCode == HttpStatusCode.Accepted)
                            foreach (var id in IdsOf(batch)) acknowledged.Add(id);
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                }
            })).ToList();
            while (acknowledged.Count < 3000) await Task.Delay(20);
            server.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(senders);
        }
        server.Dispose();

        var stored = (await StoredIdsAsync(data, config)).ToHashSet();
        var lost = acknowledged.Where(id => !stored.Contains(id)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged events were lost, e.g. {lost.FirstOrDefault()}");

        // The client retries everything it sent, acknowledged or not; each event must count once.
        using (var restarted = await TallyProcess.ServeAsync(root, data, config))
        using (var client = new HttpClient { BaseAddress = new Uri(restarted.Url) })
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestConfig.WriteKey);
            foreach (var body in attempted.Values)
            {
                using var response = await client.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }
        }
        var final = await StoredIdsAsync(data, config);
        Assert.Equal(attempted.Keys.SelectMany(IdsOf).Order(), final.Order());
        SqliteConnection.ClearAllPools();
        Directory.Delete(root, recursive: true);
    }

    private const int BatchSize = 100;

    private static IEnumerable<string> IdsOf(int batch) => Enumerable.Range(0, BatchSize).Select(i => $"b{batch}-{i}");

    private static string Batch(int batch) => string.Join('\n', IdsOf(batch).Select(id => Event(id, $"user-{batch % 50}")));

    /// <summary>Reads every stored id straight from the SQLite file, as a fresh process would after a crash.</summary>
    private static async Task<List<string>> StoredIdsAsync(string data, string config)
    {
        await using var services = await TallyServices.OpenAsync(new TallyHostOptions(data, config), setup: false);
        var store = services.GetRequiredService<IEventStore>();
        var ids = new List<string>();
        foreach (var type in services.GetRequiredService<TallySchema>().EventTypes.Values)
        {
            await foreach (var e in store.ScanAsync(type, DateTime.MinValue, DateTime.MaxValue.AddDays(-1), [], withExtra: false, CancellationToken.None))
                ids.Add(e.Id);
        }
        return ids;
    }
}

using System.Text.Json;
using System.Text;
using Tally.Amqp;
using Tally.Sources.Amqp;

namespace Tally.Server.Tests.Bus;

/// <summary>serve consuming RabbitMQ as datanommer does: every message stored once, acked after commit, mapped topics counted.</summary>
[Collection(BrokerCollection.Name)]
public sealed class BusTests
{
    private const string Firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
    private const string ViewTopic = "org.example.prod.repository.record-view";

    private static OutgoingMessage View(int n, string? messageId = null) => new(ViewTopic,
        Encoding.UTF8.GetBytes($$"""{"item_id":"item-{{n % 10}}","user_agent":"{{Firefox}}","ip":"192.0.2.{{n % 200}}","user_id":"u{{n}}"}"""),
        messageId ?? $"view-{n}");

    private static async Task PublishAsync(IReadOnlyList<OutgoingMessage> messages)
    {
        await using var publisher = await AmqpPublisher.ConnectAsync(Broker.Uri, "amq.topic", CancellationToken.None);
        foreach (var chunk in messages.Chunk(1000)) await publisher.PublishAsync(chunk, CancellationToken.None);
    }

    private static async Task<long> TotalAsync(HttpClient client, string filter)
    {
        using var response = await client.GetAsync($"/api/v1/events?delta=86400&rows_per_page=1&{filter}");
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("total").GetInt64();
    }

    /// <summary>Every event id of a type, read page by page.</summary>
    private static async Task<List<string>> IdsAsync(HttpClient client, string type)
    {
        var ids = new List<string>();
        for (var page = 1; ; page++)
        {
            using var json = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/events?delta=86400&type={type}&rows_per_page=100&page={page}"));
            var messages = json.RootElement.GetProperty("raw_messages");
            if (messages.GetArrayLength() == 0) return ids;
            ids.AddRange(messages.EnumerateArray().Select(m => m.GetProperty("id").GetString()!));
        }
    }

    private static Task WaitForAsync(Func<Task<bool>> done, string what, int seconds = 90) =>
        Eventually.UntilAsync(done, what, TimeSpan.FromSeconds(seconds));

    [Fact]
    public async Task Messages_are_stored_once_with_topic_category_headers_and_body_and_mapped_topics_are_counted()
    {
        var queue = Broker.NewQueue();
        await using var host = await TallyHost.StartAsync(Broker.Configure(queue));
        await Broker.WaitForConsumersAsync(queue, 1);
        var headers = new Dictionary<string, string> { ["x-origin"] = "repository-7" };
        await PublishAsync(
        [
            View(1), View(2), View(3),
            View(1), View(2), // published twice: the same message ids
            new OutgoingMessage("org.example.prod.wiki.page.edit", Encoding.UTF8.GetBytes("edited the front page"), "wiki-1", Headers: headers),
            new OutgoingMessage(ViewTopic, Encoding.UTF8.GetBytes("""{"user_id":"no item"}"""), "bad-view"),
            new OutgoingMessage("org.example.prod.repository.harvest", Encoding.UTF8.GetBytes("""{"records":12}""")),
        ]);

        var client = host.Client;
        await WaitForAsync(async () => await TotalAsync(client, "type=message") >= 6, "six messages are stored");
        await Broker.WaitForDrainedAsync(queue);
        Assert.Equal(6, await TotalAsync(client, "type=message"));
        Assert.Equal(3, await TotalAsync(client, "type=record-view"));
        Assert.Equal(5, await TotalAsync(client, "type=message&category=repository"));
        Assert.Equal(1, await TotalAsync(client, "type=message&category=wiki"));
        Assert.Equal(4, await TotalAsync(client, $"type=message&topic={ViewTopic}"));

        using var wiki = JsonDocument.Parse(await client.GetStringAsync("/api/v1/events?delta=86400&type=message&category=wiki"));
        var data = wiki.RootElement.GetProperty("raw_messages")[0].GetProperty("data");
        Assert.Equal("org.example.prod.wiki.page.edit", data.GetProperty("topic").GetString());
        Assert.Equal("wiki-1", data.GetProperty("message_id").GetString());
        Assert.Equal("repository-7", data.GetProperty("headers").GetProperty("x-origin").GetString());
        Assert.Equal("edited the front page", data.GetProperty("body").GetString());

        using var views = JsonDocument.Parse(await client.GetStringAsync("/api/v1/events?delta=86400&type=record-view&order=asc"));
        Assert.Equal(["item-1", "item-2", "item-3"], views.RootElement.GetProperty("raw_messages").EnumerateArray()
            .Select(m => m.GetProperty("data").GetProperty("item_id").GetString()).Order());
        // A view sent over the bus is anonymized like one sent over HTTP.
        Assert.All(views.RootElement.GetProperty("raw_messages").EnumerateArray(), m => Assert.False(m.GetProperty("data").TryGetProperty("ip", out _)));
    }

    [Fact]
    public async Task Killing_the_consumer_midway_loses_nothing_and_counts_nothing_twice()
    {
        const int count = 5000;
        var root = TestPaths.NewTempDirectory();
        var data = Path.Combine(root, "data");
        var queue = Broker.NewQueue();
        var config = TestConfig.Write(root, Broker.Configure(queue));
        var first = await TallyProcess.ServeAsync(root, data, config);
        await Broker.WaitForConsumersAsync(queue, 1);
        var publishing = PublishAsync(Enumerable.Range(0, count).Select(n => View(n)).ToList());
        long seen = 0;
        using (var client = new HttpClient { BaseAddress = new Uri(first.Url) })
            await WaitForAsync(async () => (seen = await TotalAsync(client, "type=message")) >= 600, "the first worker stored some messages");
        first.Kill();
        Assert.True(seen < count, "the first worker finished before it was killed, so this run proves nothing");
        first.Dispose();
        await publishing;

        using var second = await TallyProcess.ServeAsync(root, data, config);
        using var check = new HttpClient { BaseAddress = new Uri(second.Url) };
        await WaitForAsync(async () => await TotalAsync(check, "type=message") >= count, "every message is stored");
        await Broker.WaitForDrainedAsync(queue);
        var messages = await IdsAsync(check, "message");
        var views = await IdsAsync(check, "record-view");
        Assert.Equal(count, messages.Count);
        Assert.Equal(count, messages.Distinct().Count());
        Assert.Equal(count, views.Count);
        Assert.Equal(Enumerable.Range(0, count).Select(n => $"amqp:view-{n}/event").Order(), views.Order());
    }

    [Fact]
    public async Task A_broker_restart_while_consuming_loses_nothing_and_counts_nothing_twice()
    {
        const int count = 6000;
        var queue = Broker.NewQueue();
        await using var host = await TallyHost.StartAsync(Broker.Configure(queue));
        await Broker.WaitForConsumersAsync(queue, 1);
        await PublishAsync(Enumerable.Range(0, count).Select(n => View(n)).ToList());
        await WaitForAsync(async () => await TotalAsync(host.Client, "type=message") >= 200, "consuming has begun");

        await Broker.ControlAsync("stop_app");
        await Broker.ControlAsync("start_app");

        await WaitForAsync(async () => await TotalAsync(host.Client, "type=message") >= count, "every message is stored after the restart", seconds: 180);
        await Broker.WaitForDrainedAsync(queue);
        Assert.Equal(count, await TotalAsync(host.Client, "type=message"));
        Assert.Equal(count, await TotalAsync(host.Client, "type=record-view"));
        // The consumer is back on the queue, so messages published now arrive too.
        await Broker.WaitForConsumersAsync(queue, 1);
        await PublishAsync([View(count)]);
        await WaitForAsync(async () => await TotalAsync(host.Client, "type=record-view") == count + 1, "a message after the restart is stored");
    }

    [Fact]
    public async Task Two_workers_on_one_queue_split_the_messages_without_loss_or_duplicates()
    {
        const int count = 4000;
        var queue = Broker.NewQueue();
        var roots = new[] { TestPaths.NewTempDirectory(), TestPaths.NewTempDirectory() };
        var workers = new List<TallyProcess>();
        try
        {
            foreach (var root in roots)
                workers.Add(await TallyProcess.ServeAsync(root, Path.Combine(root, "data"), TestConfig.Write(root, Broker.Configure(queue))));
            await Broker.WaitForConsumersAsync(queue, 2);
            await PublishAsync(Enumerable.Range(0, count).Select(n => View(n)).ToList());

            var clients = workers.Select(w => new HttpClient { BaseAddress = new Uri(w.Url) }).ToList();
            await WaitForAsync(async () => (await Task.WhenAll(clients.Select(c => TotalAsync(c, "type=message")))).Sum() >= count, "the workers stored every message");
            await Broker.WaitForDrainedAsync(queue);
            var shares = await Task.WhenAll(clients.Select(c => IdsAsync(c, "record-view")));
            Assert.All(shares, share => Assert.NotEmpty(share));
            Assert.Empty(shares[0].Intersect(shares[1]));
            Assert.Equal(count, shares[0].Count + shares[1].Count);
            foreach (var client in clients) client.Dispose();
        }
        finally
        {
            foreach (var worker in workers) worker.Dispose();
        }
    }

    [Fact]
    public async Task Serve_keeps_answering_while_the_broker_is_unreachable()
    {
        var root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(root, Broker.Configure(Broker.NewQueue(), uri: "amqp://guest:guest@127.0.0.1:1/"));
        using var server = await TallyProcess.ServeAsync(root, Path.Combine(root, "data"), config);
        using var client = new HttpClient { BaseAddress = new Uri(server.Url) };
        Assert.Equal(0, await TotalAsync(client, "type=message"));
        await WaitForAsync(() => Task.FromResult(server.Output.Contains("reconnecting in", StringComparison.Ordinal)), "serve says it will reconnect", seconds: 30);
    }

    [Fact]
    public async Task A_bus_configuration_mistake_stops_serve_naming_the_setting()
    {
        var root = TestPaths.NewTempDirectory();
        var config = TestConfig.Write(root, c =>
        {
            Broker.Configure(Broker.NewQueue())(c);
            c["sources"]!["amqp"]!["topics"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["topic"] = "org.#", ["type"] = "page-view" });
        });
        var (exit, _, error) = await TallyProcess.RunAsync(root, "serve", "--urls", "http://127.0.0.1:0", "--data", Path.Combine(root, "data"), "--config", config);
        Assert.Equal(2, exit);
        Assert.Contains("sources.amqp.topics[2].type", error);
    }

    [Fact]
    public async Task Publishing_confirms_each_message_and_refuses_clearly_what_the_broker_cannot_take()
    {
        var root = TestPaths.NewTempDirectory();
        var file = Path.Combine(root, "events.ndjson");
        await File.WriteAllTextAsync(file, """
            {"id":"p-1","item_id":"a"}
            not an event
            {"id":"p-2","item_id":"b"}

            """);
        var queue = Broker.NewQueue();
        await using var host = await TallyHost.StartAsync(Broker.Configure(queue));
        await Broker.WaitForConsumersAsync(queue, 1);

        var (exit, output, error) = await TallyProcess.RunAsync(root, "publish", "--amqp", Broker.Uri, "--topic", ViewTopic, file);
        Assert.Equal(1, exit);
        Assert.Contains("2 messages confirmed, 1 lines not sent", output);
        Assert.Contains("events.ndjson:2: not a JSON object", error);
        await WaitForAsync(async () => await TotalAsync(host.Client, "type=record-view") == 2, "both published events are stored");

        (exit, _, error) = await TallyProcess.RunAsync(root, "publish", "--amqp", Broker.Uri, "--exchange", "no-such-exchange", "--topic", ViewTopic, file);
        Assert.Equal(2, exit);
        Assert.Contains("no exchange 'no-such-exchange'", error);

        (exit, _, error) = await TallyProcess.RunAsync(root, "publish", "--amqp", Broker.Uri, "--topic", "nobody.is.bound.here", file);
        Assert.Equal(2, exit);
        Assert.Contains("no queue is bound", error);
    }
}

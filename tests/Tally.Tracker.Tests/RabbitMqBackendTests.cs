using System.Text.Json;
using RabbitMQ.Client;

namespace Tally.Tracker.Tests;

/// <summary>The RabbitMQ backend against the real broker ./test starts.</summary>
public sealed class RabbitMqBackendTests
{
    private static Uri Broker => new(Environment.GetEnvironmentVariable("TALLY_TEST_AMQP_URI")
        ?? throw new InvalidOperationException("TALLY_TEST_AMQP_URI is not set: run the tests with ./test, which starts RabbitMQ"));

    private static TrackerEvent Event(int i) => new(i % 3 == 0 ? "file-download" : "record-view", DateTime.UtcNow,
        new Dictionary<string, object?> { ["user_agent"] = "Firefox" }, new Dictionary<string, object?> { ["item_id"] = $"item-{i}" });

    /// <summary>A topic exchange of its own, and (when <paramref name="bound"/>) a queue taking everything published to it.</summary>
    private static async Task<(IConnection Connection, IChannel Channel, string Exchange, string Queue)> ExchangeAsync(bool bound)
    {
        var connection = await new ConnectionFactory { Uri = Broker }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        var exchange = $"tracker-test-{Guid.NewGuid():N}";
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: false, autoDelete: true);
        var queue = "";
        if (bound)
        {
            queue = (await channel.QueueDeclareAsync(exchange, durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(queue, exchange, "#");
        }
        return (connection, channel, exchange, queue);
    }

    [Fact]
    public async Task Each_event_is_published_persistent_and_confirmed_with_its_id_name_and_tally_line()
    {
        var (connection, channel, exchange, queue) = await ExchangeAsync(bound: true);
        await using var _ = connection;
        var sent = Enumerable.Range(0, 1000).Select(Event).ToList();
        await using (var backend = new RabbitMqBackend(new RabbitMqBackendOptions { Uri = Broker, Exchange = exchange, BatchSize = 64 }))
        {
            foreach (var e in sent) backend.Send(e);
            await backend.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
            // Flushed means confirmed: the broker holds every message before any is read.
            Assert.Equal(1000u, await channel.MessageCountAsync(queue));
        }

        var received = new Dictionary<string, (string RoutingKey, JsonElement Body)>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
        {
            Assert.True(message.BasicProperties.Persistent);
            Assert.Equal("application/json", message.BasicProperties.ContentType);
            received[message.BasicProperties.MessageId!] = (message.RoutingKey, JsonDocument.Parse(message.Body).RootElement.Clone());
        }
        Assert.Equal(sent.Select(e => e.Id).Order(), received.Keys.Order());
        foreach (var e in sent)
        {
            var (routingKey, body) = received[e.Id];
            Assert.Equal(e.Name, routingKey);
            Assert.Equal(e.Name, body.GetProperty("type").GetString());
            Assert.Equal(e.Id, body.GetProperty("id").GetString());
            Assert.Equal(e.Data["item_id"], body.GetProperty("item_id").GetString());
            Assert.Equal("Firefox", body.GetProperty("user_agent").GetString());
        }
    }

    [Fact]
    public async Task Messages_no_queue_takes_are_counted_as_failed_rather_than_retried_for_ever()
    {
        var (connection, _, exchange, _) = await ExchangeAsync(bound: false);
        await using var __ = connection;
        var name = $"unroutable-{Guid.NewGuid():N}";
        using var metrics = new MetricsReader(name);
        await using var backend = new RabbitMqBackend(new RabbitMqBackendOptions { Uri = Broker, Exchange = exchange }, name);
        for (var i = 0; i < 3; i++) backend.Send(Event(i));
        await backend.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, metrics["tally.tracker.failed"]);
    }
}
